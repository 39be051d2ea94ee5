"""--ray ADDRESS: videos cross to the cluster through Ray's object store a chunk at a time, so the
owner never holds a whole video (nor every video) in memory, and the cluster tracks them as ever."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tracemalloc

import pytest
from test_parallel import folders, ray_head  # noqa: F401 (a fixture)

from conftest import REPO, clip_of, run_script
from reid.tracking.cluster import put_in_chunks


def test_a_file_is_read_and_put_a_chunk_at_a_time(tmp_path):
    big = tmp_path / "big.mp4"
    with open(big, "wb") as handle:
        for n in range(48):
            handle.write(hashlib.sha256(str(n).encode()).digest() * 32768)  # 1 MiB each
    received = []

    def put(chunk: bytes) -> int:  # as ray.put: the bytes go elsewhere, a reference comes back
        received.append(hashlib.sha256(chunk).hexdigest())
        return len(received)

    tracemalloc.start()
    try:
        chunks = put_in_chunks(big, put, chunk_bytes=1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunks.parts == list(range(1, 49)) and chunks.name == "big.mp4"
    assert chunks.digest == hashlib.sha256(big.read_bytes()).hexdigest()
    assert peak < 3 * 1024 * 1024  # a chunk or two, never the 48 MiB file


# run in a process of its own, as obj_counting.py would be (Ray reads its token from the environment)
TRACK_ON_CLUSTER = """
import sys
from pathlib import Path
from reid.core.config import TrackingConfig
from reid.core.status import SectionReporter, StatusFile
from reid.tracking.cluster import RayPool
from reid.tracking.run import TrackingRun

address, detector, clip, work = sys.argv[1:]
config = TrackingConfig(model=detector)
pools = []

def pool(videos):
    pools.append(RayPool(config, address, chunk_bytes=64 * 1024))  # several chunks per video
    return pools[-1]

reporter = SectionReporter(StatusFile(Path(work) / "status.json"), "counting", 0)
run = TrackingRun(config, None, Path(work) / "persons", reporter, model_name=detector, show_progress=False, pool=pool)
result = run.run([Path(clip)])
assert result.videos[0].state == "done", result.videos[0].error
assert pools[0].at_once >= 1 and pools[0].copies == {} and pools[0].waiting == []
"""


@pytest.mark.slow
def test_a_cluster_gets_each_video_in_chunks_and_tracks_it_as_a_serial_run(
    ray_head,  # noqa: F811 (the fixture)
    video,
    detector,
    tmp_path,
):
    address, env = ray_head
    clip = clip_of(video, tmp_path / "walk.mp4", 220, 100)
    assert os.path.getsize(clip) > 3 * 64 * 1024
    (tmp_path / "serial").mkdir()
    serial = run_script("obj_counting.py", "--videos", clip, "--model", detector, cwd=tmp_path / "serial")
    assert serial.returncode == 0, serial.stderr
    work = tmp_path / "ray"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", TRACK_ON_CLUSTER, address, str(detector), str(clip), str(work)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got, expected = folders(work / "persons"), folders(tmp_path / "serial" / "persons")
    assert got.keys() == expected.keys() and got
    for key in expected:  # the same crops; only the model's path differs in the metadata
        assert got[key][1] == expected[key][1], key
        assert {k: v for k, v in got[key][0].items() if k != "model"} == {
            k: v for k, v in expected[key][0].items() if k != "model"
        }
    assert json.loads((work / "status.json").read_text())["counting"]["frames_done"] == 100
