#!/usr/bin/env python3
"""Step 1: track persons in videos with YOLOv8 and save one folder of crops per person.

    python obj_counting.py                       # every video in videos/ -> persons/id_<N>/
    python obj_counting.py --videos clip.mp4 --max-frames 300

Writes progress to the "counting" section of status.json. See README.md for every option.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from reid.cli import (EXIT_OK, EXIT_PARTIAL, ArgumentParser, add_logging_flags, run_reporting_errors,
                      setup_logging)
from reid.config import DEFAULT_PERSONS, DEFAULT_STATUS, DEFAULT_VIDEOS, TRACKERS, TrackingConfig
from reid.errors import InputError
from reid.persons import prepare_output_dir, prepare_persons_dir
from reid.status import SectionReporter, StatusFile

log = logging.getLogger("obj_counting")
DEFAULTS = TrackingConfig()


def parse_args(argv: list[str] | None) -> "argparse.Namespace":
    parser = ArgumentParser(
        prog="obj_counting.py",
        description="Track persons in videos with YOLOv8 and save one folder of crops per tracked person.",
        epilog="Exit codes: 0 all videos processed; 1 error; 2 bad arguments; 3 some videos failed, "
               "the others were processed; 130 interrupted.")
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS, metavar="PATH",
                        help="a video file, or a folder searched recursively for .mp4 .avi .mov .mkv "
                             "(default: %(default)s)")
    parser.add_argument("--persons", type=Path, default=DEFAULT_PERSONS, metavar="DIR",
                        help="where person folders id_<N>/ are created (default: %(default)s)")
    parser.add_argument("--status", type=Path, default=DEFAULT_STATUS, metavar="FILE",
                        help="status file shared with the other scripts (default: %(default)s)")
    parser.add_argument("--model", default=DEFAULTS.model, metavar="PATH",
                        help="YOLO detector: a .pt file (downloaded by ultralytics when online and missing) or "
                             "any exported format such as .tflite or .onnx (default: %(default)s)")
    parser.add_argument("--tracker", choices=sorted(TRACKERS), default=DEFAULTS.tracker,
                        help="ultralytics tracker (default: %(default)s)")
    parser.add_argument("--conf", type=float, default=DEFAULTS.conf,
                        help="minimum detection confidence for a crop to be saved; weaker boxes still help "
                             "the tracker follow a person (default: %(default)s)")
    parser.add_argument("--imgsz", type=int, default=DEFAULTS.imgsz, help="detector input size (default: %(default)s)")
    parser.add_argument("--max-frames", type=int, default=DEFAULTS.max_frames, metavar="N",
                        help="process at most N frames of each video; 0 = all (default: %(default)s)")
    parser.add_argument("--max-crops", type=int, default=DEFAULTS.max_crops, metavar="N",
                        help="crops kept per person, spread over the whole track (default: %(default)s)")
    parser.add_argument("--crop-interval", type=float, default=DEFAULTS.crop_interval_s, metavar="SECONDS",
                        help="keep the best crop of each interval of this length; it grows as a track "
                             "exceeds --max-crops (default: %(default)s)")
    parser.add_argument("--min-crop-height", type=int, default=DEFAULTS.min_crop_height, metavar="PX",
                        help="skip crops shorter than this (default: %(default)s)")
    parser.add_argument("--min-crop-width", type=int, default=DEFAULTS.min_crop_width, metavar="PX",
                        help="skip crops narrower than this (default: %(default)s)")
    parser.add_argument("--keep-edge-crops", action="store_true",
                        help="also keep crops cut off by the frame border (skipped by default)")
    parser.add_argument("--min-track-frames", type=int, default=DEFAULTS.min_track_frames, metavar="N",
                        help="tracks seen in fewer frames are treated as false detections and get no "
                             "folder (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="CPU threads for the detector (default: all %(default)s cores)")
    parser.add_argument("--save-video", nargs="?", type=Path, const=Path("annotated"), default=None, metavar="DIR",
                        help="also write an annotated copy of each video (boxes, person ids, running count) "
                             "into DIR as <name>_annotated.mp4 (DIR defaults to 'annotated')")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        args.config = TrackingConfig(
            model=args.model, tracker=args.tracker, conf=args.conf, imgsz=args.imgsz, max_frames=args.max_frames,
            max_crops=args.max_crops, crop_interval_s=args.crop_interval, min_crop_height=args.min_crop_height,
            min_crop_width=args.min_crop_width, keep_edge_crops=args.keep_edge_crops,
            min_track_frames=args.min_track_frames)
    except ValueError as exc:
        parser.error(str(exc).replace("_", "-"))
    return args


def print_summary(result, persons_dir: Path) -> None:
    print()
    print("Persons per video:")
    width = max(len(str(v.video)) for v in result.videos)
    for video in result.videos:
        if video.state == "failed":
            print(f"  {str(video.video):<{width}}  FAILED: {video.error}")
            continue
        ids = f"  ({_id_range(video.person_ids)})" if video.person_ids else ""
        print(f"  {str(video.video):<{width}}  {video.persons:4d} persons in {video.frames} frames{ids}")
        if video.warning:
            print(f"  {'':<{width}}  warning: {video.warning}")
        if video.annotated:
            print(f"  {'':<{width}}  annotated copy: {video.annotated}")
    processed = len(result.videos) - len(result.failed)
    fps = result.frames / result.seconds if result.seconds else 0.0
    print(f"Total: {result.persons} persons in {processed} of {len(result.videos)} videos "
          f"({result.frames} frames in {result.seconds:.1f} s, {fps:.1f} fps); folders in {persons_dir}/")


def _id_range(ids: list[int]) -> str:
    names = [f"id_{i}" for i in ids]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} .. {names[-1]}"


def run(args) -> int:
    from reid.lease import Lease
    from reid.videos import find_videos

    videos = find_videos(args.videos)
    prepare_persons_dir(args.persons)
    if args.save_video is not None:
        prepare_output_dir(args.save_video, "--save-video")
    status = StatusFile(args.status)
    status.read()  # a malformed status file is reported now, not after loading the model
    # held for the whole run: a merge or undo of these folders must wait until tracking is done
    with Lease(args.persons, "tracking").shared():
        return track(args, videos, status)


def track(args, videos: list[Path], status: StatusFile) -> int:
    from reid.counting import CountingRun
    from reid.tracking import PersonTracker

    log.info("loading detector %s", args.model)
    tracker = PersonTracker(args.model, args.tracker, args.conf, args.imgsz, threads=args.threads)
    reporter = SectionReporter(status, "counting", args.config.status_interval_s)
    counting = CountingRun(args.config, tracker, args.persons, reporter, model_name=args.model,
                           show_progress=False if args.no_progress else None, annotated_dir=args.save_video)
    try:
        result = counting.run(videos)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        reporter.finish("interrupted" if interrupted else "failed", error="interrupted" if interrupted else str(exc),
                        errors=counting.errors)
        raise
    all_failed = len(result.failed) == len(result.videos)
    reporter.finish("failed" if all_failed else "done", persons=result.persons,
                    videos=[v.to_status() for v in result.videos], errors=counting.errors,
                    error="no video could be processed" if all_failed else None)
    print_summary(result, args.persons)
    if all_failed:
        noun = "video" if len(result.videos) == 1 else f"{len(result.videos)} videos"
        raise InputError(f"no {noun} could be processed (see the summary above)")
    return EXIT_PARTIAL if result.failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
