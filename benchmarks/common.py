"""What every benchmark shares: settings, sections of the report, timing, child processes."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("REID_TEST_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Settings:
    data: Path
    quick: bool
    work: Path  # a scratch folder for this run

    @property
    def video(self) -> Path:
        return self.data / "video" / "one-by-one-person-detection.mp4"

    @property
    def detector(self) -> Path:
        return self.data / "weights" / "yolov8n_int8.tflite"

    @property
    def mobilenet_v2(self) -> Path:
        return self.data / "weights" / "mobilenet_v2_1.0_224_no_top_from_tfslim_npy.h5"

    @property
    def mobilenet_025(self) -> Path:
        return self.data / "weights" / "mobilenet_2_5_224_tf_no_top.h5"

    @property
    def labelled(self) -> Path:
        return self.data / "reid_col780_train"

    def pick(self, quick, full):
        return quick if self.quick else full


@dataclass
class Target:
    """A target of the issue and whether this run met it."""

    name: str
    value: float
    goal: str
    met: bool

    def line(self) -> str:
        value = f"{self.value:.3f}" if abs(self.value) < 10 else f"{self.value:.1f}"
        return f"- {'met' if self.met else '**not met**'}: {self.name} = {value} (target {self.goal})"


@dataclass
class Section:
    title: str
    body: str
    targets: list[Target] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"## {self.title}", "", self.body.strip(), ""]
        if self.targets:
            parts += [t.line() for t in self.targets] + [""]
        return "\n".join(parts)


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


_PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]);"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
    "sys.exit(r.returncode)"
)


@dataclass
class ChildRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


def run_child(args: list[str | Path], cwd: Path, env: dict | None = None, timeout: float = 3600) -> ChildRun:
    """Run a Python command in a child process; its wall time and peak resident memory."""
    command = [sys.executable, "-c", _PEAK_RSS_WRAPPER, sys.executable, *map(str, args)]
    start = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    match = re.search(r"PEAK_RSS_KB (\d+)", proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return ChildRun(proc.returncode, proc.stdout, proc.stderr, seconds, int(match.group(1)) / 1024 if match else 0.0)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        memory = "unknown RAM"
    return f"{cpu}, {os.cpu_count()} cores, {memory}, Python {platform.python_version()}, {platform.system()}"


def cpu_flags(cpuinfo: str | None = None) -> str:
    """The vector extensions this CPU has (from /proc/cpuinfo): avx2, avx_vnni and every avx512 one.

    >>> cpu_flags("flags : fpu avx2 avx512f avx512_bf16 sse4_2")
    'avx2, avx512_bf16, avx512f'
    >>> cpu_flags("flags : fpu sse4_2")
    'no avx2, no avx512'
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "unknown (no /proc/cpuinfo)"
    line = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    flags = set(line.partition(":")[2].split())
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    vnni = ["avx_vnni"] if "avx_vnni" in flags else []  # INT8 dot products without AVX-512
    return ", ".join(["avx2" if "avx2" in flags else "no avx2", *vnni, *(avx512 or ["no avx512"])])


def gpu_note() -> str:
    """Whether an NVIDIA GPU is visible; every figure here is the CPU's when none is."""
    if Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi"):
        return "an NVIDIA GPU is visible, but these benchmarks run every model on the CPU (`--device cpu`)"
    return "none visible (no /dev/nvidia0, no nvidia-smi): no GPU was measured on this machine"
