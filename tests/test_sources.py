"""Parsing ``--videos`` values: paths, stream URLs, webcams, and keeping passwords out of sight."""

from __future__ import annotations

import pytest

from conftest import assert_clean_error, run_script
from reid.core.errors import InputError
from reid.tracking.live import backoff
from reid.tracking.options import parse_args
from reid.tracking.sources import (
    FILE,
    FOLDER,
    PASSWORD_ENV,
    STREAM,
    USER_ENV,
    WEBCAM,
    parse_source,
    parse_sources,
    read_credentials,
    redact,
)
from reid.tracking.videos import find_all_videos, find_videos


@pytest.mark.parametrize(
    "text, kind, target",
    [
        ("rtsp://cam.local:554/stream1", STREAM, "rtsp://cam.local:554/stream1"),
        ("rtsps://cam.local/s", STREAM, "rtsps://cam.local/s"),
        ("http://10.0.0.2:8080/video.mjpg", STREAM, "http://10.0.0.2:8080/video.mjpg"),
        ("HTTPS://cam.example/live.m3u8", STREAM, "HTTPS://cam.example/live.m3u8"),
        ("0", WEBCAM, "0"),
        ("2", WEBCAM, "2"),
    ],
)
def test_urls_keep_their_slashes_and_digits_are_webcams(text, kind, target):
    source = parse_source(text)
    assert (source.kind, source.target, source.is_live) == (kind, target, True)
    assert source.capture_arg == (int(target) if kind == WEBCAM else target)


def test_paths_are_files_or_folders(tmp_path):
    (tmp_path / "clip.webm").write_bytes(b"x")
    assert parse_source(str(tmp_path)).kind == FOLDER
    source = parse_source(str(tmp_path / "clip.webm"))
    assert (source.kind, source.is_live, source.path) == (FILE, False, tmp_path / "clip.webm")


def test_a_folder_named_like_a_digit_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "3").mkdir()
    assert parse_source("3").kind == FOLDER


@pytest.mark.parametrize("suffix", [".m4v", ".webm", ".ts", ".mpg"])
def test_any_container_is_accepted_when_named_directly(tmp_path, suffix):
    path = tmp_path / f"clip{suffix}"
    path.write_bytes(b"x")
    assert find_videos(path) == [path]


@pytest.mark.parametrize(
    "text, fragment",
    [("ftp://host/x", "unsupported stream"), ("rtsp:///nohost", "names no host"), ("  ", "needs a path")],
)
def test_bad_sources_are_one_clear_error(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_source(text)


def test_the_password_is_only_in_the_target():
    source = parse_source("rtsp://admin:pa%40ss:w0rd@192.168.1.5:554/Streaming/101?x=1")
    assert source.label == "rtsp://admin:***@192.168.1.5:554/Streaming/101?x=1"
    assert "w0rd" not in source.label and "w0rd" not in source.file_stem
    assert source.target == "rtsp://admin:pa%40ss%3Aw0rd@192.168.1.5:554/Streaming/101?x=1"
    assert source.file_stem == "192.168.1.5_Streaming_101"


@pytest.mark.parametrize(
    "text", ["rtsp://cam/x", "rtsp://user@cam/x", "/videos/a.mp4", "not a url: secret", "http://[bad"]
)
def test_redact_leaves_text_without_a_password_alone(text):
    assert redact(text) == text


def test_credentials_file_by_host(tmp_path):
    path = tmp_path / "cameras.txt"
    path.write_text("# host user:password\ncam.local:554 viewer:t0p:secret\nother guest:\n", encoding="utf-8")
    assert read_credentials(path) == {"cam.local:554": ("viewer", "t0p:secret"), "other": ("guest", "")}
    first, second, third = parse_sources(
        ["rtsp://cam.local:554/a", "rtsp://cam.local:8554/b", "rtsp://me:mine@cam.local:554/c"], path
    )
    assert first.target == "rtsp://viewer:t0p%3Asecret@cam.local:554/a"
    assert first.label == "rtsp://viewer:***@cam.local:554/a"
    assert second.target == "rtsp://cam.local:8554/b"  # another port: not this entry
    assert third.target == "rtsp://me:mine@cam.local:554/c"  # the URL's own password wins


def test_bad_credentials_file_names_the_line(tmp_path):
    path = tmp_path / "cameras.txt"
    path.write_text("cam.local nopassword\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cameras.txt, line 1: expected 'HOST USER:PASSWORD'"):
        read_credentials(path)
    with pytest.raises(InputError, match="cannot read the credentials file"):
        read_credentials(tmp_path / "missing.txt")


def test_password_from_the_environment():
    environ = {PASSWORD_ENV: "envpass"}
    source = parse_source("rtsp://viewer@cam/x", environ=environ)
    assert (source.target, source.label) == ("rtsp://viewer:envpass@cam/x", "rtsp://viewer:***@cam/x")
    source = parse_source("rtsp://cam/x", environ={**environ, USER_ENV: "admin"})
    assert source.target == "rtsp://admin:envpass@cam/x"
    with pytest.raises(InputError, match=USER_ENV):
        parse_source("rtsp://cam/x", environ=environ)


def test_backoff_doubles_and_is_bounded():
    assert [backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_videos_is_repeatable_and_keeps_urls(tmp_path):
    args = parse_args(["--videos", "a.mp4", "--videos", "rtsp://u:p@cam:554/s", "--videos", "0"])
    assert args.videos == ["a.mp4", "rtsp://u:p@cam:554/s", "0"]
    assert parse_args([]).videos == ["videos"]
    assert parse_args(["--credentials", str(tmp_path / "c.txt")]).credentials == tmp_path / "c.txt"


def test_several_files_and_folders_are_found_once_each(tmp_path):
    for name in ("one/a.mp4", "one/b.mkv", "two/c.mov", "d.m4v"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = find_all_videos([tmp_path / "one", tmp_path / "d.m4v", tmp_path / "two", tmp_path / "one" / "a.mp4"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["one/a.mp4", "one/b.mkv", "d.m4v", "two/c.mov"]


def test_a_camera_that_cannot_be_reached_is_reported_without_its_password(tmp_path, detector):
    url = "rtsp://viewer:Zq9-secret@127.0.0.1:9/live"
    proc = run_script("obj_counting.py", "--videos", url, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "rtsp://viewer:***@127.0.0.1:9/live cannot be opened" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "Error: no video could be processed (see the summary above)"
    status = (tmp_path / "status.json").read_text()
    assert "rtsp://viewer:***@127.0.0.1:9/live" in status
    assert "Zq9-secret" not in proc.stdout + proc.stderr + status and "rtsp:/127" not in proc.stdout + proc.stderr


def test_a_bad_credentials_file_is_one_line(tmp_path):
    (tmp_path / "c.txt").write_text("cam nopassword\n", encoding="utf-8")
    proc = run_script("obj_counting.py", "--videos", "rtsp://cam/x", "--credentials", "c.txt", cwd=tmp_path)
    assert_clean_error(proc, 1, "c.txt, line 1: expected 'HOST USER:PASSWORD'")
