"""The track book of one video: every track seen, the crops chosen for it, its person folder.

Every confirmed track (seen long enough, ``TrackingConfig.min_frames_at``, with a box of at least
``conf``) gets a folder and a person id: that is the count. Its crops are the good ones
(tall enough, not cut off by the border) when it has any; a track that never gives a good
crop, such as a person far from the camera, keeps its best poor crops instead, each marked
in ``track.json`` (``low_resolution``, ``at_edge``) so later stages can weigh them. Shorter
tracks are false detections, and tracks without a confident box are not persons: both are
counted as such, never dropped silently. The crops and each folder's ``track.json`` are
written by the background writer, in order, so metadata never names a crop that is not on
disk yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.config import TrackingConfig
from ..core.persons import IdAllocator, crop_filename
from ..core.track_metadata import write_track_metadata
from .crops import Candidate, SamplerActions, TrackSampler, clip_box, crop_rejection, reserve_score
from .videos import VideoInfo
from .writer import CropWriter

# Poor crops held in memory per track until it is known whether the track gives a good one.
RESERVE_CROPS = 8
# What a poor crop is marked with in track.json.
CROP_MARKS = {"small": "low_resolution", "edge": "at_edge"}


class TrackedBox(Protocol):
    track_id: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    conf: float


@dataclass(frozen=True)
class RunContext:
    """What every track of one run shares in its metadata."""

    run_id: str
    config: TrackingConfig
    model: str


@dataclass
class TrackRecord:
    """Everything known about one track of one video."""

    tracker_id: int
    sampler: TrackSampler  # good crops
    reserve: TrackSampler  # poor crops, in memory: saved only if no good crop ever comes
    person_id: int | None = None
    folder: Path | None = None
    first_frame: int = -1
    last_frame: int = -1
    frames_seen: int = 0
    segments: list[list[int]] = field(default_factory=list)  # runs of consecutive frames where it was seen
    crops: dict[int, dict[str, Any]] = field(default_factory=dict)
    reserved: dict[int, Candidate] = field(default_factory=dict)
    confident: bool = False  # had a box of at least --conf
    first_box: list[float] | None = None  # where it was first and last seen: tracks that end and
    last_box: list[float] | None = None  # start near each other may be one person (matching stage)
    dirty: bool = False

    def see(self, frame: int) -> None:
        if self.first_frame < 0:
            self.first_frame = frame
        self.last_frame = frame
        self.frames_seen += 1
        if self.segments and self.segments[-1][1] == frame - 1:
            self.segments[-1][1] = frame
        else:
            self.segments.append([frame, frame])
        self.dirty = True

    @property
    def has_good_crops(self) -> bool:
        return any(not set(c) & set(CROP_MARKS.values()) for c in self.crops.values())

    @property
    def label(self) -> tuple[str, bool]:
        """How its box is labelled in an annotated video: its person folder, once it has one."""
        if self.person_id is not None:
            return f"id_{self.person_id}", True
        return f"track {self.tracker_id}", False

    def to_metadata(self, info: VideoInfo, run: RunContext, complete: bool, video_fingerprint: str) -> dict[str, Any]:
        """The ``track.json`` document; a snapshot (copies), since the writer thread serialises it later."""
        return {
            "person_id": self.person_id,
            "run_id": run.run_id,
            "video": info.shown,  # a live source's URL without its password
            "video_name": info.name,
            "video_fingerprint": video_fingerprint,  # the same video under another name is known by it
            "model": run.model,
            "tracker": run.config.tracker,
            "tracker_id": self.tracker_id,
            "fps": info.fps,
            "frame_size": [info.width, info.height],
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "first_time_s": round(self.first_frame / info.fps, 3),
            "last_time_s": round(self.last_frame / info.fps, 3),
            "frames_seen": self.frames_seen,
            "first_box": self.first_box,
            "last_box": self.last_box,
            # False when no crop was tall enough or clear of the border: its crops are marked
            "good_crops": self.has_good_crops,
            "segments": [list(segment) for segment in self.segments],
            # False while the video is still being processed (a checkpoint) or if it was interrupted.
            "complete": complete,
            "crops": [dict(self.crops[frame]) for frame in sorted(self.crops)],
        }


class TrackBook:
    """The tracks of one video, their chosen crops and their folders."""

    def __init__(
        self, info: VideoInfo, run: RunContext, allocator: IdAllocator, writer: CropWriter, video_fingerprint: str = ""
    ) -> None:
        self.info = info
        self.video_fingerprint = video_fingerprint
        self.run = run
        self.config = run.config
        self.allocator = allocator
        self.writer = writer
        self.tracks: dict[int, TrackRecord] = {}
        self.pending: dict[int, TrackRecord] = {}  # tracks holding an unsaved best crop
        self.window = max(1, round(self.config.crop_interval_s * info.fps))
        self.min_frames = self.config.min_frames_at(info.fps)  # to be counted
        self.folders_created = 0

    def outcome(self) -> dict[str, int]:
        """How many tracks this video had, and what became of them (the count, explained)."""
        confirmed = [r for r in self.tracks.values() if r.frames_seen >= self.min_frames]
        return {
            "tracks": len(self.tracks),
            "too_short": len(self.tracks) - len(confirmed),
            "not_confident": sum(not r.confident for r in confirmed),
            "folders": sum(r.folder is not None for r in self.tracks.values()),
            "low_resolution_folders": sum(r.folder is not None and not r.has_good_crops for r in self.tracks.values()),
        }

    @property
    def persons(self) -> list[TrackRecord]:
        """The tracks that have a person folder."""
        return [r for r in self.tracks.values() if r.folder is not None]

    def observe(self, index: int, frame: np.ndarray, detection: TrackedBox, crop: bool = True) -> TrackRecord:
        """A tracked box in frame ``index``: note the track was seen, offer its crop (not for a box
        the detector did not find, ``crop=False``: one interpolated between two detections)."""
        record = self.tracks.get(detection.track_id)
        if record is None:
            record = self.tracks[detection.track_id] = TrackRecord(
                detection.track_id,
                TrackSampler(self.config.max_crops, self.window),
                TrackSampler(RESERVE_CROPS, self.window),
            )
        record.see(index)
        box = [round(float(v), 1) for v in detection.box]
        record.first_box = record.first_box or box
        record.last_box = box
        if crop and detection.conf >= self.config.conf:
            record.confident = True
            self._offer(record, index, frame, detection)
        if record.sampler.has_pending or record.reserve.has_pending or record.reserved:
            self.pending[detection.track_id] = record
        return record

    def _offer(self, record: TrackRecord, index: int, frame: np.ndarray, detection: TrackedBox) -> None:
        """A good crop goes to the track's sampler; a poor one to its reserve (in memory)."""
        cfg, info = self.config, self.info
        reason = crop_rejection(
            detection.box,
            info.width,
            info.height,
            min_width=cfg.min_crop_width,
            min_height=cfg.min_crop_height,
            edge_margin=cfg.edge_margin,
            keep_edge_crops=cfg.keep_edge_crops,
        )
        if reason is not None and record.crops:
            return  # it has good crops already: a poor one adds nothing
        x1, y1, x2, y2 = clip_box(detection.box, info.width, info.height)
        # a copy: the crop must outlive the frame buffer
        payload = ((x1, y1, x2, y2), frame[y1:y2, x1:x2].copy(), detection.conf, reason)
        if reason is None:
            candidate = Candidate(index, detection.conf, payload)
            actions = record.sampler.offer(candidate, may_save=record.frames_seen >= self.min_frames)
            self._carry_out(record, actions)
            return
        score = reserve_score(detection.box, detection.conf, reason, min_height=cfg.min_crop_height)
        self._keep_in_reserve(record, record.reserve.offer(Candidate(index, score, payload)))

    def _keep_in_reserve(self, record: TrackRecord, actions: SamplerActions) -> None:
        for candidate in actions.save:
            record.reserved[candidate.frame] = candidate
        for frame in actions.delete:
            record.reserved.pop(frame, None)

    def flush_stale(self, index: int) -> None:
        """Write out the pending crop of tracks not seen for a while, so memory does not hold
        one crop per track for the rest of a long video."""
        stale = [t for t, r in self.pending.items() if index - r.last_frame > self.config.stale_after_frames]
        for track_id in stale:
            self._finish(self.pending.pop(track_id))

    def finish(self, complete: bool) -> None:
        """The video ended (or failed, or was interrupted): every folder gets its chosen crops and metadata."""
        for record in self.tracks.values():
            self._finish(record)
        self.write_metadata(complete=complete)

    def _finish(self, record: TrackRecord) -> None:
        if record.frames_seen < self.min_frames:
            record.sampler.discard_pending()  # too short to be a person: no folder
            record.reserve.discard_pending()
            record.reserved.clear()
            return
        self._carry_out(record, record.sampler.flush())
        self._keep_in_reserve(record, record.reserve.flush())
        if not record.crops:  # never a good crop: its best poor ones, so that it is counted
            self._carry_out(record, SamplerActions(save=[record.reserved[f] for f in sorted(record.reserved)]))
        record.reserved.clear()

    def _carry_out(self, record: TrackRecord, actions: SamplerActions) -> None:
        """Save the crops the sampler chose (creating the folder on the first) and delete the dropped ones."""
        new_folder = False
        for candidate in actions.save:
            if record.folder is None:
                # the folder comes with a first track.json: it is known as this video's before its first crop
                first = record.to_metadata(self.info, self.run, False, self.video_fingerprint)
                record.person_id, record.folder = self.allocator.create_folder(first)
                self.folders_created += 1
                new_folder = True
            box, crop, conf, reason = candidate.payload
            name = crop_filename(self.info.path, candidate.frame)
            self.writer.save_jpeg(record.folder / name, crop)
            entry = {"file": name, "frame": candidate.frame, "box": list(box), "conf": round(conf, 4)}
            if reason is not None:
                entry[CROP_MARKS[reason]] = True
            record.crops[candidate.frame] = entry
            record.dirty = True
        for frame in actions.delete:
            entry = record.crops.pop(frame)
            self.writer.delete(record.folder / entry["file"])
            record.dirty = True
        if new_folder:  # its track.json lists its first crops from now on
            self._write_record(record, complete=False)

    def write_metadata(self, complete: bool) -> None:
        """Queue ``track.json`` of every folder that changed (all of them when ``complete``)."""
        for record in self.tracks.values():
            if record.folder is not None and (record.dirty or complete):
                self._write_record(record, complete)

    def _write_record(self, record: TrackRecord, complete: bool) -> None:
        # queued behind the crops it lists, so it never names a file not yet written
        metadata = record.to_metadata(self.info, self.run, complete, self.video_fingerprint)
        self.writer.call(write_track_metadata, record.folder, metadata)
        record.dirty = False
