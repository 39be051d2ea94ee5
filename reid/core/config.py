"""Named defaults for every script, in one place.

Frozen dataclasses: a run's settings are built once (from argparse), checked once (in
``__post_init__``, naming the setting and the allowed values), and passed down.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .backbones import BACKBONES, MERGE_THRESHOLDS

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
# A live source that dropped and stays away longer is given up on: a failed source (exit 3, status.json
# "failed"). Shorter than STALL_AFTER_S, so the run reports it itself before the monitor would take the
# silent run for a stalled one.
LIVE_GIVE_UP_S = 60.0

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
    # Copies of a LiteRT detector working on successive frames at once, the threads shared out between
    # them; 0 = two where there are two threads or more (BENCHMARKS.md, "The detector's ceiling").
    detectors: int = 0
    # Skip the detector on frames where no track exists and nothing moved (tracking/gate.py).
    skip_still_frames: bool = True
    # While the pixels change and every tracked person is tall and confirmed, detect only this many frames
    # a second (at least); the frames between get the boxes around them, interpolated (tracking/gate.py).
    # 0 = every frame that changed. Off by default: it gains only on footage of people near the camera
    # (BENCHMARKS.md, "Fewer detections while people move").
    detect_fps: float = 0.0
    # Where the detector runs: "auto" (ultralytics' choice: the first CUDA GPU if torch has one), "cpu",
    # "cuda" or "cuda:N".
    device: str = "auto"
    # Stop each video after this many frames; 0 processes every frame.
    max_frames: int = 0
    # Stop each live source (stream, webcam) after this many seconds; 0 runs until Ctrl-C or SIGTERM.
    duration_s: float = 0.0
    # A live source that dropped is reconnected for this long, then given up on (a failed source).
    give_up_s: float = LIVE_GIVE_UP_S
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
        for name in ("threads", "detectors", "max_frames", "min_crop_height", "min_crop_width", "edge_margin"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")
        if self.duration_s < 0:
            raise ValueError(f"duration_s must not be negative, not {self.duration_s}")
        if self.give_up_s <= 0:
            raise ValueError(f"give_up_s must be positive, not {self.give_up_s}")
        if self.detect_fps < 0:
            raise ValueError(f"detect_fps must not be negative, not {self.detect_fps}")
        if self.min_track_seconds < 0:
            raise ValueError(f"min_track_seconds must not be negative, not {self.min_track_seconds}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        if self.crop_interval_s < 0:
            raise ValueError(f"crop_interval_s must not be negative, not {self.crop_interval_s}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, not {self.jpeg_quality}")

    def min_frames_at(self, fps: float) -> int:
        """Frames a track must be seen in to be counted, in a video of ``fps`` frames per second.

        >>> TrackingConfig().min_frames_at(25.0), TrackingConfig().min_frames_at(2.0)
        (25, 5)
        """
        return max(self.min_track_frames, math.ceil(self.min_track_seconds * fps))


# The default threshold of each backbone in the pipeline's default mode (raw embeddings: no per-camera
# normalisation yet). Every value comes from the one table, backbones.MERGE_THRESHOLDS.
DEFAULT_THRESHOLDS = {name: thresholds.raw for name, thresholds in MERGE_THRESHOLDS.items()}

# --weights values that name weights instead of a file: the backbone's official weights ("imagenet" is
# the Keras backbones' older name for theirs), or random weights (Keras only, for tests).
NAMED_WEIGHTS = ("default", "imagenet", "none")
OPENVINO_SUFFIXES = (".xml", ".onnx")
PRECISIONS = ("f32", "auto")
# auto: the framework's choice; cpu; cuda or cuda:N (TensorFlow); or an OpenVINO device name (GPU, GPU.1, NPU).
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|[A-Z][A-Z0-9_]*(\.\d+)?")


@dataclass(frozen=True)
class MatchingConfig:
    """Settings of the re-identification stage (``deeplearningg_reID.py``): which folders match."""

    backbone: str = "resnet50"
    # "default": the backbone's official weights (Keras' ImageNet file, or the catalogue's file, downloaded
    # into a cache and checked); a file (.xml or .onnx for OpenVINO backbones); "none": random (Keras).
    weights: str = "default"
    threshold: float | None = None  # None: the backbone's default (threshold_for)
    # Person crops are tall: 256x128 is the re-ID norm and ~1.5x cheaper than 224x224.
    input_height: int = 256
    input_width: int = 128
    batch_size: int = 32
    status_interval_s: float = 0.5
    # Where the network runs: "auto" (TensorFlow: a GPU when CUDA is there; OpenVINO: the CPU), "cpu",
    # "cuda"/"cuda:N" (TensorFlow), or an OpenVINO device name.
    device: str = "auto"
    # OpenVINO's arithmetic on the CPU: "f32" gives the same embeddings on every machine; "auto" lets it use
    # bfloat16 where the CPU has it (faster there, embeddings differ slightly). Keras always computes in f32.
    inference_precision: str = "f32"
    # Threads of an OpenVINO network; 0: OpenVINO's choice (every core).
    threads: int = 0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, not {self.backbone!r}")
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between -1 and 1, not {self.threshold}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if min(self.input_height, self.input_width) < 32:
            raise ValueError(f"input size must be at least 32x32, not {self.input_height}x{self.input_width}")
        if self.inference_precision not in PRECISIONS:
            raise ValueError(
                f"inference_precision must be one of {', '.join(PRECISIONS)}, not {self.inference_precision!r}"
            )
        if self.threads < 0:
            raise ValueError(f"threads must not be negative, not {self.threads}")
        if not _DEVICE.fullmatch(self.device):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or an OpenVINO device name, not {self.device!r}")
        if BACKBONES[self.backbone].kind == "openvino":
            self._check_openvino()
        elif self.weights_file is not None and self.weights_file.suffix.lower() in OPENVINO_SUFFIXES:
            reid = ", ".join(name for name, spec in BACKBONES.items() if spec.kind == "openvino")
            raise ValueError(f"weights {self.weights} are for a re-ID backbone ({reid}), not {self.backbone}")

    def _check_openvino(self) -> None:
        spec = BACKBONES[self.backbone]
        if self.weights in ("imagenet", "none"):
            raise ValueError(
                f"weights {self.weights!r} exist only for the Keras backbones; {spec.name} takes "
                f"'default' or a file (.xml with its .bin beside it, or .onnx)"
            )
        if self.weights != "default" and Path(self.weights).suffix.lower() not in OPENVINO_SUFFIXES:
            raise ValueError(
                f"weights for {spec.name} must be an OpenVINO .xml (with its .bin beside it) or an "
                f".onnx file, not {self.weights!r}"
            )
        if spec.input_size is not None and self.input_size != spec.input_size:
            height, width = spec.input_size
            raise ValueError(
                f"input size of {spec.name} is fixed at {height}x{width}, not {self.input_height}x{self.input_width}"
            )

    def threshold_for(self, camera_normalised: bool) -> float:
        """The merge threshold: ``threshold`` when set, else the backbone's default for embeddings with
        (``camera_normalised``) or without each camera's mean subtracted. The two differ a lot: the
        threshold must switch together with the mode."""
        if self.threshold is not None:
            return self.threshold
        thresholds = BACKBONES[self.backbone].thresholds
        return thresholds.camera_normalised if camera_normalised else thresholds.raw

    @property
    def effective_threshold(self) -> float:
        """The threshold of the pipeline's default mode: raw embeddings (no per-camera normalisation)."""
        return self.threshold_for(camera_normalised=False)

    @property
    def weights_file(self) -> Path | None:
        """The weights file given by ``weights``, or None when it names weights (default, imagenet, none)."""
        return None if self.weights in NAMED_WEIGHTS else Path(self.weights)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input_height, self.input_width
