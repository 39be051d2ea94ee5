"""What ``--videos`` names: video files and folders, stream URLs and webcams, and their credentials.

A source is what OpenCV opens (``Source.target``) and what everyone else sees (``Source.label``):
a camera URL's password is only ever in ``target``; logs, status.json, track.json, the registry
and file names get ``label``, where it reads ``rtsp://user:***@host/...``.

The password need not be on the command line (where other users of the machine can read it):
``--credentials FILE`` holds ``host user:password`` lines (``#`` comments), and the environment
variables ``REID_CAMERA_USER`` / ``REID_CAMERA_PASSWORD`` fill in a URL that names no password.
A password already in the URL wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..core.errors import InputError

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
PASSWORD_ENV = "REID_CAMERA_PASSWORD"
USER_ENV = "REID_CAMERA_USER"
HIDDEN = "***"

FILE, FOLDER, STREAM, WEBCAM = "file", "folder", "stream", "webcam"


@dataclass(frozen=True)
class Source:
    kind: str  # FILE, FOLDER, STREAM or WEBCAM
    target: str  # what OpenCV opens (a stream's URL with its password)
    label: str  # what is shown and stored (the password replaced by ***)

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
    def file_stem(self) -> str:
        """A file name for things made from this source (annotated copies, MOT files): no password,
        no separators."""
        if not self.is_live:
            return Path(self.target).stem
        parts = urlsplit(self.label) if self.kind == STREAM else None
        text = f"webcam{self.target}" if parts is None else f"{parts.hostname or 'stream'}{parts.path}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_.") or "stream"


def redact(text: str) -> str:
    """``text`` with the password of a URL in it replaced by ``***`` (other text unchanged)."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if parts.scheme.lower() not in STREAM_SCHEMES or parts.password is None:
        return text
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{HIDDEN}@{host}"))


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


def with_credentials(url: str, credentials: Mapping[str, tuple[str, str]], environ: Mapping[str, str]) -> str:
    """``url`` with the user and password from ``credentials`` (by host, or host:port) or from the
    environment when it names no password itself."""
    parts = urlsplit(url)
    if parts.password is not None or not parts.hostname:
        return url
    host = parts.netloc.rpartition("@")[2]
    found = credentials.get(host.lower()) or credentials.get(parts.hostname.lower())
    if found is None and environ.get(PASSWORD_ENV):
        found = (parts.username or environ.get(USER_ENV, ""), environ[PASSWORD_ENV])
        if not found[0]:
            raise InputError(f"{PASSWORD_ENV} is set but no user: put it in the URL or in {USER_ENV}")
    if found is None:
        return url
    user, password = found
    netloc = f"{quote(unquote(user), safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def parse_source(
    text: str,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Source:
    """One ``--videos`` value: a stream URL, a webcam index, or a path (file or folder)."""
    text = str(text).strip()
    if not text:
        raise InputError("--videos needs a path, a stream URL or a webcam index")
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in STREAM_SCHEMES:
        if not urlsplit(text).hostname:
            raise InputError(f"{redact(text)} names no host (expected {scheme}://[user@]host[:port]/path)")
        target = with_credentials(text, credentials or {}, environ or {})
        return Source(STREAM, target, redact(target))
    if scheme:
        raise InputError(f"{redact(text)}: unsupported stream ({', '.join(s + '://' for s in STREAM_SCHEMES)})")
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
