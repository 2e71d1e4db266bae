"""End-to-end generation on a board: checkpoint -> quantized image -> board -> phases -> decoder -> PNG.

    python -m host.run --board sim --class cat [--checkpoint PATH] [--seed S] [--n N] [--out PNG]
                       [--strip PNG] [--simulator verilator|icarus] [--lanes L] [--format NAME]

Boards: golden, sim (default), pynq-z2 (on the board), tcp://HOST:PORT, serial:///dev/DEV?baud=N.
The host computes the seeded initial phases (fixedpoint.golden.initial_phases) and decodes; boards only
integrate. --strip decodes the phases after every Euler step (a chain of single-step runs).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from fixedpoint.golden import initial_phases
from fixedpoint.readout import phase_features
from fixedpoint.spec import FORMATS, HardwareParams, default_lanes, get_format

DEFAULT_CHECKPOINT = os.path.join("checkpoints", "cifar10-n1024.safetensors")


@dataclass
class Generation:
    phases: np.ndarray  # (N, n_total) settled phase words
    images: np.ndarray  # (N, 3, H, W) in [-1, 1]
    timings: list = field(default_factory=list)  # per sample: board timing + decode_s
    trajectory: np.ndarray | None = None  # (N, steps+1, n_total) with strip
    strip_images: np.ndarray | None = None  # (N, steps+1, 3, H, W)
    overflow: np.ndarray | None = None


def core_params(cfg, lanes: int | None = None, fmt: str = "default") -> HardwareParams:
    """The core build a software board (golden, sim) models for a checkpoint config."""
    spec = get_format(fmt)
    return HardwareParams(cfg.n, cfg.n_cond, lanes or default_lanes(cfg.n, cfg.n_cond, spec), spec)


def generate(board, image, decoder, class_id: int, seed: int, n: int = 1, strip: bool = False,
             progress: bool = False) -> Generation:
    """Run n samples (seeded phases rows 0..n-1) and decode them. The image must be loaded already."""
    p = image.params
    phases0 = initial_phases(seed, n, p.n_total, p.spec)
    out, timings, trajs, ovf = [], [], [], []
    it = range(n)
    if progress and n > 1:
        from tqdm import tqdm

        it = tqdm(it, desc=f"{board.name}", unit="img")
    for i in it:
        res = board.run_trajectory(class_id, phases0[i]) if strip else board.run(class_id, phases0[i])
        t0 = time.perf_counter()
        feats = phase_features(res.phases[None, :], p.n, p.spec, image.model_config)
        img = decoder(feats)[0]
        timing = dict(res.timing, decode_s=time.perf_counter() - t0)
        out.append((res.phases, img))
        timings.append(timing)
        ovf.append(res.overflow)
        if strip:
            trajs.append(res.trajectory)
    phases = np.stack([o[0] for o in out])
    images = np.stack([o[1] for o in out])
    gen = Generation(phases, images, timings, overflow=np.array(ovf))
    if strip:
        gen.trajectory = np.stack(trajs)
        s = gen.trajectory.shape
        feats = phase_features(gen.trajectory.reshape(-1, s[2]), p.n, p.spec, image.model_config)
        gen.strip_images = decoder(feats).reshape(s[0], s[1], *images.shape[1:])
    return gen


def summarize(timings: list[dict]) -> str:
    """Median timing split over samples."""
    def med(key):
        vals = [t[key] for t in timings if key in t]
        return statistics.median(vals) if vals else None

    parts = []
    for key, label, fmt in (("transfer_s", "transfer", "{:.4f} s"), ("compute_cycles", "compute", "{:.0f} cycles"),
                            ("compute_s", "compute time", "{:.6f} s"), ("link_s", "link", "{:.4f} s"),
                            ("sim_wall_s", "simulation wall", "{:.3f} s"),
                            ("sim_cpu_s", "simulator CPU", "{:.3f} s"), ("decode_s", "decode", "{:.4f} s"),
                            ("total_s", "board total", "{:.3f} s")):
        v = med(key)
        if v is not None:
            parts.append(f"  {label:<16}" + fmt.format(v))
    head = f"timing (median of {len(timings)} sample{'s' if len(timings) != 1 else ''}):"
    return "\n".join([head] + parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.run", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="sim", help="golden | sim | pynq-z2 | tcp://HOST:PORT | serial:///dev/DEV?baud=N")
    ap.add_argument("--class", dest="cls", required=True, help="class name or index (cat, volcano, 3, ...)")
    ap.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=1, help="samples (seeded rows 0..n-1)")
    ap.add_argument("--out", default=None, help="PNG (default out/<board>-<class>-s<seed>.png)")
    ap.add_argument("--strip", default=None, help="PNG of the decoded image after every Euler step")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    ap.add_argument("--lanes", type=int, default=None, help="golden/sim core: MAC lanes (default: largest fit <= 64)")
    ap.add_argument("--format", default="default", choices=sorted(FORMATS), help="golden/sim core: numerics format")
    ap.add_argument("--bitfile", default=None, help="pynq-z2: overlay .bit")
    ap.add_argument("--timeout", type=float, default=None, help="remote boards: seconds per request")
    ap.add_argument("--decoder", default="auto", choices=["auto", "torch", "numpy"])
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line, no traceback, for every expected failure
        from host.boards.base import BoardError
        from model.checkpoint import CheckpointError

        if isinstance(e, (BoardError, CheckpointError, ValueError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


def _run(args) -> int:
    from fixedpoint.quantize import image_from_checkpoint
    from host.boards import open_board
    from host.imageio import Decoder, grid, save_png, to_uint8
    from model.checkpoint import load_config_and_tensors
    from model.classes import class_names, resolve_class

    if not os.path.exists(args.checkpoint):
        raise FileNotFoundError(
            f"checkpoint {args.checkpoint!r} not found. Train one (python -m model.train, see docs/model.md), "
            "import an Un-0 release (python -m model.checkpoint import-un0 un0.pt OUT.safetensors), "
            "or pass --checkpoint PATH")
    cfg, _ = load_config_and_tensors(args.checkpoint)
    try:
        class_id = resolve_class(args.cls, cfg.dataset)
    except ValueError as e:
        raise ValueError(f"{e} [checkpoint {args.checkpoint} is a {cfg.dataset} model]") from None
    cname = class_names(cfg.dataset)[class_id]
    soft = args.board in ("golden", "sim")
    params = core_params(cfg, args.lanes, args.format) if soft else None
    if args.board == "sim":
        print(f"starting the RTL simulation ({args.simulator}; building a core the first time takes a minute or more)",
              file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    board = open_board(args.board, params, simulator=args.simulator, bitfile=args.bitfile, timeout=args.timeout)
    open_s = time.perf_counter() - t0
    try:
        params = board.params or params or core_params(cfg, args.lanes, args.format)
        image = image_from_checkpoint(args.checkpoint, params=params)
        t0 = time.perf_counter()
        board.load_image(image)
        load_s = time.perf_counter() - t0
        decoder = Decoder(args.checkpoint, args.decoder)
        print(f"board {board.name}: n={params.n} n_cond={params.n_cond} lanes={params.lanes}; opened in {open_s:.2f} s, "
              f"model loaded in {load_s:.3f} s; class {cname} ({class_id}), seed {args.seed}, decoder {decoder.kind}")
        gen = generate(board, image, decoder, class_id, args.seed, args.n, strip=args.strip is not None,
                       progress=True)
    finally:
        board.close()
    out = args.out or os.path.join("out", f"{args.board.split(':')[0]}-{cname}-s{args.seed}.png")
    tiles = to_uint8(gen.images)
    save_png(out, grid(tiles[None]))
    print(f"wrote {out} ({len(tiles)} image{'s' if len(tiles) > 1 else ''})")
    if args.strip:
        s = gen.strip_images.shape
        strip = to_uint8(gen.strip_images.reshape(-1, *s[2:])).reshape(s[0], s[1], s[3], s[4], 3)
        save_png(args.strip, grid(strip))
        print(f"wrote {args.strip} (phases after steps 0..{s[1] - 1}, one row per sample)")
    if gen.overflow is not None and gen.overflow.any():
        print(f"warning: {int(gen.overflow.sum())} sample(s) overflowed the phase word (core flag set)", file=sys.stderr)
    print(summarize(gen.timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
