"""Named defaults for every script, in one place.

Frozen dataclasses: a run's settings are built once (from argparse), checked once (in
``__post_init__``, naming the setting and the allowed values), and passed down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VIDEOS = Path("videos")
DEFAULT_PERSONS = Path("persons")
DEFAULT_STATUS = Path("status.json")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# The merge script keeps its safety copies here; it is never a person folder.
BACKUP_DIRNAME = "backup_before_merge"

HEALTH_HOST = "127.0.0.1"
HEALTH_PORT = 5001
# A running stage silent for longer is reported as stalled by the monitor.
STALL_AFTER_S = 120.0

TRACKERS = {"bytetrack": "bytetrack.yaml", "botsort": "botsort.yaml"}


@dataclass(frozen=True)
class TrackingConfig:
    """Settings of the tracking stage (``obj_counting.py``)."""

    # "yolov8n.pt" is the name ultralytics downloads when online; any ultralytics format works.
    model: str = "yolov8n.pt"
    tracker: str = "bytetrack"
    # ultralytics' own default detection confidence.
    conf: float = 0.25
    imgsz: int = 640
    # CPU threads for the detector; 0 = every core (ultralytics alone would use one less).
    threads: int = 0
    # Stop each video after this many frames; 0 processes every frame.
    max_frames: int = 0
    # Crops kept per track. When a track exceeds it, every other crop is dropped and the
    # sampling interval doubles, so the crops stay spread over the whole track.
    max_crops: int = 40
    # Start with the best crop of every window of this many seconds (at least one frame).
    crop_interval_s: float = 0.5
    # Crops smaller than this are useless for re-ID (the re-ID input is 256x128).
    min_crop_height: int = 64
    min_crop_width: int = 24
    # A box within this many pixels of the frame border is cut off by it.
    edge_margin: int = 2
    keep_edge_crops: bool = False
    # Tracks seen in fewer frames, or for less time, are mostly false detections or fragments
    # of a track broken by an occlusion; they get no folder. On the MOT clips a second removed
    # most identity switches and no person who stays 2 s (see BENCHMARKS.md).
    min_track_frames: int = 5
    min_track_seconds: float = 1.0
    # A track not seen for this many frames writes out its pending best crop.
    stale_after_frames: int = 30
    jpeg_quality: int = 95
    # Bounds on how often status.json and the track metadata are rewritten.
    status_interval_s: float = 1.0
    metadata_interval_s: float = 30.0
    # Crops waiting to be written; the detector waits when the disk falls behind.
    write_queue_size: int = 64

    def __post_init__(self) -> None:
        if self.tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, not {self.tracker!r}")
        if not 0.0 < self.conf < 1.0:
            raise ValueError(f"conf must be between 0 and 1, not {self.conf}")
        for name in ("imgsz", "max_crops", "min_track_frames", "stale_after_frames", "write_queue_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("threads", "max_frames", "min_crop_height", "min_crop_width", "edge_margin"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")
        if self.min_track_seconds < 0:
            raise ValueError(f"min_track_seconds must not be negative, not {self.min_track_seconds}")
        if self.crop_interval_s < 0:
            raise ValueError(f"crop_interval_s must not be negative, not {self.crop_interval_s}")

    def min_frames_at(self, fps: float) -> int:
        """Frames a track must be seen in to be counted, in a video of ``fps`` frames per second.

        >>> TrackingConfig().min_frames_at(25.0), TrackingConfig().min_frames_at(2.0)
        (25, 5)
        """
        return max(self.min_track_frames, math.ceil(self.min_track_seconds * fps))
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, not {self.jpeg_quality}")


# Default merge thresholds (cosine similarity of folder embeddings), chosen precision first:
# a wrong merge hides a person, a missed one only counts someone twice. How each was chosen
# and what it achieves: README "Choosing the threshold" and BENCHMARKS.md (measured, not here,
# since figures in comments go stale). ResNet50's ImageNet weights cannot be obtained on our
# machines, so it takes MobileNetV2's value by analogy (both pool post-ReLU features).
DEFAULT_THRESHOLDS = {"resnet50": 0.94, "mobilenetv2": 0.94, "mobilenet025": 0.98}


@dataclass(frozen=True)
class MatchingConfig:
    """Settings of the re-identification stage (``deeplearningg_reID.py``): which folders match."""

    backbone: str = "resnet50"
    weights: str = "imagenet"
    threshold: float | None = None  # None: DEFAULT_THRESHOLDS[backbone]
    # Person crops are tall: 256x128 is the re-ID norm and ~1.5x cheaper than 224x224.
    input_height: int = 256
    input_width: int = 128
    batch_size: int = 32
    status_interval_s: float = 0.5

    def __post_init__(self) -> None:
        if self.backbone not in DEFAULT_THRESHOLDS:
            raise ValueError(f"backbone must be one of {', '.join(DEFAULT_THRESHOLDS)}, not {self.backbone!r}")
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between -1 and 1, not {self.threshold}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if min(self.input_height, self.input_width) < 32:
            raise ValueError(f"input size must be at least 32x32, not {self.input_height}x{self.input_width}")

    @property
    def effective_threshold(self) -> float:
        return DEFAULT_THRESHOLDS[self.backbone] if self.threshold is None else self.threshold

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input_height, self.input_width
