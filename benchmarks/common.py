"""Shared helpers for the benchmarks: machine description, medians, atomic result files."""
from __future__ import annotations

import os
import platform
import statistics
import time

from fixedpoint.files import write_atomic  # noqa: F401  (benchmarks write results through it)


def machine_description(extra: str = "") -> str:
    """CPU model, cores, RAM, Python/numpy, kernel, date and load; `extra` appends framework details."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import numpy
        np_v = numpy.__version__
    except ImportError:
        np_v = "-"
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = f"; load average at start {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} logical cores{mem}; Python {platform.python_version()}, numpy {np_v}; "
            f"{platform.system()} {platform.release()}; measured {time.strftime('%Y-%m-%d')}{load}"
            + (f"; {extra}" if extra else ""))


def median_time(fn, repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times
