"""Timing harness shared by the benchmark groups: warm-up, repetitions, median / min / max,
peak resident memory of this process or of a child process, and the machine description.

A figure is a ``Figure``: value (median over repetitions), its min-max spread, and the baseline
measured in the same run (``ratio = value / baseline`` for rates, ``baseline / value`` for
seconds, so that a ratio above 1 always means "better than the baseline").
"""
from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PYTHON = sys.executable


@dataclass
class Figure:
    """One row of the table. ``lower_is_better`` for seconds and megabytes."""
    name: str
    value: float
    unit: str
    low: float
    high: float
    baseline: float | None = None
    baseline_what: str = ""
    lower_is_better: bool = False
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.value:
            return None
        return self.baseline / self.value if self.lower_is_better else self.value / self.baseline

    def as_json(self) -> dict:
        return {"value": self.value, "unit": self.unit, "baseline": self.baseline, "ratio": self.ratio,
                "min": self.low, "max": self.high, "baseline_what": self.baseline_what,
                "note": self.note, **self.extra}


def time_calls(fn, repeats: int, warmup: int = 1) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def time_interleaved(fns, repeats: int, warmup: int = 1) -> list[list[float]]:
    """Seconds of ``repeats`` calls of each of ``fns``, alternated call by call (after ``warmup``
    untimed calls of each), so that all of them see the same load on a shared machine."""
    for _ in range(warmup):
        for f in fns:
            f()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for f, out in zip(fns, times):
            t = time.perf_counter()
            f()
            out.append(time.perf_counter() - t)
    return times


def time_pair(fn, other, repeats: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """``time_interleaved([fn, other], ...)`` as a pair of lists."""
    first, second = time_interleaved([fn, other], repeats, warmup)
    return first, second


class OtherLoad:
    """CPU time that other processes took while a figure was measured, as a share of the whole
    machine (``/proc/stat`` busy time minus this process's own CPU time; None off Linux). On a
    shared machine a figure is only comparable with quiet-machine figures when this is near 0.

        with OtherLoad() as load:
            ...timing...
        load.share   # e.g. 0.02 = others used 2 % of all cores meanwhile
    """

    def __init__(self) -> None:
        self.share: float | None = None

    @staticmethod
    def _busy() -> float | None:
        try:
            fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (sum(fields) - fields[3] - fields[4]) / ticks   # all minus idle and iowait, seconds

    @staticmethod
    def _own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> "OtherLoad":
        self._start = (self._busy(), self._own(), time.perf_counter())
        return self

    def __exit__(self, *exc) -> None:
        busy, own, wall = self._busy(), self._own(), time.perf_counter()
        if busy is None or self._start[0] is None:
            return
        others = (busy - self._start[0]) - (own - self._start[1])
        self.share = max(0.0, others) / ((wall - self._start[2]) * (os.cpu_count() or 1))


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def rate(work: float, times: list[float]) -> tuple[float, float, float]:
    """Work per second: (median, min, max) over the repetitions (min comes from the slowest call)."""
    rates = [work / t for t in times]
    return spread(rates)


def rate_figure(name: str, unit: str, work: float, times: list[float], baseline_times: list[float] | None = None,
                baseline_work: float | None = None, baseline_what: str = "", note: str = "") -> Figure:
    med, low, high = rate(work, times)
    base = None
    if baseline_times:
        base = rate(baseline_work if baseline_work is not None else work, baseline_times)[0]
    return Figure(name, med, unit, low, high, base, baseline_what, note=note)


def seconds_figure(name: str, times: list[float], baseline_times: list[float] | None = None,
                   baseline_what: str = "", note: str = "") -> Figure:
    med, low, high = spread(times)
    base = spread(baseline_times)[0] if baseline_times else None
    return Figure(name, med, "s", low, high, base, baseline_what, lower_is_better=True, note=note)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(cmd: list[str], *, env: dict | None = None, cwd: Path = ROOT) -> tuple[float, float, str]:
    """Run ``cmd`` to completion: (wall seconds, the child's own peak RSS in MB, its output).

    Peak RSS comes from GNU ``/usr/bin/time`` when present: on Linux a child forked straight from
    this (large) process would report at least this process's RSS at fork time, so the child is
    started from the small ``time`` process instead. Fallback: ``os.wait4`` (an upper bound)."""
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [str(timer), "-f", "%M", "-o", rss_file.name, *map(str, cmd)] if timer.exists() else list(map(str, cmd))
        t = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env={**os.environ, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        text = out.decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({code}):\n{text[-2000:]}")
        lines = [ln for ln in Path(rss_file.name).read_text().split() if ln.isdigit()] if timer.exists() else []
    peak_kb = int(lines[-1]) if lines else usage.ru_maxrss
    return seconds, peak_kb / 1024, text


def machine() -> dict:
    import numpy as np
    import torch

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "load_average_1_5_15": [round(x, 2) for x in load],
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
