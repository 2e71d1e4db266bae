"""Xilinx 7-series resource estimate of the core with Debian yosys (`synth_xilinx -family xc7`, `stat -json`)
against the XC7Z020 (PYNQ-Z2), plus the cycle accounting. Yosys counts are estimates (Vivado maps differently).

    python -m rtl.resources --config pynq-z2 --out docs/resources.md
    python -m rtl.resources --config pynq-z2-streamed --out docs/resources.md   # the streamed-K build (n6656, B 3)
    python -m rtl.resources --rerender --out docs/resources.md   # no synthesis: after benchmarks/bench_cycles.py

A named build (--config) re-synthesizes that build only; the other named builds --out already records keep their
recorded counts, so docs/resources.md holds every named build.
    python -m rtl.resources --n 256 --n-cond 8 --lanes 16 --format pynq-z2-n1024 --out out/res.md
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from fixedpoint import cli
from fixedpoint.spec import BUS_BITS, FORMATS, PYNQ_Z2, HardwareParams, get_format
from fixedpoint.status import status

from .build import TOP, atomic_write, write_verilog
from .core import OscillatorCore

_ZERO_LOOP = re.compile(r"  integer (\w+)_init_i;\n  initial begin\n    for \(\1_init_i = 0;[^\n]*\n      \1\[\1_init_i\] = \d+'h0;\n  end\n")
#: The same all-zero initialisation written out address by address (Amaranth does this for some memories, e.g. the
#: streamed-K build's phase, trig and omega memories: 66,000 lines at n6656).
_ZERO_LIST = re.compile(r"  initial begin\n(?:    \w+\[\d+\] = \d+'[dh]0;\n)+  end\n")

#: XC7Z020 capacity (Zynq-7000 data sheet DS190, Table 3).
XC7Z020 = {"LUT": 53_200, "FF": 106_400, "DSP48E1": 220, "BRAM36": 140, "CARRY4": 13_300}
#: The streamed-K PYNQ-Z2 build of imagenet64-n6656 (bitstreams.streamed.pynq_z2_build picks it: 4-bit K read from
#: DDR over two HP ports, 3 samples per pass over K); tests/test_rtl_resources.py keeps the two in step.
PYNQ_Z2_STREAMED = HardwareParams(n=6656, n_cond=1, lanes=64, spec=FORMATS["pynq-z2-n1024"], batch=3,
                                  k_source="ddr", k_ports=2)
CONFIGS = {"pynq-z2": PYNQ_Z2, "pynq-z2-streamed": PYNQ_Z2_STREAMED}


def count(cells: dict[str, int]) -> dict[str, float]:
    lut = sum(v for k, v in cells.items() if k.startswith("LUT") or k in ("MUXF7", "MUXF8"))
    lutram = sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB"))
    ff = sum(cells.get(k, 0) for k in ("FDRE", "FDSE", "FDCE", "FDPE"))
    r18, r36 = cells.get("RAMB18E1", 0), cells.get("RAMB36E1", 0)
    return {"LUT": lut, "LUTRAM cells": lutram, "FF": ff, "DSP48E1": cells.get("DSP48E1", 0), "RAMB18E1": r18,
            "RAMB36E1": r36, "BRAM36": r36 + r18 / 2, "CARRY4": cells.get("CARRY4", 0)}


def synthesize(params: HardwareParams, yosys: str = "yosys", timeout_s: int = 3600) -> tuple[dict, float, dict]:
    """(raw cell counts, yosys seconds, logic depth) of `params`' core after `synth_xilinx -family xc7`.

    The depth (rtl.depth.analyze) is read from the same mapped netlist, flattened after the cells are counted."""
    from .depth import analyze

    exe = shutil.which(yosys)
    if not exe:
        raise RuntimeError(f"{yosys} not found: apt-get install yosys (Debian 12 ships 0.23)")
    with tempfile.TemporaryDirectory() as d:
        v = write_verilog(params, d)
        # Block RAM powers up as zero anyway; dropping the zero-init loops keeps Yosys from materialising
        # one init word per memory address (over 10 min and 12 GB at the PYNQ-Z2 build).
        v.write_text(_ZERO_LIST.sub("", _ZERO_LOOP.sub("", v.read_text())))
        stat, flat = Path(d) / "stat.json", Path(d) / "flat.json"
        # Run in the build folder with relative names: Yosys puts the source file's name into the names of the
        # cells it creates ($mul$osc_core.v:123$4), which the logic-depth report quotes.
        script = (f"read_verilog {v.name}; synth_xilinx -family xc7 -noiopad -top {TOP}; tee -q -o {stat.name} "
                  f"stat -json; flatten; setattr -unset src; write_json {flat.name}")
        t = time.time()
        with status(f"yosys synth_xilinx of the n={params.n}, {params.lanes}-lane core (minutes)"):
            res = subprocess.run([exe, "-q", "-p", script], capture_output=True, text=True, timeout=timeout_s, cwd=d)
        if res.returncode:
            raise RuntimeError(f"yosys failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        secs = time.time() - t
        cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
        with status("logic depth of the mapped netlist"):
            depth = analyze(json.loads(flat.read_text()), top=TOP)
        return cells, secs, depth


def cycle_accounting(p: HardwareParams) -> dict[str, int]:
    """Cycles of one Euler step when the lanes never wait (on-chip K, or DDR keeping up): conditioning group
    (B*M*PD: its drive_passes digit sweeps), B*G*(n+M*PD) MAC cycles (HardwareParams.mac_cycles_per_step), then the
    drain (MAC pipeline, the last group's B*last_group_rows feeder rows, post-processor, CORDIC, FSM)."""
    from .cordic import CordicPipeline

    B = p.batch
    drain = (OscillatorCore.MAC_LATENCY + B * p.last_group_rows + OscillatorCore.POST_LATENCY
             + CordicPipeline.latency_for(p.spec) + 3)
    cond = B * p.n_cond * p.drive_passes
    step = cond + p.mac_cycles_per_step + drain
    return {"mac_bound": p.mac_cycles_per_step, "cond_group": cond, "drain": drain, "step_model": step,
            "init_pass": p.state_words + OscillatorCore.POST_LATENCY + CordicPipeline.latency_for(p.spec) + 3}


def streamed_cycle_accounting(p: HardwareParams, port_beats_per_cycle: float, latency_cycles: int) -> dict:
    """Cycles of one Euler step of a streamed-K build whose memory delivers `port_beats_per_cycle` AXI beats per
    clock on each read port after `latency_cycles` from the step's first request (bursts pipelined).

    compute: cycle_accounting's step (lanes never wait). ddr: the latency, the step's k_beats_used wide beats at
    the memory's rate (a group's drive passes run while the beat FIFO fills), then the drain. The step takes the
    larger.
    """
    acc = cycle_accounting(p)
    if not p.k_streamed:
        return {**acc, "compute": acc["step_model"], "ddr": 0, "bound": "compute"}
    ddr = latency_cycles + p.k_beats_used / min(1.0, port_beats_per_cycle) + acc["drain"]
    step = max(acc["step_model"], ddr)
    return {**acc, "compute": acc["step_model"], "ddr": ddr, "step_model": step,
            "bound": "ddr" if ddr > acc["step_model"] else "compute"}


#: The cycle benchmark's results (benchmarks/bench_cycles.py): STEP_CYCLES and CYCLES measured in Verilator.
BENCH_CYCLES = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "bench_cycles.json"


def measured_cycles(p: HardwareParams, path: Path | None = None) -> dict | None:
    """The cycle benchmark's measurement of a build with `p`'s cycle structure (n, n_cond, lanes, batch, CORDIC
    iterations), else None (no file, another build, or a run that was not bit-exact).

    Returns {"step_cycles", "run_cycles", "steps", "mac_cycles_per_step", "source"}; `run_cycles` is one image:
    `steps` Euler steps and the init pass (the core's CYCLES counter). Raises ValueError when the file is not what
    benchmarks/bench_cycles.py writes (fields missing, not integers, or out of range)."""
    path = Path(path or BENCH_CYCLES)
    if not path.is_file():
        return None
    try:
        res = json.loads(path.read_text())
        got = res["params"]
        key = (int(got["n"]), int(got["n_cond"]), int(got["lanes"]), int(got.get("batch", 1)),
               int(got["spec"]["cordic_iters"]))
        step, run, steps = (res[k] for k in ("step_cycles", "run_cycles", "steps"))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a bench_cycles result ({e}); re-run python benchmarks/bench_cycles.py") from None
    if not all(isinstance(v, int) and 0 < v < 1 << 40 for v in (step, run, steps)):
        raise ValueError(f"{path}: step_cycles, run_cycles and steps must be positive integers")
    if key != (p.n, p.n_cond, p.lanes, p.batch, p.spec.cordic_iters) or res.get("bit_exact") is not True:
        return None
    return {"step_cycles": step, "run_cycles": run, "steps": steps, "mac_cycles_per_step": p.mac_cycles_per_step,
            "source": "benchmarks/results/bench_cycles.json (STEP_CYCLES, CYCLES in Verilator)"}


def build_line(p: HardwareParams) -> str:
    """One line naming the build (bitstreams.resources.resources_from_rtl_report finds a build's section by it)."""
    line = (f"Build: n={p.n}, n_cond={p.n_cond}, lanes={p.lanes}, K {p.spec.coupling_bits}-bit, "
            f"drive {p.spec.drive_bits}-bit, trig {p.spec.trig_bits}-bit")
    if p.k_streamed or p.batch > 1:
        line += f", batch {p.batch}, K {'streamed from DDR over ' + str(p.k_ports) + ' AXI4 read ports' if p.k_streamed else 'on chip'}"
    if p.lut_lanes:
        line += f", {p.lut_lanes} LUT-multiplier lanes"
    return line


def depth_lines(depth: dict, sub: str) -> list[str]:
    """Markdown of one build's logic depth (rtl.depth.analyze's result): the critical path, the deepest paths into
    the six deepest destinations, and the raw result (read back by `recorded`)."""
    c = depth["critical"]
    lines = [f"{sub} Logic depth (register to register, after synth_xilinx; see 'Logic depth and 100 MHz')", "",
             "| | |", "|---|---|",
             f"| deepest path (estimate) | {c['delay_ns']:.2f} ns: `{c['from']}` ({c['from_cell']}) to `{c['to']}` "
             f"({c['to_cell']}) |",
             f"| on that path | {c['lut_levels']} LUT levels, {c['muxf']} MUXF7/8, {c['carry4']} CARRY4, "
             f"{c['dsp']} DSP48E1, {c['nets']} nets |",
             f"| cell delay + nets | {c['cells_ns']:.2f} ns + {c['nets']} x {depth['net_ns']:g} ns |",
             f"| average net delay at which it still meets {depth['clock_ns']:g} ns (less "
             f"{depth['uncertainty_ns']:g} ns uncertainty) | {c['net_budget_ns']:.2f} ns |",
             f"| most LUT levels (LUT, LUT-RAM read, MUXF) on any path | {depth['max_lut_levels']} |",
             f"| longest CARRY4 chain on any path | {depth['max_carry4']} ({4 * depth['max_carry4']} bits) |",
             f"| timed endpoints | {depth['endpoints']} |", "",
             "| destination | from | estimate (ns) | LUT levels | MUXF | CARRY4 | DSP48E1 | nets | net budget (ns) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for q in depth["paths"]:
        lines.append(f"| `{q['to']}` ({q['to_cell']}) | `{q['from']}` ({q['from_cell']}) | {q['delay_ns']:.2f} | "
                     f"{q['lut_levels']} | {q['muxf']} | {q['carry4']} | {q['dsp']} | {q['nets']} | "
                     f"{q['net_budget_ns']:.2f} |")
    return lines + ["", "Logic depth (raw):", "", "```", json.dumps(depth, indent=1, sort_keys=True), "```", ""]


def section(params: HardwareParams, cells: dict, seconds: float, heading: str = "", depth: dict | None = None
            ) -> list[str]:
    """Markdown of one synthesized build: resource table against the XC7Z020, raw cells, logic depth (when
    measured), cycle accounting."""
    c = count(cells)
    acc = cycle_accounting(params)
    B = params.batch
    lines = ([f"## {heading}", ""] if heading else []) + [
        f"{build_line(params)}. Yosys run time {seconds:.0f} s.", "",
        "| resource | used | XC7Z020 | % |", "|---|---|---|---|"]
    for k in ("LUT", "FF", "DSP48E1", "BRAM36", "CARRY4"):
        lines.append(f"| {k} | {c[k]:g} | {XC7Z020[k]} | {100 * c[k] / XC7Z020[k]:.1f} |")
    sub = "###" if heading else "##"
    lines += ["", f"BRAM detail: {c['RAMB36E1']} RAMB36E1 + {c['RAMB18E1']} RAMB18E1; LUTRAM cells {c['LUTRAM cells']}.",
              "", "Raw cell counts:", "", "```", json.dumps(cells, indent=1, sort_keys=True), "```", ""]
    if depth:
        lines += depth_lines(depth, sub)
    lines += [f"{sub} Cycle accounting (per Euler step)", "",
              f"- MAC bound {'B·' if B > 1 else ''}G·(N+M·PD) = {acc['mac_bound']} cycles (G = {params.groups} groups "
              f"of {params.lanes} lanes, {params.lut_lanes} of them LUT multipliers; PD = {params.drive_passes} "
              "drive digits)",
              f"- conditioning group first ({'B·' if B > 1 else ''}M·PD digit columns): +{acc['cond_group']} cycles",
              f"- drain of the last group (MAC {OscillatorCore.MAC_LATENCY} + {'B·' if B > 1 else ''}"
              f"{params.last_group_rows} rows + post "
              f"{OscillatorCore.POST_LATENCY} + CORDIC + 3): +{acc['drain']} cycles",
              f"- model: {acc['step_model']} cycles/step = {100 * (acc['step_model'] / acc['mac_bound'] - 1):.2f} % over the bound",
              f"- once per run: init CORDIC pass {acc['init_pass']} cycles"]
    meas = measured_cycles(params)
    if meas:
        from .depth import CLOCK_NS

        lines.append(f"- measured ({meas['source']}): {meas['step_cycles']} cycles/step = "
                     f"{100 * (meas['step_cycles'] / acc['mac_bound'] - 1):.2f} % over the bound; one image "
                     f"({meas['steps']} steps + init pass) {meas['run_cycles']} cycles = "
                     f"{meas['run_cycles'] * CLOCK_NS / 1e6:.3f} ms at {1e3 / CLOCK_NS:g} MHz")
    if params.k_streamed:
        lines.append(f"- K from DDR: {params.k_beats_used} wide beats ({params.k_ports} x {params.k_beat_bits // params.k_ports}"
                     f" bit) per Euler step, {params.k_ddr_bytes / 2**20:.1f} MiB; the step takes the larger of the model "
                     "above and the DDR side (rtl.resources.streamed_cycle_accounting; measured in "
                     "benchmarks/results/streamed.md)")
        s, BN, nt = params.spec, params.state_words, params.n_total
        lines += ["", f"{sub} On-chip memories of the streamed-K build (they scale with B·n; K itself is in DDR)", "",
                  "| memory | depth x width | where |", "|---|---|---|",
                  f"| phases, B·(n+M) | {BN} x {s.phase_bits} | block RAM |",
                  f"| trig (sin, cos), two buffers (current, next) | 2 x {BN} x {2 * s.trig_bits} | block RAM, one "
                  "true-dual-port memory each |",
                  f"| gain, n+M | {nt} x {s.gain_bits} | block RAM |",
                  f"| omega increments, n+M | {nt} x {BUS_BITS} | block RAM |",
                  f"| K read FIFOs, one per port | {params.k_ports} x 128 x {params.k_beat_bits // params.k_ports} | "
                  "block RAM (n-independent) |",
                  f"| drive banks, one per lane | {params.lanes} x {params.drive_bank_depth} x {s.drive_bits} | LUT RAM |",
                  f"| accumulators (sin, cos) and row feeders | 4·B·L x {params.acc_bits} bit | flip-flops |", "",
                  "Each trig buffer has one read/write port (the post-processor's own-trig read while it is current, "
                  "the CORDIC's write while it is next) and one read port (the MAC broadcast). Until issue 11 the trig "
                  "was one memory of 2·B·(n+M) words with two read ports, which yosys (and Vivado) build once per "
                  "read port: 112.5 BRAM36 at n6656 B 3 against the 72 the budget counted. "
                  "bitstreams.streamed.budget counts the fewest RAMB18E1 of each of these memories over the 7-series "
                  "aspect ratios (UG473) and sizes the batch with it; docs/roadmap.md §4 lists that budget for every "
                  "streamed configuration next to these counts; a Vivado run decides the final packing."]
    return lines + [""]


DEPTH_NOTE = """## Logic depth and 100 MHz

No open place and route exists for the XC7Z020, so the clock rests on the netlist Yosys maps: `rtl.depth` flattens
the `synth_xilinx` netlist and times every path between two clocked elements (flip-flops, block RAM ports, DSP48E1
pipeline registers, LUT-RAM write ports). Cell delays are the per-arc figures of the cell library synth_xilinx maps
to (Yosys `techlibs/xilinx/cells_sim.v` `specify` blocks, which cite Project X-Ray's measured timing database for a
-1 speed-grade 7-series part, github.com/SymbiFlow/prjxray-db `artix7/timings`): a LUT input to its output
0.127 to 0.642 ns by the pin the mapper used, a CARRY4 carry-in to carry-out 0.114 ns per 4 bits (up to 0.580 ns to
enter a chain), a flip-flop clock-to-output 0.303 ns, block RAM clock-to-output 2.454 ns (no output register), a
DSP48E1 multiply 2.690 (B) to 2.823 (A) ns to P when no pipeline register is on the way. The
XC7Z020's programmable logic is the same 28 nm 7-series fabric; Xilinx DS187 (Zynq-7000 SoC DC and AC switching
characteristics, -1 grade: CLB, block RAM and DSP48E1 switching characteristics, T_ILO, T_BYP, T_RCKO_DO,
T_DSPDCK_*) is the data sheet to check these arcs against; it was not at hand offline, so the figures above are
the library's, not compared with it. Routing is unknown before placement: each net counts a
planning {net:g} ns, except the dedicated CARRY4 and DSP48E1 cascades. A path meets {clock:g} ns at 100 MHz when
clock-to-output + cells + nets + setup stay under the period less {unc:g} ns of clock uncertainty; the table gives,
for each deep path, the average net delay at which it still does (0.5 ns per net is typical of short local
routes; long fan-out nets exceed it). Only Vivado's post-route timing report (bitstreams/pynq-z2/build_bitstream.tcl)
measures the clock; this estimate says which paths it will name first.
"""


def report(params: HardwareParams, cells: dict, seconds: float, others: list | None = None,
           depth: dict | None = None) -> str:
    """docs/resources.md: `params`' synthesis first, then each (name, params, cells, seconds, depth) of `others`
    under a heading of its own (the streamed-K build of the PYNQ-Z2 next to the on-chip one); the logic-depth note
    when any build's depth is known."""
    from .depth import CLOCK_NS, CLOCK_UNCERTAINTY_NS, NET_NS

    lines = ["# Resource estimate (yosys synth_xilinx, XC7Z020)", "",
             "Generated by `python -m rtl.resources`; counts are Yosys 7-series estimates, not Vivado results.", ""]
    lines += section(params, cells, seconds, depth=depth)
    for name, p, c, secs, dep in others or []:
        lines += section(p, c, secs, depth=dep, heading=f"{name}: {'streamed-K build' if p.k_streamed else 'build'} "
                                                        f"(n={p.n}, batch {p.batch})")
    if depth or any(o[4] for o in others or []):
        lines += DEPTH_NOTE.format(net=NET_NS, clock=CLOCK_NS, unc=CLOCK_UNCERTAINTY_NS).splitlines() + [""]
    return "\n".join(lines)


def recorded(path: Path) -> list[tuple[str, dict, float, dict | None]]:
    """(build line, raw cells, yosys seconds, logic depth or None) of every build a report written by `report`
    records, in order."""
    text = path.read_text()
    found = re.findall(r"^(Build: [^\n]*?)\. Yosys run time (\d+) s\.\n.*?Raw cell counts:\n\n```\n(.*?)\n```\n"
                       r"(?:\n#+ Logic depth [^\n]*\n.*?Logic depth \(raw\):\n\n```\n(.*?)\n```\n)?",
                       text, re.S | re.M)
    return [(b, json.loads(c), float(secs), json.loads(d) if d else None) for b, secs, c, d in found]


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m rtl.resources", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), help="a named build (else give --n/--n-cond/--lanes)")
    ap.add_argument("--n", type=cli.positive_int, help="main oscillators (with --n-cond, --lanes; instead of --config)")
    ap.add_argument("--n-cond", type=cli.positive_int, help="conditioning oscillators")
    ap.add_argument("--lanes", type=cli.positive_int, help="MAC lanes")
    ap.add_argument("--format", default=None, choices=sorted(FORMATS),
                    help="numerics format (fixedpoint.spec.FORMATS; default pynq-z2-n1024)")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS), required=True,
                    help=".md report to write (.json beside it)")
    ap.add_argument("--timeout", type=cli.int_range(1, 7 * 24 * 3600), default=3600,
                    help="yosys time limit in seconds")
    ap.add_argument("--rerender", action="store_true",
                    help="no synthesis: re-render --out from the builds it records (after a cycle benchmark or an "
                         "RTL latency change)")
    a = ap.parse_args(argv)
    if a.rerender:
        if a.config or a.n or a.n_cond or a.lanes or a.format:
            ap.error("--rerender re-renders the recorded builds; drop --config/--n/--n-cond/--lanes/--format")
        out = Path(a.out)
        try:
            kept = {b: (c, secs, dep) for b, c, secs, dep in recorded(out)} if out.is_file() else {}
            text = named_report({}, kept)
        except ValueError as e:
            ap.error(f"--out {out}: {e}; synthesize with --config first")
        atomic_write(out, text)
        print(f"re-rendered {out} ({len(kept)} recorded builds)")
        return 0
    given = [x for x, v in (("--n", a.n), ("--n-cond", a.n_cond), ("--lanes", a.lanes), ("--format", a.format))
             if v is not None]
    if a.config:
        if given:
            ap.error(f"--config {a.config} fixes the build; drop {', '.join(given)}")
        params = CONFIGS[a.config]
    elif a.n and a.n_cond and a.lanes:
        try:
            params = HardwareParams(a.n, a.n_cond, a.lanes, get_format(a.format or "pynq-z2-n1024"))
        except ValueError as e:
            ap.error(str(e))
    else:
        ap.error("give --config or all of --n, --n-cond, --lanes")
    out = Path(a.out)
    kept = {}
    if a.config and out.exists():
        try:
            kept = {b: (c, secs, dep) for b, c, secs, dep in recorded(out)}
        except ValueError as e:
            ap.error(f"--out {out}: its raw cell counts are not JSON ({e}); write to a new file")
    cells, secs, depth = synthesize(params, timeout_s=a.timeout)
    if a.config:
        text = named_report({a.config: (cells, secs, depth)}, kept)
    else:
        text = report(params, cells, secs, depth=depth)
    atomic_write(out, text)
    crit = depth["critical"]
    print(json.dumps(count(cells)), f"yosys {secs:.0f} s; deepest path {crit['delay_ns']} ns "
          f"({crit['lut_levels']} LUT levels, {crit['carry4']} CARRY4)")
    return 0


def named_report(fresh: dict[str, tuple[dict, float, dict | None]],
                 kept: dict[str, tuple[dict, float, dict | None]]) -> str:
    """The report of the named builds (CONFIGS order): (cells, seconds, depth) synthesized now (`fresh`, by config
    name), else those recorded for the same build line (`kept`, from `recorded`); builds with neither are left out."""
    have = []
    for name, p in CONFIGS.items():
        got = fresh.get(name) or kept.get(build_line(p))
        if got:
            have.append((name, p, *got))
    if not have:
        raise ValueError("no counts for any named build")
    (_, p0, c0, s0, d0), rest = have[0], have[1:]
    return report(p0, c0, s0, others=rest, depth=d0)


if __name__ == "__main__":
    raise SystemExit(main())
