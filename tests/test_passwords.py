"""Camera passwords with any character (``/ # ? @ :`` unescaped, as camera apps show them): never in a
label, a file name, an error or a file a run writes, not even as a digest, and still what the camera
gets. The end-to-end run searches everything obj_counting.py wrote and said."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from test_live import VENICE, gstreamer, rtsp  # noqa: F401 (fixtures)

from conftest import _require, run_script
from reid.core.errors import InputError
from reid.tracking.live import LiveReader
from reid.tracking.sources import PASSWORD_ENV, USERINFO_SAFE, parse_source, parse_sources, redact, split_url

# Every character that ends a part of a URL, and the ones FFmpeg or a shell might trip on.
PASSWORD = "Pq7/x#y?z@w:v%!$&'()*+,;= ~"
WRONG = "Wr0ng/p#w?d@x:1"


@pytest.mark.parametrize(
    "url, secret, label, target",
    [
        ("rtsp://admin:pa/ss@cam/live", "pa/ss", "rtsp://admin:***@cam/live", "rtsp://admin:pa%2Fss@cam/live"),
        ("rtsp://admin:pa#ss@cam/live", "pa#ss", "rtsp://admin:***@cam/live", "rtsp://admin:pa%23ss@cam/live"),
        ("rtsp://admin:pa?ss@cam/live", "pa?ss", "rtsp://admin:***@cam/live", "rtsp://admin:pa%3Fss@cam/live"),
        ("rtsp://admin:p@ss@cam/live", "p@ss", "rtsp://admin:***@cam/live", "rtsp://admin:p%40ss@cam/live"),
        ("rtsp://admin:p:ss@cam/live", "p:ss", "rtsp://admin:***@cam/live", "rtsp://admin:p%3Ass@cam/live"),
        ("rtsp://admin:pa%2Fss@cam/live", "pa/ss", "rtsp://admin:***@cam/live", "rtsp://admin:pa%2Fss@cam/live"),
        # digits first read as a port to a plain URL parser: host "admin:1234", path "/56@cam:8554/s"
        ("rtsp://admin:1234/56@cam:8554/s?c=1", "1234/56", "rtsp://admin:***@cam:8554/s?c=1", None),
        (
            "RTSP://admin:a/b#c?d@e:f@192.168.1.5:554/Streaming/101?x=1#frag",
            "a/b#c?d@e:f",
            "RTSP://admin:***@192.168.1.5:554/Streaming/101?x=1#frag",
            "RTSP://admin:a%2Fb%23c%3Fd%40e%3Af@192.168.1.5:554/Streaming/101?x=1#frag",
        ),
        ("rtsp://admin:pa/ss@[fe80::1%25eth0]:554/live", "pa/ss", "rtsp://admin:***@[fe80::1%25eth0]:554/live", None),
        ("rtsp://admin:pa/ss@[::1]/live", "pa/ss", "rtsp://admin:***@[::1]/live", "rtsp://admin:pa%2Fss@[::1]/live"),
        ("http://me@mail.example:pa/ss@cam:8080/v.mjpg", "pa/ss", "http://me%40mail.example:***@cam:8080/v.mjpg", None),
        ("rtsp://:pa/ss@cam", "pa/ss", "rtsp://:***@cam", "rtsp://:pa%2Fss@cam"),
        ("rtsp://admin:@cam/x", "", "rtsp://admin:***@cam/x", "rtsp://admin:@cam/x"),
        # an @ in the path after a password is taken for the password's: hidden too much, never shown
        ("rtsp://admin:pw/x@cam/live@y", "pw/x", "rtsp://admin:***@y", None),
        ("rtsp://cam:554/live@y", "554/live", "rtsp://cam:***@y", None),  # the same shape as 1234/56 above
    ],
)
def test_any_password_is_hidden_and_reaches_ffmpeg_escaped(url, secret, label, target):
    source = parse_source(url)
    assert (source.label, str(source), redact(url)) == (label, label, label)
    assert target is None or source.target == target
    shown = source.label + source.file_stem + repr(source)
    assert secret == "" or (secret not in shown and quote(secret, safe="") not in shown)
    # FFmpeg reads the target as any URL parser does, and decodes the escapes
    assert unquote(urlsplit(source.target).password or "") == (split_url(url).password or "")


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://cam/live",
        "rtsp://admin@cam/live",
        "rtsp://cam/live@x",  # an @ in the path, no user
        "rtsp://admin@cam/live@x",
        "rtsp://cam:554/Streaming/101?user=a&x=1#f",
        "rtsp://[::1]:8554/live",
        "rtsp://[fe80::1%25eth0]/live",
        "http://10.0.0.2:8080/video.mjpg",
    ],
)
def test_urls_without_a_password_are_kept_as_written(url):
    source = parse_source(url)
    assert source.target == source.label == redact(url) == url
    assert source.address.password is None


def test_the_address_digest_ignores_user_and_password():
    one, two, three = (
        parse_source(url) for url in ("rtsp://a:pa/ss@Cam:554/live", "rtsp://b:other@cam:554/live", "rtsp://cam:554/x")
    )
    assert one.address_digest == two.address_digest != three.address_digest
    assert one.address_digest == hashlib.sha256(b"rtsp://cam:554/live").hexdigest()[:16]


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://u:pa/ss@h/x", r"^ftp://u:\*\*\*@h/x: unsupported stream"),
        ("rtsp://u:pa/ss@/live", r"^rtsp://u:\*\*\*@/live names no host"),
        ("rtsp://u:pa/ss@[::1/live", "names no host"),
        ("rtsp:/u:pa/ss@cam/live", r"^a rtsp URL starts with rtsp://"),
        ("RTSP:u:pa/ss@cam/live", r"^a RTSP URL starts with RTSP://"),
    ],
)
def test_a_bad_url_is_one_line_without_its_password(url, message):
    with pytest.raises(InputError, match=message) as error:
        parse_source(url)
    assert "pa/ss" not in str(error.value) and "ss@" not in str(error.value)


def test_credentials_file_and_environment_take_any_password_as_it_is(tmp_path):
    path = tmp_path / "cameras.txt"
    path.write_text(f"[::1]:8554 viewer:{PASSWORD}\ncam.local viewer:%41/b\n", encoding="utf-8")
    first, second = parse_sources(["rtsp://[::1]:8554/live", "rtsp://cam.local/live@x"], path)
    assert first.label == "rtsp://viewer:***@[::1]:8554/live" and unquote(urlsplit(first.target).password) == PASSWORD
    assert (second.target, second.label) == (
        "rtsp://viewer:%2541%2Fb@cam.local/live@x",
        "rtsp://viewer:***@cam.local/live@x",
    )
    source = parse_source("rtsp://viewer@cam/live@x", environ={PASSWORD_ENV: PASSWORD})
    assert source.label == "rtsp://viewer:***@cam/live@x" and unquote(urlsplit(source.target).password) == PASSWORD
    shown = repr([first, second, source])  # a repr may reach a log or a traceback
    assert [s for s in (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD, safe=USERINFO_SAFE)) if s in shown] == []


def test_the_camera_gets_any_password(rtsp, caplog, tmp_path):  # noqa: F811
    server = rtsp(f"cam:{PASSWORD}")
    credentials = tmp_path / "cameras.txt"
    credentials.write_text(f"127.0.0.1:{server.port} cam:{PASSWORD}\n", encoding="utf-8")
    written = server.url(f"cam:{PASSWORD}")  # as a camera app shows it, nothing escaped
    sources = [parse_source(written), *parse_sources([server.url()], credentials)]
    sources.append(parse_source(server.url("cam"), environ={PASSWORD_ENV: PASSWORD}))
    for source in sources:
        with caplog.at_level(logging.DEBUG), LiveReader(source, duration_s=0.5) as reader:
            assert sum(1 for _ in reader) > 0
        assert source.label == server.url("cam:***")
    wrong = LiveReader(parse_source(server.url(f"cam:{WRONG}")), duration_s=0.5)
    with pytest.raises(InputError, match=r"^rtsp://cam:\*\*\*@127.0.0.1:\d+/live cannot be opened") as error, wrong:
        pass
    shown = str(error.value) + caplog.text
    assert [s for s in (PASSWORD, WRONG, quote(PASSWORD, safe=""), quote(WRONG, safe="")) if s in shown] == []


def digests(text: str) -> dict[str, str]:
    """The hex digests a careless run could write for ``text``: any 8 hex digits of them would do to
    test guessed passwords against."""
    data = text.encode()
    found = {name: hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256", "sha512", "blake2b")}
    found["blake2b-16"] = hashlib.blake2b(data, digest_size=16).hexdigest()
    found["blake2s"] = hashlib.blake2s(data).hexdigest()
    return found


def secret_forms(password: str, url: str) -> dict[str, str]:
    """The password and the URL with it, as written and as escaped, and their digests' first 8 digits."""
    escaped = quote(password, safe="")
    texts = {"password": password, "escaped password": escaped, "url": url}
    texts["escaped url"] = parse_source(url).target
    texts["basic auth"] = base64.b64encode(f"cam:{password}".encode()).decode()
    forms = dict(texts)
    for name, text in texts.items():
        forms |= {f"{kind}({name})": digest[:8] for kind, digest in digests(text).items()}
    return forms


def found_in(text: str, forms: dict[str, str]) -> list[str]:
    lowered = text.lower()
    return [name for name, form in forms.items() if form in text or form.lower() in lowered]


@pytest.mark.slow
def test_no_password_in_any_file_or_output_of_a_live_run(rtsp, detector, tmp_path):  # noqa: F811
    server = rtsp(f"cam:{PASSWORD}", clip=_require(VENICE))
    other = rtsp(f"cam:{PASSWORD}")  # another camera (the same URL with another password is the same source)
    good, bad = server.url(f"cam:{PASSWORD}"), other.url(f"cam:{WRONG}")
    forms = secret_forms(PASSWORD, good) | {f"wrong {k}": v for k, v in secret_forms(WRONG, bad).items()}
    args = ["--videos", good, "--videos", bad, "--duration", "8", "--model", detector, "-v"]
    proc = run_script("obj_counting.py", *args, "--save-mot", "mot", "--save-video", "annotated", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr  # the camera with the wrong password failed, the other was tracked
    label = server.url("cam:***")
    assert f"{other.url('cam:***')} cannot be opened" in proc.stdout and "Traceback" not in proc.stderr
    folders = sorted((tmp_path / "persons").glob("id_*"))
    assert folders and all(json.loads((f / "track.json").read_text())["video"] == label for f in folders)
    assert list((tmp_path / "mot").iterdir()) and list((tmp_path / "annotated").iterdir())
    assert (tmp_path / "persons" / ".videos.json").exists()
    found = found_in(proc.stdout + proc.stderr, forms)
    for path in sorted(Path(tmp_path).rglob("*")):  # hidden files too
        content = path.read_bytes().decode("latin-1") if path.is_file() else ""
        found += [f"{path.relative_to(tmp_path)}: {name}" for name in found_in(path.name + "\n" + content, forms)]
    assert found == []
