"""Cached simulation builds per (simulator, params) under build/sim/ (the tool PATH set-up and the lint waivers
live below, in rtl/tools.py, which rtl/build.py's --lint uses too).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

from fixedpoint.spec import HardwareParams
from rtl.tools import LINT_WAIVERS, setup_path

__all__ = ["REPO", "BUILD_ROOT", "LINT_WAIVERS", "setup_path", "params_key", "build_dir", "ensure_verilog", "build",
           "model_file", "drop_damaged_model"]

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO / "build" / "sim"
#: n + n_cond from which Verilator builds are compiled for simulation speed rather than compile speed.
LARGE_BUILD = 256


def params_key(params: HardwareParams) -> str:
    from rtl.regs import build_hash

    return f"n{params.n}m{params.n_cond}l{params.lanes}-{build_hash(params):08x}"


def build_dir(simulator: str, params: HardwareParams, root: Path | None = None) -> Path:
    return Path(root or BUILD_ROOT) / f"{simulator}-{params_key(params)}"


def ensure_verilog(params: HardwareParams, out_dir: Path) -> Path:
    """Generate the Verilog once per build dir (the key includes the RTL source hash)."""
    from rtl.build import TOP, write_verilog

    path = out_dir / f"{TOP}.v"
    if not path.exists():
        write_verilog(params, out_dir)
    return path


def model_file(simulator: str, bdir: Path) -> Path:
    """The compiled model a build leaves in `bdir`: Verilator's executable (named after the top module, as the
    cocotb runner links it) or Icarus's sim.vvp."""
    from rtl.build import TOP

    return Path(bdir) / (TOP if simulator == "verilator" else "sim.vvp")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def drop_damaged_model(simulator: str, bdir: Path) -> bool:
    """Before reusing a cached build: remove its compiled model when its bytes are not the ones the stamp
    (built.json, written after a successful build) recorded, e.g. a truncated or overwritten executable, or a
    build without a checksum; the build that follows then links it again. Returns True when it removed it."""
    model = model_file(simulator, bdir)
    if not model.exists():
        return False
    try:
        recorded = json.loads((Path(bdir) / "built.json").read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded == _sha256(model):
        return False
    model.unlink()
    return True


def build(simulator: str, params: HardwareParams, waves: bool = False, root: Path | None = None):
    """Build (or reuse) the simulation for `params`; returns (runner, build_dir, top)."""
    from cocotb_tools.runner import get_runner

    from rtl.build import TOP

    setup_path()
    # Large builds run long simulations: compile them with -O2 (verilated.mk's default is -Os, ~2x slower to
    # simulate here); small test builds keep -Os, which compiles faster.
    opt = "-O2" if simulator == "verilator" and params.n_total >= LARGE_BUILD else ""
    bdir = build_dir(simulator, params, root) / (("waves" if waves else "plain") + opt)
    bdir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(simulator)
    stamp = bdir / "built.json"
    want = {"simulator": simulator, "waves": waves, "key": params_key(params)}
    args = []
    if simulator == "verilator":
        args = [str(LINT_WAIVERS), "-Wall", "-Wno-fatal"]  # lint cleanliness is checked by rtl.tools.lint
    # One builder per build dir at a time (tests, SimClients and benchmarks may share a cached build).
    with open(bdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            src = ensure_verilog(params, bdir)
            if drop_damaged_model(simulator, bdir):
                print(f"sim: the cached model in {bdir} does not match its build stamp (damaged); rebuilding it",
                      flush=True)
            saved = os.environ.get("MAKEFLAGS", "")
            if opt:
                os.environ["MAKEFLAGS"] = f"{saved} OPT_FAST={opt}".strip()
            try:
                runner.build(sources=[str(src)], hdl_toplevel=TOP, build_dir=str(bdir), timescale=("1ns", "1ps"),
                             build_args=args, waves=waves, always=False)
            finally:
                os.environ["MAKEFLAGS"] = saved
            stamp.write_text(json.dumps(want | {"sha256": _sha256(model_file(simulator, bdir))}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return runner, bdir, TOP
