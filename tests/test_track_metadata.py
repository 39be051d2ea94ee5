"""track.json read in one place: every stage sees the same tracks, crops and sources in a document,
whether it was written by tracking, by a merge, by an older version or by hand."""

from __future__ import annotations

import json

import pytest

from reid.core import track_metadata as tm
from reid.core.errors import InputError
from reid.matching.folders import appearances_of, scan_folders
from reid.tracking.mot import current_identities
from reid.tracking.registry import folders_holding, folders_of

TRACKED = {
    "person_id": 3,
    "run_id": "r1",
    "video": "/v/a.mp4",
    "video_fingerprint": "fa",
    "segments": [[10, 40]],
    "first_box": [0, 0, 10, 30],
    "last_box": [50, 0, 60, 30],
    "fps": 10.0,
    "complete": True,
    "crops": [
        {"file": "a_f000010.jpg", "frame": 10, "box": [0, 0, 10, 30]},
        {"file": "a_f000040.jpg", "frame": 40, "box": [50, 0, 60, 30], "at_edge": True},
        {"file": "junk.jpg", "frame": "x", "box": "y"},
        "not a crop",
    ],
}
MERGED = {
    "schema": 1,
    "person_id": 3,
    "merged_from": ["id_7"],
    "tracks": [
        {k: v for k, v in TRACKED.items() if k != "crops"},
        {"person_id": 7, "run_id": "r1", "video": "/v/b.mp4", "video_fingerprint": "fb", "segments": [[0, 5]]},
        "junk",
    ],
    "crops": TRACKED["crops"],
}


def test_a_tracked_folder_is_one_track_without_the_folder_fields():
    (track,) = tm.tracks_of({**TRACKED, "schema": 1})
    assert "crops" not in track and "schema" not in track and track["person_id"] == 3
    assert tm.video_fingerprints(TRACKED) == {"fa"} and tm.track_person_ids(TRACKED) == [3]


def test_a_merged_folder_lists_its_tracks_and_skips_what_is_not_one():
    assert [t["person_id"] for t in tm.tracks_of(MERGED)] == [3, 7]
    assert tm.video_fingerprints(MERGED) == {"fa", "fb"} and tm.track_person_ids(MERGED) == [3, 7]
    assert not tm.is_unfinished({**MERGED, "complete": False})  # a merge finishes what it takes


def test_each_crop_knows_its_video():
    assert tm.crop_videos(TRACKED) == dict.fromkeys(["a_f000010.jpg", "a_f000040.jpg", "junk.jpg"], "/v/a.mp4")
    # merged without source folders: by the track whose segments hold the frame; a crop without one is left out
    assert tm.crop_videos(MERGED) == {"a_f000010.jpg": "/v/a.mp4", "a_f000040.jpg": "/v/a.mp4"}
    named = {**MERGED, "crops": [{"file": "x.jpg", "frame": 40, "source_folder": "id_7"}]}
    assert tm.crop_videos(named) == {"x.jpg": "/v/b.mp4"}  # its source folder's track, whatever the frame
    assert tm.crop_videos(None) == {} and tm.crop_videos({"crops": "x"}) == {}


def test_crops_keep_only_entries_that_name_a_file_and_valid_frames_and_boxes():
    assert [c["file"] for c in tm.crops_of(TRACKED)] == ["a_f000010.jpg", "a_f000040.jpg", "junk.jpg"]
    assert tm.crop_frames(TRACKED) == {"a_f000010.jpg": 10, "a_f000040.jpg": 40}
    assert tm.crop_boxes(TRACKED) == {"a_f000010.jpg": (0, 0, 10, 30), "a_f000040.jpg": (50, 0, 60, 30)}
    for broken in (None, {}, {"crops": "x"}, {"tracks": "x"}, {"crops": [None, 3]}):
        assert tm.crops_of(broken) == [] and tm.crop_frames(broken) == {} and tm.crop_boxes(broken) == {}


def test_an_unreadable_or_foreign_document_reads_as_none(tmp_path):
    assert tm.read_track_metadata(tmp_path) is None
    (tmp_path / tm.METADATA_FILENAME).write_text("[1, 2]")
    assert tm.read_track_metadata(tmp_path) is None
    (tmp_path / tm.METADATA_FILENAME).write_text("{broken")
    assert tm.read_track_metadata(tmp_path) is None
    tm.write_track_metadata(tmp_path, {"person_id": 1})
    assert json.loads((tmp_path / tm.METADATA_FILENAME).read_text()) == {"schema": tm.METADATA_SCHEMA, "person_id": 1}


def test_every_stage_reads_a_merged_folder_the_same_way(tmp_path):
    """The registry (which videos a folder holds), the MOT relabelling (which ids it holds) and the
    matching stage (which tracks it holds) agree on one merged document."""
    folder = tmp_path / "id_3"
    folder.mkdir()
    (folder / "a_f000010.jpg").write_bytes(b"jpeg")
    (folder / tm.METADATA_FILENAME).write_text(json.dumps(MERGED))
    assert current_identities(tmp_path) == {3: 3, 7: 3}
    assert [a.video for a in appearances_of(MERGED)] == ["/v/a.mp4", "/v/b.mp4"]
    (scanned,) = scan_folders(tmp_path)
    assert scanned.frames == {"a_f000010.jpg": 10, "a_f000040.jpg": 40}
    assert scanned.boxes["a_f000040.jpg"] == (50, 0, 60, 30)
    with pytest.raises(InputError, match="merged with other folders"):
        folders_of(tmp_path, "fa")  # re-tracking one video cannot replace a folder that holds another's
    assert folders_of(tmp_path, "fz") == []
    # the folders a video's people are in now: what a skipped video's count is taken from
    assert folders_holding(tmp_path, "fa") == folders_holding(tmp_path, "fb") == [folder]
