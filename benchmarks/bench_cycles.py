"""Cycle and wall-time benchmark of the RTL at the PYNQ-Z2 build (fixedpoint.spec.PYNQ_Z2: n=1024, M=8, 256 lanes,
4-bit K) in Verilator.

Measures: Verilator build time, cycles per Euler step against the MAC schedule's bound
(HardwareParams.mac_cycles_per_step, overhead %) and against rtl.resources.cycle_accounting's model, cycles per
image, and the wall time of one image after the model is loaded (drive + phases in, 10 steps, readback) through
SimClient. Every run's phases are checked bit for bit against fixedpoint.golden. Results:
benchmarks/results/bench_cycles.json, and a before/after table (--before: an earlier result of this benchmark) in
benchmarks/results/bench_cycles.md.

    python benchmarks/bench_cycles.py [--n 1024 --n-cond 8 --lanes 256 --lut-lanes 56 --format pynq-z2-n1024]
                                      [--images 3] [--before benchmarks/results/bench_cycles_before_64lanes.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixedpoint.golden import GoldenModel, initial_phases  # noqa: E402
from fixedpoint.layout import LOAD_TARGETS, model_streams, request_streams, words_to_phases  # noqa: E402
from fixedpoint import cli  # noqa: E402
from fixedpoint.spec import FORMATS, default_build  # noqa: E402
from rtl import regs  # noqa: E402
from rtl.build import atomic_write  # noqa: E402
from rtl.resources import cycle_accounting  # noqa: E402
from sim.client import SimClient  # noqa: E402
from sim.env import build  # noqa: E402
from sim.images import random_image  # noqa: E402


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_cycles.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=cli.positive_int, default=1024, help="main oscillators (default 1024)")
    ap.add_argument("--n-cond", type=cli.positive_int, default=8, help="conditioning oscillators (default 8)")
    ap.add_argument("--lanes", type=cli.positive_int, default=None,
                    help="MAC lanes (default: fixedpoint.spec.default_build's, 256 at n1024)")
    ap.add_argument("--lut-lanes", type=cli.int_range(0, 4096), default=None,
                    help="MAC lanes with LUT multipliers (default: fixedpoint.spec.lut_lanes_for the DSP budget)")
    ap.add_argument("--format", default="pynq-z2-n1024", choices=sorted(FORMATS),
                    help="numerics format (default pynq-z2-n1024)")
    ap.add_argument("--images", type=cli.int_range(1, 10_000), default=3, help="images to run (default 3)")
    ap.add_argument("--steps", type=cli.int_range(1, 1000), default=10, help="Euler steps per image (default 10)")
    ap.add_argument("--before", type=cli.existing_file, default=None,
                    help="an earlier bench_cycles JSON result to tabulate against (writes <out>.md)")
    ap.add_argument("--out", type=cli.output_file(cli.JSON_FORMATS),
                    default=str(Path(__file__).resolve().parent / "results" / "bench_cycles.json"),
                    help="results file (default benchmarks/results/bench_cycles.json)")
    a = ap.parse_args(argv)
    try:
        p = default_build(a.n, a.n_cond, a.format, a.lanes)
        if a.lut_lanes is not None:
            p = replace(p, lut_lanes=a.lut_lanes)
        before = json.loads(Path(a.before).read_text()) if a.before else None
        if before is not None and not {"run_cycles", "steps", "params"} <= set(before):
            raise ValueError(f"{a.before} is not a bench_cycles result (needs run_cycles, steps, params)")
    except ValueError as e:
        ap.error(str(e))
    res = {"params": p.to_dict(), "mac_cycles_per_step": p.mac_cycles_per_step,
           "model_cycles_per_step": cycle_accounting(p)["step_model"]}

    t = time.time()
    build("verilator", p, own_clock=True)  # the build SimClient (the sim board) runs
    res["verilator_build_s"] = round(time.time() - t, 1)
    print(f"verilator build: {res['verilator_build_s']} s", flush=True)

    image = random_image(p, seed=1, num_classes=10, num_steps=a.steps)
    golden = GoldenModel(image)
    with SimClient(p) as sim:
        t = time.time()
        for name, words in tqdm(model_streams(image).items(), desc="model load", unit="stream"):
            sim.write_reg(regs.offset("LOAD_TARGET"), LOAD_TARGETS[name])
            sim.stream_in(words)
        res["model_load_s"] = round(time.time() - t, 2)
        res["model_load_words"] = int(sum(len(w) for w in model_streams(image).values()))
        print(f"model load: {res['model_load_words']} words in {res['model_load_s']} s", flush=True)
        sim.write_reg(regs.offset("STEPS"), a.steps)
        sim.write_reg(regs.offset("GAIN_SHIFT"), image.gain_shift)
        sim.write_reg(regs.offset("IRQ_ENABLE"), 1)
        walls, parts, ok = [], [], True
        for k in tqdm(range(a.images), desc="images", unit="image"):
            c = k % image.num_classes
            phases0 = initial_phases(100 + k, 1, p.n_total, p.spec)[0]
            t = time.time()
            for name, words in request_streams(image, c, phases0).items():
                sim.write_reg(regs.offset("LOAD_TARGET"), LOAD_TARGETS[name])
                sim.stream_in(words)
            t_in = time.time()
            sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "START"))
            sim.wait_irq(20 * (a.steps + 1) * p.mac_cycles_per_step)
            t_run = time.time()
            run_cpu = sim.last_cpu_s
            sim.write_reg(regs.offset("IRQ_STATUS"), 1)
            sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "READBACK"))
            got = words_to_phases(sim.stream_out(p.n_total), p)
            walls.append(time.time() - t)
            parts.append({"stream_in_s": round(t_in - t, 3), "run_s": round(t_run - t_in, 3),
                          "run_sim_cpu_s": round(run_cpu, 3),
                          "readback_s": round(time.time() - t_run, 3)})
            print(parts[-1], flush=True)
            exp = golden.run(c, phases0[None]).phases[0]
            ok &= bool(np.array_equal(got, exp))
            print(f"image {k}: {walls[-1]:.2f} s, bit-exact={np.array_equal(got, exp)}", flush=True)
        run_cycles = sim.read_reg(regs.offset("CYCLES_LO")) | (sim.read_reg(regs.offset("CYCLES_HI")) << 32)
        step_cycles = sim.read_reg(regs.offset("STEP_CYCLES"))
    import os

    res.update({
        "load_average_1min": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
        "bit_exact": ok, "image_wall_s": [round(w, 3) for w in walls], "image_wall_s_median": round(float(np.median(walls)), 3),
        "image_parts": parts, "step_cycles": step_cycles, "run_cycles": run_cycles, "steps": a.steps,
        "step_overhead_pct": round(100 * (step_cycles / p.mac_cycles_per_step - 1), 3),
        "run_overhead_pct": round(100 * (run_cycles / (a.steps * p.mac_cycles_per_step) - 1), 3),
        "request_words": int(sum(len(w) for w in request_streams(image, 0, phases0).values())),
        "model_overhead_pct": round(100 * (step_cycles / res["model_cycles_per_step"] - 1), 3),
        "cycles_per_image": run_cycles, "us_per_image_at_clock": round(run_cycles / CLOCK_MHZ, 1),
    })
    print(json.dumps(res, indent=2))
    out = Path(a.out)
    atomic_write(out, json.dumps(res, indent=2) + "\n")
    if before is not None:
        atomic_write(out.with_suffix(".md"), table_md(before, res))
    return 0 if ok else 1


#: PL clock the cycle counts are converted at (the PYNQ-Z2 block design's FCLK0).
CLOCK_MHZ = 100.0


def table_md(before: dict, after: dict) -> str:
    """Before/after table of two bench_cycles results (cycles per image of the same step count)."""
    def row(label, r):
        pr = r["params"]
        return (f"| {label} | {pr['lanes']} ({pr.get('lut_lanes', 0)} LUT) | {r['step_cycles']:,} | {r['run_cycles']:,} "
                f"| {r['run_cycles'] / CLOCK_MHZ / 1000:.3f} | {r['bit_exact']} | {r['load_average_1min']} |")
    ratio = before["run_cycles"] / after["run_cycles"]
    return "\n".join([
        "# Cycles per image at the PYNQ-Z2 build (Verilator, benchmarks/bench_cycles.py)", "",
        f"n={after['params']['n']}, n_cond={after['params']['n_cond']}, {after['steps']} Euler steps, 4-bit K; cycles "
        f"from the core's CYCLES / STEP_CYCLES registers, every image checked bit for bit against fixedpoint.golden. "
        f"Time at {CLOCK_MHZ:.0f} MHz. Load: 1-min load average of the {after['cpu_count']}-core machine at the end "
        "of each run (cycle counts do not depend on it).", "",
        "| build | lanes | cycles/step | cycles/image | ms/image | bit-exact | load |", "|---|---|---|---|---|---|---|",
        row("before (64 lanes, 2 DSP48E1 each)", before), row("after (digit-serial lanes, packed DSP + LUT)", after), "",
        f"Speed-up: {ratio:.2f}x fewer cycles per image. Model (rtl.resources.cycle_accounting): "
        f"{after['model_cycles_per_step']:,} cycles/step, measured {after['step_cycles']:,} "
        f"({after['model_overhead_pct']:+.2f} %).", ""])


if __name__ == "__main__":
    raise SystemExit(main())
