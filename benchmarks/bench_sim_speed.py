"""The sim board's wall time per cifar10-n1024 image, before and after its Verilator build options, alternated.

    python benchmarks/bench_sim_speed.py [--images 5] [--class-id 3] [--cold-build] [--out benchmarks/results/sim_speed.md]

Opens three sim boards on the PYNQ-Z2 core build (fixedpoint.spec.PYNQ_Z2; the trained checkpoints/cifar10-n1024
model when present, else a random init): the model as cocotb's runner builds it by default (--public-flat-rw: every
internal signal visible to VPI; clk toggled by a cocotb Clock), the same with only the top-level ports public, and
the sim board's build (sim/env.py: ports only, and the clock runs inside the model). All load the same model image,
then run the same requests (class, seed) image by image, the boards taking turns (the order reversed every other
image), so that load from other processes falls on all alike. Per image: seeded phases -> board (phases in, 10 Euler steps, readback) ->
decoder, timed end to end through host.api.Session, as `python -m host.run --board sim` does. Every image's
phases are checked bit for bit against the golden board. Reported: medians of wall time and of the simulator's
own CPU time (load-independent), their ratio old/new, the start (build or reuse + launch) and model load of
each board, and the machine with its load before and after; with --cold-build also the Verilator build times of
both recipes in fresh directories. Results: a Markdown file, written atomically.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks.bench_boards import checkpoint_for  # noqa: E402
from benchmarks.common import machine_description, write_atomic  # noqa: E402
from fixedpoint import cli  # noqa: E402
from fixedpoint.spec import PYNQ_Z2  # noqa: E402
from host.api import Session  # noqa: E402
from host.boards.golden import GoldenBoard  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: (label, SimClient all_signals, own_clock): the build cocotb's runner makes by default, then each change of the
#: sim board's build (last: the sim board's own)
VARIANTS = (("all signals, cocotb clock (cocotb's default)", True, False),
            ("ports only, cocotb clock", False, False),
            ("ports only, clock in the model (sim board)", False, True))


def _open(params, all_signals: bool, own_clock: bool):
    from host.boards.sim import SimBoard
    from sim.client import SimClient

    t0 = time.perf_counter()
    board = SimBoard(params, client=SimClient(params, all_signals=all_signals, own_clock=own_clock))
    return board, time.perf_counter() - t0


def cold_builds(params) -> list[tuple[str, float, float]]:
    """Verilator build times in fresh directories: each recipe cold (its own empty ccache), then the sim board's
    build again elsewhere with that ccache warm (what an unchanged design costs in a new directory), then reused."""
    import tempfile
    from pathlib import Path

    from sim.env import build, ensure_verilog, variant_dir

    saved = os.environ.get("CCACHE_DIR")
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-speed-") as tmp:
        steps = [("cocotb's default (all signals, cocotb clock), cold (empty ccache)", "a", "cc-a", True, False),
                 ("sim board (ports only, clock in the model), cold (empty ccache)", "b", "cc-b", False, True),
                 ("sim board, new directory, ccache warm", "c", "cc-b", False, True),
                 ("sim board, reused (stamp matches)", "c", "cc-b", False, True)]
        try:
            for label, root, cache, all_signals, own_clock in steps:
                os.environ["CCACHE_DIR"] = str(Path(tmp) / cache)
                t0 = time.perf_counter()
                bdir = variant_dir("verilator", params, root=Path(tmp) / root, all_signals=all_signals,
                                   own_clock=own_clock)
                bdir.mkdir(parents=True, exist_ok=True)
                ensure_verilog(params, bdir)
                t1 = time.perf_counter()
                build("verilator", params, root=Path(tmp) / root, all_signals=all_signals, own_clock=own_clock)
                out.append((label, t1 - t0, time.perf_counter() - t1))
                print(f"build {label}: Verilog {out[-1][1]:.1f} s, Verilator + C++ {out[-1][2]:.1f} s", flush=True)
        finally:
            if saved is None:
                os.environ.pop("CCACHE_DIR", None)
            else:
                os.environ["CCACHE_DIR"] = saved
    return out


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_sim_speed.py", description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=cli.int_range(1, 1000), default=5, help="timed images per board (default 5)")
    ap.add_argument("--class-id", type=cli.int_range(0, 9), default=3, help="class of every image (default 3)")
    ap.add_argument("--cold-build", action="store_true",
                    help="also time cold Verilator builds of both recipes in fresh directories (minutes)")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS),
                    default=os.path.join(REPO, "benchmarks", "results", "sim_speed.md"),
                    help="results file (default benchmarks/results/sim_speed.md)")
    args = ap.parse_args(argv)
    params = PYNQ_Z2
    ckpt, kind = checkpoint_for(params.n)
    machine = machine_description()
    uptime_before = os.getloadavg()
    builds = cold_builds(params) if args.cold_build else []
    golden = Session(GoldenBoard(), ckpt, params=params, progress=False)
    boards, sessions, starts, loads = [], [], [], []
    try:
        for label, all_signals, own_clock in VARIANTS:
            board, start_s = _open(params, all_signals, own_clock)
            boards.append(board)
            t0 = time.perf_counter()
            sessions.append(Session(board, ckpt, params=params, progress=False))  # quantizes and loads the model
            loads.append(time.perf_counter() - t0)
            starts.append(start_s)
            board.run(args.class_id, np.zeros(params.n_total, np.int64))  # warm-up (buffers, drive rows)
            print(f"{label}: start {start_s:.1f} s, model load {loads[-1]:.1f} s", flush=True)
        walls = [[] for _ in VARIANTS]
        cpus = [[] for _ in VARIANTS]
        host_cpus = [[] for _ in VARIANTS]
        parts = [[] for _ in VARIANTS]
        exact = True
        for i in range(args.images):
            want = golden.generate(args.class_id, n=1, seed=i).phases[0]
            order = range(len(VARIANTS)) if i % 2 == 0 else reversed(range(len(VARIANTS)))
            for v in order:
                t0, c0 = time.perf_counter(), time.process_time()
                g = sessions[v].generate(args.class_id, n=1, seed=i)
                walls[v].append(time.perf_counter() - t0)
                host_cpus[v].append(time.process_time() - c0)
                cpus[v].append(float(g.timings["sim_cpu_s"][0]))
                parts[v].append({k: float(g.timings[k][0]) for k in ("transfer_s", "wait_s", "decode_s")})
                exact &= bool(np.array_equal(g.phases[0], want))
            print(f"image {i}: " + ", ".join(f"{VARIANTS[v][0]} {walls[v][-1]:.3f} s" for v in range(len(VARIANTS)))
                  + f", bit-exact so far: {exact}", flush=True)
    finally:
        for b in boards:
            b.close()
    uptime_after = os.getloadavg()
    med = statistics.median
    rows = []
    for v, (label, _, _) in enumerate(VARIANTS):
        both = [a + b for a, b in zip(cpus[v], host_cpus[v])]
        rows.append(f"| {label} | {med(walls[v]):.3f} | {med(cpus[v]):.3f} | {med(host_cpus[v]):.3f} | {med(both):.3f} | "
                    f"{med(p['transfer_s'] for p in parts[v]):.3f} | {med(p['wait_s'] for p in parts[v]):.3f} | "
                    f"{med(p['decode_s'] for p in parts[v]):.4f} | {starts[v]:.1f} | {loads[v]:.2f} |")
    last = len(VARIANTS) - 1
    ratios = [(VARIANTS[v][0], med(walls[v]) / med(walls[last]), med(cpus[v]) / med(cpus[last]),
               [a / b for a, b in zip(walls[v], walls[last])]) for v in range(last)]
    lines = [
        "# Sim board: wall time per cifar10-n1024 image, Verilator build options before/after",
        "",
        f"Machine: {machine}.",
        f"Load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in uptime_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in uptime_after)} after.",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}. Command: `python benchmarks/bench_sim_speed.py --images {args.images} "
        f"--class-id {args.class_id}{' --cold-build' if args.cold_build else ''}`.",
        "",
        f"Core build: PYNQ-Z2 (n {params.n}, n_cond {params.n_cond}, {params.lanes} MAC lanes, format "
        f"`pynq-z2-n1024`), model: {kind} cifar10-n{params.n}. One image = seeded phases -> sim board (phases in, "
        "10 Euler steps, readback through the pynq DMA/MMIO path) -> decoder, as `python -m host.run --board sim` "
        f"runs it; class {args.class_id} for every image (the drive rows stay loaded). Medians over {args.images} "
        "images, the boards taking turns image by image. 'sim CPU' is the simulator process's CPU time per image, "
        "'host CPU' this process's (both load-independent; the two processes take turns, so their sum is what the "
        "image takes on a quiet machine); 'transfer' the DMA streams, 'wait' START to done. 'start' opens the board "
        "(build or "
        "reuse + launch), 'model load' streams K, Kc, gain and omega in once.",
        "",
        "| build | wall/image (s) | sim CPU/image (s) | host CPU/image (s) | CPU sum (s) | transfer (s) | wait (s) "
        "| decode (s) | start (s) | model load (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *(f"Ratio '{label}' / sim board, medians: wall {rw:.2f}x, simulator CPU {rc:.2f}x "
          f"(per image, wall: {', '.join(f'{r:.2f}' for r in per)})." for label, rw, rc, per in ratios),
        f"Phases bit-identical to the golden board on every image of every build: {'yes' if exact else 'NO'}.",
        "",
    ]
    if builds:
        lines += ["Verilator builds of this core in fresh directories (`--cold-build`, before the images above):", "",
                  "| build | Verilog from Amaranth (s) | Verilator + C++ (s) |", "|---|---|---|",
                  *(f"| {label} | {v:.1f} | {b:.1f} |" for label, v, b in builds), ""]
    write_atomic(args.out, "\n".join(lines))
    print("\n".join(lines))
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
