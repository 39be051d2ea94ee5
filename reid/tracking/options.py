"""obj_counting.py's command line: every flag, its default (from ``TrackingConfig``) and its help."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.cli import (
    ArgumentParser,
    Flag,
    add_config_flags,
    add_folder_flags,
    add_logging_flags,
    add_ray_flag,
    config_from_args,
)
from ..core.config import DEFAULT_VIDEOS, TRACKERS, VIDEO_SUFFIXES, TrackingConfig
from .sources import PASSWORD_ENV, USER_ENV

FLAGS = [
    Flag(
        "--model",
        "model",
        "YOLO detector: a .pt file (downloaded by ultralytics when online and missing) or any "
        "exported format such as .tflite or .onnx",
        "PATH",
    ),
    Flag("--tracker", "tracker", "ultralytics tracker", choices=sorted(TRACKERS)),
    Flag(
        "--conf",
        "conf",
        "minimum detection confidence for a crop to be saved; weaker boxes still help the tracker follow a person",
    ),
    Flag("--imgsz", "imgsz", "detector input size", "PX"),
    Flag(
        "--device",
        "device",
        "where the detector runs: auto (a CUDA GPU when torch has one), cpu, cuda or cuda:N",
        "DEVICE",
    ),
    Flag("--threads", "threads", "CPU threads for the detector; 0 = every core", "N"),
    Flag(
        "--detectors",
        "detectors",
        "copies of a LiteRT (.tflite) detector working on successive frames at once, the threads shared out "
        "between them; 0 = two where there are two threads or more, 1 = one detector on every thread",
        "N",
    ),
    Flag(
        "--detect-fps",
        "detect_fps",
        "while people move, run the detector on only this many frames a second (at least; 10 = every third "
        "frame of a 30 fps video) as long as every tracked person is tall (a sixth of the frame) and confirmed; "
        "the frames between get the boxes around them, interpolated, and give no crops; 0 = every frame that "
        "changed",
        "HZ",
    ),
    Flag("--max-frames", "max_frames", "process at most N frames of each video; 0 = all", "N"),
    Flag(
        "--duration",
        "duration_s",
        "stop each live source (stream URL, webcam) after this long; 0 = until Ctrl-C or SIGTERM",
        "SECONDS",
    ),
    Flag(
        "--give-up-after",
        "give_up_s",
        "a live source that dropped is reconnected for this long, then given up on: a failed source (exit "
        "code 3, status.json 'failed', the monitor's /health answers 503); below the monitor's --stall-after",
        "SECONDS",
    ),
    Flag("--max-crops", "max_crops", "crops kept per person, spread over the whole track", "N"),
    Flag(
        "--crop-interval",
        "crop_interval_s",
        "keep the best crop of each interval of this length; it grows as a track exceeds --max-crops",
        "SECONDS",
    ),
    Flag(
        "--min-crop-height",
        "min_crop_height",
        "prefer crops at least this tall; a person only ever seen smaller keeps its best small crops, marked",
        "PX",
    ),
    Flag("--min-crop-width", "min_crop_width", "prefer crops at least this wide", "PX"),
    Flag(
        "--keep-edge-crops",
        "keep_edge_crops",
        "treat crops cut off by the frame border as good (by default kept, marked, only for a person never seen whole)",
    ),
    Flag(
        "--min-track-seconds",
        "min_track_seconds",
        "a track must be seen this long to be counted as a person; shorter ones are false detections or "
        "fragments of a track broken by an occlusion, and get no folder",
        "SECONDS",
    ),
    Flag("--min-track-frames", "min_track_frames", "and in at least this many frames, whatever the frame rate", "N"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, checked; ``args.config`` holds the tracking settings."""
    parser = ArgumentParser(
        prog="obj_counting.py",
        description="Track persons in videos with YOLOv8 and save one folder of crops per tracked person.",
        epilog="Exit codes: 0 all videos processed; 1 error; 2 bad arguments; 3 some videos failed (a live "
        "source given up on too), the others were processed; 130 interrupted. A live source runs until "
        "--duration, Ctrl-C or SIGTERM, which end it as done.",
    )
    parser.add_argument(
        "--videos",
        action="append",
        default=None,
        metavar="SOURCE",
        help="a video file (any format FFmpeg reads), a folder searched recursively for videos "
        f"({', '.join(VIDEO_SUFFIXES)}), a stream URL (rtsp://, rtsps://, http(s)://) or a webcam index "
        f"(0, 1, ...); repeat for several (default: {DEFAULT_VIDEOS})",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        metavar="FILE",
        help="camera passwords, so they need not be on the command line: 'HOST[:PORT] USER:PASSWORD' lines; "
        f"or set {PASSWORD_ENV} (and {USER_ENV} when the URL names no user)",
    )
    add_folder_flags(parser, "where person folders id_<N>/ are created", "status file shared with the other scripts")
    add_config_flags(parser, TrackingConfig(), FLAGS)
    parser.add_argument(
        "--save-video",
        nargs="?",
        type=Path,
        const=Path("annotated"),
        default=None,
        metavar="DIR",
        help="also write an annotated copy of each video (boxes, person ids, running count) "
        "into DIR as <name>_annotated.mp4 (DIR defaults to 'annotated')",
    )
    parser.add_argument(
        "--save-mot",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write each video's tracks in MOTChallenge format (frame,id,x,y,w,h,conf,-1,-1,-1; frames "
        "from 1, ids = person folder numbers) into DIR/<name>.txt, to score them against ground truth",
    )
    parser.add_argument(
        "--reprocess",
        action="store_true",
        help="track videos this persons folder has done already again (they are skipped otherwise, being "
        "known by content); their earlier folders are moved to persons/backup_before_merge/<time>-replaced/",
    )
    parser.add_argument(
        "--no-skip",
        dest="skip_still_frames",
        action="store_false",
        help="run the detector on every frame (by default frames where no track exists and nothing moved are "
        "skipped: the same people, found faster in footage that is often empty); --detect-fps is then ignored",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="track N videos at once, each in its own process with its share of the cores; this process alone "
        "writes persons/ and the status file (default: 1, one video after another)",
    )
    add_ray_flag(parser, "track the videos", "crops come back to this machine")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    args.videos = args.videos or [str(DEFAULT_VIDEOS)]
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    if (args.workers > 1 or args.ray is not None) and (args.save_video or args.save_mot):
        parser.error("--save-video and --save-mot work without --workers and --ray only, for now")
    args.config = config_from_args(parser, TrackingConfig, args, FLAGS, skip_still_frames=args.skip_still_frames)
    return args
