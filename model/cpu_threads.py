"""Intra-op thread count that follows the CPU load, so a sampler on a shared CPU does not collapse.

PyTorch runs each CPU kernel on its whole intra-op pool (OpenMP), and every kernel ends at a barrier
where the finished threads spin-wait for the slowest one. When other processes occupy the cores,
one pool thread is often descheduled, so each barrier waits for the scheduler to hand its core
back, while the spinning threads burn the CPU time it needs. Measured on the project's 2-core
machine (benchmarks/results/sampling.md): with 2 threads under load one batch-64 cifar10-n1024
sample took 2.95 s instead of 0.10 s; with as many threads as there are idle cores it degrades in
proportion to the CPU share it gets. ``OMP_WAIT_POLICY=PASSIVE`` also avoids the collapse, but it
is read only when the OpenMP runtime starts (before ``import torch``) and costs time on a quiet
machine, so the library adapts the pool size per call instead.
"""

from __future__ import annotations

import contextlib
import os

import torch


def _runnable_tasks() -> int | None:
    """Runnable tasks on the whole machine now (4th field of /proc/loadavg), None where unknown."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def _own_runnable_threads() -> int:
    """This process's threads in state R (running or runnable), at least 1 (the caller)."""
    count = 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state == "R"
    return max(count, 1)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def idle_cpus() -> int:
    """Usable CPUs that no other process's runnable task wants right now, at least 1.

    A snapshot of the kernel run queue (Linux /proc): runnable tasks machine-wide minus this process's
    own runnable threads are the others; where this process may use only U of the machine's C CPUs
    (affinity, cpuset) they are assumed spread evenly, so U (C - others) / C CPUs are idle. Where
    /proc is missing it returns ``usable_cpus()`` (no adaptation).
    """
    total = _runnable_tasks()
    if total is None:
        return usable_cpus()
    others = max(total - _own_runnable_threads(), 0)
    usable, machine = usable_cpus(), max(os.cpu_count() or 1, usable_cpus())
    return max(usable * max(machine - others, 0) // machine, 1)


def threads_for_load(max_threads: int | None = None) -> int:
    """Intra-op threads to use now: min(max_threads (default torch.get_num_threads()), idle_cpus())."""
    limit = torch.get_num_threads() if max_threads is None else max_threads
    if limit < 1:
        raise ValueError(f"max_threads must be >= 1, got {max_threads}")
    return min(limit, idle_cpus())


@contextlib.contextmanager
def load_aware_threads(max_threads: int | None = None):
    """Run the block with ``threads_for_load(max_threads)`` intra-op threads; restore the count after.

    Yields the thread count used. The pool never grows above the caller's ``torch.get_num_threads()``
    (or ``max_threads``), so ``--threads N`` style settings stay an upper bound.
    """
    before = torch.get_num_threads()
    n = threads_for_load(max_threads)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
