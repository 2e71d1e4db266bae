"""Cycle and wall-time benchmark of the RTL at the PYNQ-Z2 build (n=1024, M=8, L=64, 4-bit K) in Verilator.

Measures: Verilator build time, cycles per Euler step against the N*(N+M)/L bound (overhead %), and the wall
time of one image after the model is loaded (drive + phases in, 10 steps, readback) through SimClient.
Every run's phases are checked bit for bit against fixedpoint.golden. Results: benchmarks/results/bench_cycles.json.

    python benchmarks/bench_cycles.py [--n 1024 --n-cond 8 --lanes 64 --format pynq-z2-n1024] [--images 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixedpoint.golden import GoldenModel, initial_phases  # noqa: E402
from fixedpoint.layout import LOAD_TARGETS, model_streams, request_streams, words_to_phases  # noqa: E402
from fixedpoint import cli  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams, get_format  # noqa: E402
from rtl import regs  # noqa: E402
from rtl.build import atomic_write  # noqa: E402
from sim.client import SimClient  # noqa: E402
from sim.env import build  # noqa: E402
from sim.images import random_image  # noqa: E402


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_cycles.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=cli.positive_int, default=1024, help="main oscillators (default 1024)")
    ap.add_argument("--n-cond", type=cli.positive_int, default=8, help="conditioning oscillators (default 8)")
    ap.add_argument("--lanes", type=cli.positive_int, default=64, help="MAC lanes (default 64)")
    ap.add_argument("--format", default="pynq-z2-n1024", choices=sorted(FORMATS),
                    help="numerics format (default pynq-z2-n1024)")
    ap.add_argument("--images", type=cli.int_range(1, 10_000), default=3, help="images to run (default 3)")
    ap.add_argument("--steps", type=cli.int_range(1, 1000), default=10, help="Euler steps per image (default 10)")
    ap.add_argument("--out", type=cli.output_file(cli.JSON_FORMATS),
                    default=str(Path(__file__).resolve().parent / "results" / "bench_cycles.json"),
                    help="results file (default benchmarks/results/bench_cycles.json)")
    a = ap.parse_args(argv)
    try:
        p = HardwareParams(a.n, a.n_cond, a.lanes, get_format(a.format))
    except ValueError as e:
        ap.error(str(e))
    res = {"params": p.to_dict(), "mac_cycles_per_step": p.mac_cycles_per_step}

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
    })
    print(json.dumps(res, indent=2))
    out = Path(a.out)
    atomic_write(out, json.dumps(res, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
