"""The long RTL-vs-golden regression: at least 1000 bit-exact comparisons over several builds and both simulators,
for both builds of the core (sim.regression.TESTBENCHES: on-chip K, and K streamed from DDR, whose testbench
derives a small streamed build, batch 2 and one AXI4 read master with random stalls, from each size below).

Every comparison is one run of the core (random image, class, start phases and 0..14 Euler steps, or a directed
worst case: extreme weights/gains, wrap-edge phases, overflow after exactly one step) whose every phase word and
OVERFLOW flag equal fixedpoint.golden (sim/tb_core.py via sim.regression). Seeds: --seed, else OSC_SEED, else
clock-derived; the seed of every simulation is recorded, and `--seed S` replays the whole benchmark exactly.

    python benchmarks/bench_regression.py [--seed S] [--simulators icarus verilator] [--images 10 --runs 10]
                                          [--min-comparisons 1000] [--out benchmarks/results/regression.md]

Results: benchmarks/results/regression.md and regression.json (count per build and simulator, seeds, wall time,
machine and load). Exit status 1 when fewer than --min-comparisons ran; a mismatch fails at once with its seed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_description, write_atomic  # noqa: E402
from fixedpoint import cli  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams  # noqa: E402
from sim import regression  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: Builds of the long regression: the CI's small build, two K words per bank address, the wide format, n = L = M.
BUILDS = ((8, 2, 4, "default"), (16, 3, 8, "default"), (12, 2, 4, "wide"), (4, 4, 4, "pynq-z2-n1024"))


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_regression.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="session seed (default: OSC_SEED or clock-derived)")
    ap.add_argument("--simulators", nargs="+", default=["icarus", "verilator"], choices=["icarus", "verilator"],
                    help="HDL simulators to run every build on")
    ap.add_argument("--benches", nargs="+", default=list(regression.TESTBENCHES), choices=list(regression.TESTBENCHES),
                    help="builds of the core (testbenches in sim.regression.TESTBENCHES)")
    ap.add_argument("--images", type=int, default=10, help="random images per simulation")
    ap.add_argument("--runs", type=int, default=10, help="random runs per image")
    ap.add_argument("--min-comparisons", type=int, default=1000, help="fail (exit 1) below this many comparisons")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS), default=str(RESULTS / "regression.md"),
                    help=".md report (a .json lands beside it)")
    a = ap.parse_args(argv)
    if a.images < 1 or a.runs < 1:
        ap.error("--images and --runs must be positive")
    seed = a.seed if a.seed is not None else regression.session_seed()
    from tqdm import tqdm

    machine = machine_description()
    jobs = [(bench, sim, b) for bench in a.benches for sim in a.simulators for b in BUILDS]
    rows, t0 = [], time.perf_counter()
    bar = tqdm(jobs, unit="simulation", desc=f"regression seed {seed}")
    with tempfile.TemporaryDirectory(prefix="osc-regression-") as tmp:
        for k, (bench, sim, (n, m, lanes, fmt)) in enumerate(bar):
            params = HardwareParams(n, m, lanes, FORMATS[fmt])
            sim_seed = seed + 7919 * k
            bar.set_postfix_str(f"{sim} n{n}m{m}l{lanes}-{fmt} seed {sim_seed}")
            stats = regression.run(sim, params, Path(tmp) / f"{k}", seed=sim_seed, bench=bench,
                                   testcases=regression.TESTBENCHES[bench].all_tests, images=a.images, runs=a.runs,
                                   backpressure=k % 2 == 1)
            b = HardwareParams.from_dict(stats["params"])  # the build that ran (the streamed bench derives its own)
            stats["build"] = f"n{b.n} m{b.n_cond} L{lanes} {fmt}" + (f" B{b.batch} ddr" if b.k_streamed else "")
            rows.append(stats)
            tqdm.write(f"{sim:9s} {stats['build']:24s} seed {sim_seed}: {stats['comparisons']} comparisons "
                       f"in {stats['wall_s']} s")
    total = sum(r["comparisons"] for r in rows)
    wall = time.perf_counter() - t0
    res = {"seed": seed, "comparisons": total, "wall_s": round(wall, 1), "machine": machine,
           "load_average_end": round(os.getloadavg()[0], 2), "images": a.images, "runs": a.runs, "simulations": rows,
           "replay": f"python benchmarks/bench_regression.py --seed {seed} --images {a.images} --runs {a.runs}"}
    lines = ["# RTL vs golden: long regression", "",
             f"`{res['replay']}` — **{total} bit-exact comparisons**, all equal to `fixedpoint.golden` "
             f"(every phase word and the OVERFLOW flag), {wall:.0f} s wall.", "",
             f"Machine: {machine}; load average at the end {res['load_average_end']}.", "",
             "| simulator | bench | build | seed | comparisons | per test | s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        per = ", ".join(f"{k.removeprefix('test_')} {v}" for k, v in r["per_test"].items())
        lines.append(f"| {r['simulator']} | {r['bench']} | {r['build']} | {r['seed']} | {r['comparisons']} | {per} | "
                     f"{r['wall_s']} |")
    out = Path(a.out)
    write_atomic(out, "\n".join(lines) + "\n")
    write_atomic(out.with_suffix(".json"), json.dumps(res, indent=2) + "\n")
    print(f"{total} bit-exact comparisons (seed {seed}) in {wall:.0f} s; report {out}")
    if total < a.min_comparisons:
        print(f"error: only {total} comparisons, fewer than --min-comparisons {a.min_comparisons}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
