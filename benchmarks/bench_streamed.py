"""Streamed-K core: cycles per Euler step measured in Verilator against a DDR model at the PYNQ-Z2 planning rate,
the cycle model checked against them, and modelled images/s on the PYNQ-Z2 for every Un-0 configuration.

1. Simulation (sim/tb_streamed_bench.py): each build reads K over two AXI4 read ports from cocotbext-axi AXI RAMs
   whose R channels deliver bitstreams.streamed.port_beats_per_cycle (1.45 GB/s for two HP ports at 100 MHz,
   hardware.md §8) after a first-access latency; STEP_CYCLES and K_WAIT_CYCLES (compute vs waiting for DDR) are
   read from the core, every run is compared with fixedpoint.golden bit for bit, and the cycle model
   (rtl.resources.streamed_cycle_accounting) is compared with the measurement.
2. Model (bitstreams.streamed.plan): per Un-0 configuration and K width, the batch that fits the XC7Z020, the
   larger of compute and DDR cycles per step, images/s at 100 MHz, the DDR the K planes take.

    python benchmarks/bench_streamed.py                      # default simulated builds (a few minutes)
    python benchmarks/bench_streamed.py --sim 256:1,1024:2   # n:batch pairs to simulate; --sim none: model only
    python benchmarks/bench_streamed.py --sim 256:1,256:3,1024:2,4096:2,6656:3:10:1
                                        # n:batch[:steps[:runs]]: the last build runs 10 Euler steps once
                                        # (B = 3 images, mixed classes, bit for bit against golden)
    python benchmarks/bench_streamed.py --reuse-sim          # recompute the modelled table only (after a plan change)

Results: benchmarks/results/streamed.json and streamed.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_description, write_atomic  # noqa: E402
from bitstreams import streamed  # noqa: E402
from bitstreams.roadmap_model import UN0_CONFIGS  # noqa: E402
from fixedpoint import cli  # noqa: E402
from fixedpoint.files import check_output  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams, get_format  # noqa: E402
from model.config import CONFIGS  # noqa: E402
from rtl.resources import streamed_cycle_accounting  # noqa: E402
from sim.runner import run_cocotb  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {("imagenet64-n6656", 4): 12.0, ("imagenet64-n16384", 4): 2.0}
K_FORMATS = {4: "pynq-z2-n1024", 8: "default"}


def simulate(n: int, batch: int, n_cond: int, fmt: str, ports: int, steps: int, samples: int) -> dict:
    p = HardwareParams(n, n_cond, streamed.LANE_CHOICES[0], get_format(fmt), batch=batch, k_source="ddr", k_ports=ports)
    rate = streamed.port_beats_per_cycle(ports)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs.json"
        t = time.time()
        run_cocotb("verilator", p, "sim.tb_streamed_bench", tmp, opts={
            "port_beats_per_cycle": rate, "latency_cycles": streamed.DDR_LATENCY_CYCLES, "steps": steps,
            "samples": samples, "out": str(out)})
        runs = json.loads(out.read_text())
    model = streamed_cycle_accounting(p, rate, streamed.DDR_LATENCY_CYCLES)
    step = sorted(r["step_cycles"] for r in runs)[len(runs) // 2]
    wait = sorted(r["k_wait_cycles"] for r in runs)[len(runs) // 2]
    return {"n": n, "n_cond": n_cond, "batch": batch, "format": fmt, "ports": ports, "steps": steps,
            "wall_s": round(time.time() - t, 1), "bit_exact": all(r["bit_exact"] for r in runs),
            "images_checked": samples * batch,
            "step_cycles": step, "k_wait_cycles": wait, "compute_cycles": step - wait,
            "model_compute": model["compute"], "model_ddr": round(model["ddr"]), "model_step": round(model["step_model"]),
            "model_error": (model["step_model"] - step) / step, "bound": model["bound"],
            "within_10pct_of_bound": step <= 1.10 * max(model["compute"], model["ddr"]), "runs": runs}


def rtl_revision() -> str:
    """The commit the simulated RTL comes from ("<sha> (modified)" when rtl/ or fixedpoint/ differ from it)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rtl", "fixedpoint"], cwd=root,
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{sha} (modified)" if dirty else sha


def model_table(steps: int, ports: int) -> list[dict]:
    rows = []
    for name in UN0_CONFIGS:
        cfg = CONFIGS[name]
        for bits, fmt in K_FORMATS.items():
            r = streamed.plan(cfg.n, cfg.n_cond, FORMATS[fmt], steps=steps, ports=ports)
            c = r["cycles"]
            rows.append({"config": name, "k_bits": bits, "batch": r["params"].batch, "bound": c["bound"],
                         "compute_cycles_per_step": round(c["compute"]), "ddr_cycles_per_step": round(c["ddr"]),
                         "images_per_s": round(r["images_per_s"], 2), "k_mib": round(r["k_ddr_bytes"] / 2**20, 1),
                         "k_plane_mib": round(r["k_plane_bytes"] / 2**20, 1), "fits_stock_cma": r["fits_stock_cma"],
                         "cma_needed_mib": r["cma_needed_mib"], "bram36": r["budget"].bram36,
                         "target": TARGETS.get((name, bits))})
    return rows


def markdown(res: dict) -> str:
    lines = ["# Streamed-K core on the PYNQ-Z2 (benchmarks/bench_streamed.py)", "",
             f"Machine: {res['machine']}", "",
             f"RTL simulated: {res.get('rtl', 'not recorded')}", "",
             f"Memory model: {res['ports']} HP ports, {res['port_beats_per_cycle']:.3f} beats/clock each "
             f"({streamed.PLANNING_GBPS[res['ports']]} GB/s together at {streamed.clock_hz() / 1e6:.0f} MHz, "
             f"hardware.md §8 planning rate), first-access latency {streamed.DDR_LATENCY_CYCLES} clocks "
             "(assumption); 16-beat bursts, up to 8 in flight per port.", "",
             "## Cycles per Euler step, measured in Verilator", "",
             "| n | n_cond | B | K bits | steps | STEP_CYCLES | waiting for DDR | compute | model | model error | "
             "bound | within 10 % of max(compute, DDR) | images vs golden | bit-exact | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in res["simulated"]:
        lines.append(f"| {s['n']} | {s['n_cond']} | {s['batch']} | {get_format(s['format']).coupling_bits} | "
                     f"{s['steps']} | {s['step_cycles']} | {s['k_wait_cycles']} | {s['compute_cycles']} | "
                     f"{s['model_step']} | {100 * s['model_error']:+.1f} % | {s['bound']} | "
                     f"{'yes' if s['within_10pct_of_bound'] else 'NO'} | {s.get('images_checked', '')} | "
                     f"{'yes' if s['bit_exact'] else 'NO'} | "
                     f"{s['wall_s']} |")
    lines += ["", "STEP_CYCLES and K_WAIT_CYCLES are the last step's (median over the runs). Images vs golden: every "
              "sample of every run (B per run, each with its own class and seed) compared with fixedpoint.golden bit "
              "for bit after all its Euler steps.", "",
              "## Every Un-0 configuration on the PYNQ-Z2 at 100 MHz (modelled from the checked cycle model)", "",
              "| config | K bits | batch B | bound | compute cycles/step | DDR cycles/step | images/s | target | "
              "K in DDR (MiB) | fits stock 128 MiB CMA | BRAM36 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["model"]:
        tgt = "" if r["target"] is None else (f">= {r['target']:g}: " + ("met" if r["images_per_s"] >= r["target"]
                                                                          else "MISSED"))
        lines.append(f"| {r['config']} | {r['k_bits']} | {r['batch']} | {r['bound']} | {r['compute_cycles_per_step']} | "
                     f"{r['ddr_cycles_per_step']} | {r['images_per_s']} | {tgt} | {r['k_mib']} | "
                     f"{'yes' if r['fits_stock_cma'] else 'no: boot with cma=' + str(r['cma_needed_mib']) + 'M'} | "
                     f"{r['bram36']} |")
    lines += ["", "Images/s: B samples per run, each batch = per-request loads + init pass + 10 steps + readback; the "
              "decoder (on the ARM) is not included. A real board run still has to confirm the DDR rate and latency.",
              ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_streamed.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sim", default="256:1,256:3,1024:2",
                    help="builds to simulate as n:batch[:steps[:runs]] (steps and runs default to --steps and "
                         "--samples), or 'none'")
    ap.add_argument("--n-cond", type=cli.int_range(1, 256), default=1, help="conditioning oscillators of the simulated builds")
    ap.add_argument("--format", default="pynq-z2-n1024", help="numerics format of the simulated builds (K width)")
    ap.add_argument("--ports", type=int, default=2, choices=sorted(streamed.PLANNING_GBPS),
                    help="K read ports (HP ports); sets the planning DDR rate")
    ap.add_argument("--steps", type=cli.int_range(1, 1000), default=2, help="Euler steps per simulated run")
    ap.add_argument("--samples", type=cli.int_range(1, 1000), default=2, help="simulated runs per build")
    ap.add_argument("--out", default=str(RESULTS / "streamed"), help="result path without suffix (.json and .md)")
    ap.add_argument("--reuse-sim", action="store_true",
                    help="keep the simulated rows (and machine line) of the existing --out JSON and recompute only the "
                         "modelled table (after a change to bitstreams.streamed's plan; no simulation)")
    a = ap.parse_args(argv)
    if Path(a.out).suffix.lower() not in ("", ".md", ".json"):
        ap.error(f"--out {a.out!r}: give the results' path without a suffix (it writes STEM.md and STEM.json)")
    try:  # the stem names two files; both must be writable before the simulations
        for ext in (".md", ".json"):
            check_output(str(Path(a.out).with_suffix(ext)), "--out", formats=(ext,))
    except ValueError as e:
        ap.error(str(e))
    try:
        builds = [] if a.sim == "none" else [tuple(int(x) for x in item.split(":")) for item in a.sim.split(",")]
        if any(not 2 <= len(b) <= 4 or min(b) < 1 for b in builds):
            raise ValueError
    except ValueError:
        ap.error(f"--sim must be n:batch[:steps[:runs]] items of positive integers like 256:1,6656:3:10:1 "
                 f"(got {a.sim!r})")
    builds = [(b + (a.steps, a.samples)[len(b) - 2:])[:4] for b in builds]
    res = {"machine": machine_description("Verilator 5.48 + cocotb 2.1 + cocotbext-axi"), "ports": a.ports,
           "port_beats_per_cycle": streamed.port_beats_per_cycle(a.ports), "simulated": [],
           "model": model_table(10, a.ports), "rtl": rtl_revision()}
    if a.reuse_sim:
        if "--sim" in (argv if argv is not None else sys.argv[1:]):
            ap.error("--reuse-sim keeps the recorded simulations: drop --sim")
        try:
            old = json.loads(Path(a.out).with_suffix(".json").read_text())
            if not isinstance(old.get("simulated"), list) or old.get("ports") != a.ports:
                raise ValueError(f"no simulated rows for {a.ports} ports")
        except (OSError, ValueError, AttributeError) as e:
            ap.error(f"--reuse-sim: cannot reuse {Path(a.out).with_suffix('.json')} ({e}); run the simulations")
        res.update(machine=old["machine"], simulated=old["simulated"], rtl=old.get("rtl", "not recorded"))
        builds = []
    t0 = time.time()
    for n, b, steps, runs in tqdm(builds, desc="simulated builds", unit="build"):
        tqdm.write(f"[{time.time() - t0:6.0f} s] simulating n={n} B={b}: {runs} run(s) of {steps} Euler steps "
                   "(the first run of a build compiles it: minutes at large n)")
        s = simulate(n, b, a.n_cond, a.format, a.ports, steps, runs)
        res["simulated"].append(s)
        tqdm.write(f"[{time.time() - t0:6.0f} s] n={n} B={b}: {s['step_cycles']} cycles/step ({s['k_wait_cycles']} "
                   f"waiting for DDR), model {s['model_step']} ({100 * s['model_error']:+.1f} %), "
                   f"{s['images_checked']} images bit-exact {s['bit_exact']}")
    out = Path(a.out)
    write_atomic(out.with_suffix(".json"), json.dumps(res, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), markdown(res))
    print(markdown(res))
    ok = all(s["bit_exact"] for s in res["simulated"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
