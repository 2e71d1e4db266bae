"""End-to-end images/s per board: golden, golden behind a loopback TCP agent, and the RTL simulation.

    python benchmarks/bench_boards.py [--sizes 256 1024] [--images 5] [--boards golden tcp sim]
                                      [--simulator verilator] [--out benchmarks/results/boards.md]

Every board runs the PYNQ-Z2 core build (64 lanes, format pynq-z2-n1024) for cifar10-n256 and -n1024
models (the trained checkpoint when checkpoints/cifar10-<n>.safetensors exists, else a random init).
Per image: seeded phases -> board -> phases -> decoder -> image, timed end to end; the table reports
medians. The sim's one-off build/start is reported separately ("first build"). Results are written
atomically to a Markdown file with the machine description.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from fixedpoint.spec import HardwareParams, get_format  # noqa: E402
from host.boards import open_board  # noqa: E402
from host.api import Session  # noqa: E402
from host.imageio import write_atomic  # noqa: E402
from host.testing import agent_process, random_checkpoint  # noqa: E402
from benchmarks.common import machine_description  # noqa: E402
from fixedpoint import cli  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def checkpoint_for(n: int) -> tuple[str, str]:
    trained = os.path.join(REPO, "checkpoints", f"cifar10-n{n}.safetensors")
    if os.path.exists(trained):
        return trained, "trained"
    path = os.path.join(REPO, "build", "bench", f"cifar10-n{n}-random.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return random_checkpoint(path, f"cifar10-n{n}"), "random init"


def bench_board(board, checkpoint: str, params, images: int, seed: int = 0) -> dict:
    session = Session(board, checkpoint, params=params, progress=False)  # quantizes and loads the model
    board.run(3, np.zeros(params.n_total, np.int64))  # warm-up (buffers, caches)
    walls = []
    gens = []
    for i in range(images):
        t0 = time.perf_counter()
        gens.append(session.generate(3, n=1, seed=seed + i))
        walls.append(time.perf_counter() - t0)

    def med(k):
        v = [float(g.timings[k][0]) for g in gens if k in g.timings]
        return statistics.median(v) if v else None

    w = statistics.median(walls)
    return {"images_per_s": 1.0 / w, "wall_s": w, "compute_cycles": med("compute_cycles"),
            "transfer_s": med("transfer_s"), "decode_s": med("decode_s"), "link_s": med("link_s"),
            "sim_cpu_s": med("sim_cpu_s"), "sim_wall_s": med("sim_wall_s"),
            "phases": gens[0].phases[0]}


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python benchmarks/bench_boards.py", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=cli.int_range(64, 16384), nargs="+", default=[256, 1024],
                    help="model sizes n (default 256 1024)")
    ap.add_argument("--images", type=cli.int_range(1, 10_000), default=5, help="timed images per board (default 5)")
    ap.add_argument("--boards", nargs="+", default=["golden", "tcp", "sim"], choices=["golden", "tcp", "sim"],
                    help="boards to time (default: all three)")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"], help="sim board: simulator")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS),
                    default=os.path.join(REPO, "benchmarks", "results", "boards.md"),
                    help="results file (default benchmarks/results/boards.md)")
    args = ap.parse_args(argv)
    for n in args.sizes:
        try:
            HardwareParams(n, 8, 64, get_format("pynq-z2-n1024"))
        except ValueError as e:
            ap.error(f"--sizes {n}: {e}")
    rows = []
    fmt = get_format("pynq-z2-n1024")
    for n in args.sizes:
        ckpt, kind = checkpoint_for(n)
        params = HardwareParams(n, 8, 64, fmt)
        ref = None
        for name in args.boards:
            t0 = time.perf_counter()
            if name == "tcp":
                ctx = agent_process("--board", "golden")
                url, _ = ctx.__enter__()
                board = open_board(url)
            else:
                ctx = None
                board = open_board(name, params, simulator=args.simulator)
            start_s = time.perf_counter() - t0
            try:
                r = bench_board(board, ckpt, params, args.images)
            finally:
                board.close()
                if ctx is not None:
                    ctx.__exit__(None, None, None)
            if ref is None:
                ref = r["phases"]
            r["matches_golden"] = bool(np.array_equal(ref, r["phases"]))
            label = {"golden": "golden (numpy)", "tcp": "tcp agent (loopback, golden)",
                     "sim": f"sim ({args.simulator})"}[name]
            rows.append((n, kind, label, start_s, r))
            print(f"n={n} {label}: {r['images_per_s']:.2f} img/s, wall {r['wall_s']:.3f} s, sim cpu {r['sim_cpu_s']}, "
                  f"start {start_s:.1f} s, exact={r['matches_golden']}", flush=True)
    lines = [
        "# Board benchmark: end-to-end images/s",
        "",
        f"Machine: {machine_description()}.",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}. Command: `python benchmarks/bench_boards.py "
        f"--sizes {' '.join(map(str, args.sizes))} --images {args.images} --boards {' '.join(args.boards)}`.",
        "",
        "Core build: PYNQ-Z2 parameters (64 lanes, numerics format `pynq-z2-n1024`), n_cond 8. One image = seeded",
        "phases -> board (load drive + phases, 10 Euler steps, readback) -> host decoder -> image; median over",
        f"{args.images} images after one warm-up run. 'start' is opening the board (the sim: build or reuse the",
        "Verilator model and launch it; the tcp agent: process start + connect). 'cycles' are core clock cycles",
        "from START to done (at 100 MHz on the PYNQ-Z2 that is cycles/1e8 s). 'exact' compares the phases with",
        "the first board of the same size bit for bit. 'sim CPU' is the simulator process's CPU time per image",
        "(reported by the simulation server; independent of other load on the machine), 'sim wall' the wall",
        "time of the board run (both '-' for other boards).",
        "",
        "| n | model | board | images/s | wall/image (s) | start (s) | cycles | transfer (s) | sim CPU (s) "
        "| sim wall (s) | decode (s) | exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, kind, label, start_s, r in rows:
        cyc = f"{r['compute_cycles']:.0f}" if r["compute_cycles"] is not None else "-"
        tr = f"{r['transfer_s']:.4f}" if r["transfer_s"] is not None else "-"
        cpu = f"{r['sim_cpu_s']:.3f}" if r["sim_cpu_s"] else "-"
        sw = f"{r['sim_wall_s']:.3f}" if r["sim_wall_s"] else "-"
        lines.append(f"| {n} | {kind} | {label} | {r['images_per_s']:.2f} | {r['wall_s']:.3f} | {start_s:.1f} | {cyc} "
                     f"| {tr} | {cpu} | {sw} | {r['decode_s']:.4f} | {'yes' if r['matches_golden'] else 'NO'} |")
    write_atomic(args.out, ("\n".join(lines) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
