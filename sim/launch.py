"""Subprocess entry of SimClient: build (cached) and run the cocotb simulation server for one params set.

It runs as the leader of its own process group (SimClient starts it in a new session) and never outlives
the process that started it (pid in OSC_SIM_PARENT): on Linux the kernel signals it when that parent dies
(PR_SET_PDEATHSIG, prctl(2)), and a watch thread polls getppid() everywhere (and covers the case where the
parent's starting thread, not the process, ended). Then it stops its whole group (make, compiler,
simulator), removes the parent's temporary directory and exits.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import sys
import threading
import time

from fixedpoint.spec import HardwareParams

from .protocol import PARENT_ENV
from .runner import run_cocotb

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_DEATH_SIGNAL = signal.SIGUSR1
WATCH_INTERVAL_S = 1.0


def _parent_alive(parent: int) -> bool:
    return os.getppid() == parent


def _stop_group_and_exit(test_dir: str) -> None:
    """The parent is gone: stop every process of this group, remove its temporary directory, exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.killpg(os.getpgrp(), signal.SIGTERM)
        time.sleep(0.3)
    finally:
        shutil.rmtree(test_dir, ignore_errors=True)
        try:
            os.killpg(os.getpgrp(), signal.SIGKILL)  # the rest of the group, and this process
        finally:
            os._exit(143)


def die_with_parent(parent: int, test_dir: str) -> None:
    """Arrange that this process (and its group) stops when process `parent` ends."""
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # never signal the parent's group

    def on_signal(signum, frame):
        if not _parent_alive(parent):
            _stop_group_and_exit(test_dir)

    signal.signal(PARENT_DEATH_SIGNAL, on_signal)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watch thread below still applies

    def watch():  # signal handlers run in the main thread: ask it, and do it here if it does not within 5 s
        while _parent_alive(parent):
            time.sleep(WATCH_INTERVAL_S)
        os.kill(os.getpid(), PARENT_DEATH_SIGNAL)
        time.sleep(5.0)
        shutil.rmtree(test_dir, ignore_errors=True)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if not _parent_alive(parent):  # it died before prctl took effect
        _stop_group_and_exit(test_dir)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--simulator", default="verilator")
    ap.add_argument("--params", required=True, help="HardwareParams JSON")
    ap.add_argument("--test-dir", required=True)
    ap.add_argument("--waves", action="store_true")
    ap.add_argument("--build-root", default=None)
    ap.add_argument("--all-signals", action="store_true")
    ap.add_argument("--cocotb-clock", action="store_true", help="clock from cocotb, not inside the Verilator model")
    a = ap.parse_args(argv)
    if os.environ.get(PARENT_ENV):
        die_with_parent(int(os.environ[PARENT_ENV]), a.test_dir)
    params = HardwareParams.from_dict(json.loads(a.params))
    run_cocotb(a.simulator, params, "sim.server", a.test_dir, waves=a.waves, build_root=a.build_root,
               all_signals=a.all_signals, own_clock=not a.cocotb_clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
