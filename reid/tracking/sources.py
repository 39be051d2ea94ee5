"""What ``--videos`` names: video files and folders, stream URLs and webcams, and their credentials.

A source is what OpenCV opens (``Source.target``) and what everyone else sees (``Source.label``):
a camera URL's password is only ever in ``target``; logs, status.json, track.json, the registry
and file names get ``label``, where it reads ``rtsp://user:***@host/...``, and the run names the
source by ``address_digest``, a digest of the URL without user and password.

A URL is read as camera apps show it: the password may hold any character, ``/ # ? @ :`` unescaped
included (``split_url``). FFmpeg gets the user and password percent-encoded and decodes them again,
so ``%XX`` in a URL's password is read as an escape (write a literal ``%`` as ``%25``).

The password need not be on the command line (where other users of the machine can read it):
``--credentials FILE`` holds ``host user:password`` lines (``#`` comments), and the environment
variables ``REID_CAMERA_USER`` / ``REID_CAMERA_PASSWORD`` fill in a URL that names no password.
Those are taken as they are, no escapes. A password already in the URL wins.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote

from ..core.errors import InputError

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
PASSWORD_ENV = "REID_CAMERA_PASSWORD"
USER_ENV = "REID_CAMERA_USER"
HIDDEN = "***"

FILE, FOLDER, STREAM, WEBCAM = "file", "folder", "stream", "webcam"

# What a user name or password keeps unescaped for FFmpeg (RFC 3986 sub-delims); the rest is percent-encoded,
# ":" too, so that the only ":" left unescaped is the one between user and password.
USERINFO_SAFE = "!$&'()*+,;="
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
AUTHORITY_END = re.compile(r"[/?#]")
HOST = re.compile(r"(\[[0-9A-Za-z:.%_~-]+\]|[^\s\[\]@:/?#]+)(:[0-9]*)?")  # name, IPv4 or [IPv6], then :port
MISSING_SLASHES = re.compile(rf"({'|'.join(STREAM_SCHEMES)}):(?!//)", re.IGNORECASE)


@dataclass(frozen=True)
class Address:
    """A URL split as cameras write it: ``scheme://[user[:password]@]host[:port][path][?query][#fragment]``.
    ``user`` and ``password`` are decoded (None when absent); ``host`` keeps its port."""

    scheme: str
    host: str
    tail: str  # path, query and fragment, as written
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr that may reach a log

    @property
    def has_host(self) -> bool:
        return HOST.fullmatch(self.host) is not None

    @property
    def hostname(self) -> str:
        """The host in lower case, without port or IPv6 brackets."""
        if self.host.startswith("["):
            return self.host[1:].partition("]")[0].lower()
        return self.host.partition(":")[0].lower()

    @property
    def path(self) -> str:
        return re.split(r"[?#]", self.tail, maxsplit=1)[0]

    @property
    def url(self) -> str:
        """For FFmpeg: user and password percent-encoded, so that no character of theirs ends them."""
        password = None if self.password is None else quote(self.password, safe=USERINFO_SAFE)
        return self._with(password)

    @property
    def label(self) -> str:
        """For everyone else: the password replaced by ``***``."""
        return self._with(None if self.password is None else HIDDEN)

    @property
    def public(self) -> str:
        """No user, no password, scheme and host in lower case: the same camera whatever its credentials."""
        return f"{self.scheme.lower()}://{self.host.lower()}{self.tail}"

    def _with(self, password: str | None) -> str:
        if self.user is None and password is None:
            return f"{self.scheme}://{self.host}{self.tail}"
        userinfo = quote(self.user or "", safe=USERINFO_SAFE) + ("" if password is None else f":{password}")
        return f"{self.scheme}://{userinfo}@{self.host}{self.tail}"


def split_url(text: str) -> Address | None:
    """``text`` as a URL; None when it is not ``scheme://...``. The user information ends at the last
    ``@`` that a host follows, so that a password may hold ``/ # ? @ :`` unescaped; a user name holds
    none of ``/ # ?``. An ``@`` in the path of a URL with a password is therefore taken for part of
    the password: hidden too much, never shown (such an ``@`` must be written ``%40``)."""
    scheme, sep, rest = text.partition("://")
    if not sep or not SCHEME.fullmatch(scheme):
        return None
    ats = [i for i, c in enumerate(rest) if c == "@" and not AUTHORITY_END.search(rest[:i].partition(":")[0])]
    hosted = [i for i in ats if HOST.fullmatch(_authority(rest, i + 1))]
    at = (hosted or ats or [-1])[-1]
    host = _authority(rest, at + 1)
    address = Address(scheme, host, rest[at + 1 + len(host) :])
    if at < 0:
        return address
    user, colon, password = rest[:at].partition(":")
    return replace(address, user=unquote(user), password=unquote(password) if colon else None)


def _authority(rest: str, start: int) -> str:
    end = AUTHORITY_END.search(rest, start)
    return rest[start : end.start() if end else len(rest)]


@dataclass(frozen=True)
class Source:
    kind: str  # FILE, FOLDER, STREAM or WEBCAM
    target: str = field(repr=False)  # what OpenCV opens (a stream's URL with its password, percent-encoded)
    label: str  # what is shown and stored (the password replaced by ***)
    address: Address | None = None  # a stream's URL, split

    def __str__(self) -> str:
        return self.label

    @property
    def is_live(self) -> bool:
        return self.kind in (STREAM, WEBCAM)

    @property
    def path(self) -> Path:
        return Path(self.target)

    @property
    def capture_arg(self) -> str | int:
        """The argument for ``cv2.VideoCapture``: a webcam's index, else the path or URL."""
        return int(self.target) if self.kind == WEBCAM else self.target

    @property
    def address_digest(self) -> str:
        """16 hex digits naming the source in the files a run writes: a stream's URL without user and
        password (the same camera whatever its password, and nothing to test a guessed password on)."""
        text = self.address.public if self.address is not None else self.label
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def file_stem(self) -> str:
        """A file name for things made from this source (annotated copies, MOT files): no password,
        no separators."""
        if not self.is_live:
            return Path(self.target).stem
        text = f"webcam{self.target}" if self.address is None else f"{self.address.hostname}{self.address.path}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_.") or "stream"


def redact(text: str) -> str:
    """``text`` with the password of a URL (``scheme://user:password@host...``) replaced by ``***``;
    any other text unchanged."""
    address = split_url(text)
    return address.label if address is not None and address.password is not None else text


def read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """``host user:password`` lines -> {host: (user, password)}; ``InputError`` naming the bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
    found: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        host, _, secret = line.partition(" ")
        user, colon, password = secret.strip().partition(":")
        if not host or not colon or not user:
            raise InputError(f"{path}, line {number}: expected 'HOST USER:PASSWORD'")
        found[host.lower()] = (user, password)
    return found


def with_credentials(
    address: Address, credentials: Mapping[str, tuple[str, str]], environ: Mapping[str, str]
) -> Address:
    """``address`` with the user and password from ``credentials`` (by host:port, or host) or from the
    environment when it names no password itself."""
    if address.password is not None:
        return address
    found = credentials.get(address.host.lower()) or credentials.get(address.hostname)
    if found is None and environ.get(PASSWORD_ENV):
        found = (address.user or environ.get(USER_ENV, ""), environ[PASSWORD_ENV])
        if not found[0]:
            raise InputError(f"{PASSWORD_ENV} is set but no user: put it in the URL or in {USER_ENV}")
    if found is None:
        return address
    user, password = found
    return replace(address, user=user, password=password)


def parse_source(
    text: str,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Source:
    """One ``--videos`` value: a stream URL, a webcam index, or a path (file or folder)."""
    text = str(text).strip()
    if not text:
        raise InputError("--videos needs a path, a stream URL or a webcam index")
    address = split_url(text)
    if address is not None:
        scheme = address.scheme.lower()
        if scheme not in STREAM_SCHEMES:
            raise InputError(f"{address.label}: unsupported stream ({', '.join(s + '://' for s in STREAM_SCHEMES)})")
        if not address.has_host:
            raise InputError(f"{address.label} names no host (expected {scheme}://[user@]host[:port]/path)")
        address = with_credentials(address, credentials or {}, environ or {})
        return Source(STREAM, address.url, address.label, address)
    missing = MISSING_SLASHES.match(text)
    if missing:  # not shown: it may hold a password
        raise InputError(f"a {missing[1]} URL starts with {missing[1]}:// (scheme://[user@]host[:port]/path)")
    if text.isdigit() and not Path(text).exists():
        return Source(WEBCAM, str(int(text)), f"webcam {int(text)}")
    return Source(FOLDER if Path(text).is_dir() else FILE, text, text)


def parse_sources(
    texts: list[str],
    credentials_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Source]:
    """Every ``--videos`` value, credentials filled in."""
    credentials = read_credentials(credentials_file) if credentials_file else {}
    return [parse_source(text, credentials, environ) for text in texts]
