"""Atomic writes and their permissions, in processes with a known umask."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO
from reid.core.files import write_new_file

RACE = textwrap.dedent("""
    import os, sys, threading
    os.umask({umask:#o})
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from reid.core.files import atomic_write_bytes

    root = Path(sys.argv[1])
    stop = threading.Event()

    def write_crops():  # what the tracking stage's writer thread does, crop after crop
        n = 0
        while not stop.is_set():
            atomic_write_bytes(root / "crops" / f"c{{n % 50}}.jpg", b"x" * 100, durable=False)
            n += 1

    (root / "crops").mkdir()
    writer = threading.Thread(target=write_crops)
    writer.start()
    try:
        for i in range(3000):  # while the main thread creates person folders
            (root / f"id_{{i}}").mkdir()
    finally:
        stop.set()
        writer.join()
""")


def _run(code: str, root: Path) -> None:
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_folders_made_while_another_thread_writes_files_keep_the_umask(tmp_path):
    _run(RACE.format(umask=0o022, repo=str(REPO)), tmp_path)
    modes = {p.stat().st_mode & 0o777 for p in tmp_path.glob("id_*")}
    assert modes == {0o755}, sorted(oct(m) for m in modes)  # never 0777, even for a moment
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "crops").iterdir()} == {0o644}


def test_atomic_files_get_what_open_would_give_under_a_strict_umask(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        os.umask(0o077)
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from reid.core.files import atomic_write_json
        atomic_write_json(Path(sys.argv[1]) / "status.json", {{"a": 1}})
        open(Path(sys.argv[1]) / "plain.json", "w").close()
    """)
    _run(code, tmp_path)
    assert (tmp_path / "status.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "plain.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("hard_links", [True, False])
def test_write_new_file_takes_the_first_free_name_and_never_replaces_one(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # as on FAT or exFAT: link() is refused, the exclusive open takes over

        def refused(*args, **kwargs):
            raise PermissionError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", refused)
    (tmp_path / "a.txt").write_text("earlier")
    assert write_new_file(tmp_path, ["a.txt", "b.txt"], b"new") == tmp_path / "b.txt"
    with pytest.raises(FileExistsError):
        write_new_file(tmp_path, ["a.txt", "b.txt"], b"newer")
    assert (tmp_path / "a.txt").read_text() == "earlier" and (tmp_path / "b.txt").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary left
