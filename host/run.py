"""Generate images on a board from the command line (a thin layer over host.api).

    python -m host.run --board sim --class cat [--checkpoint PATH] [--seed S] [--n N] [--out PNG]
                       [--strip PNG] [--gif GIF] [--order-plot PNG] [--phases NPZ] [--analog NAME=VALUE ...]

Boards: golden, sim (default), pynq-z2 (on the board), analog (an analog chip model, ideal by default; --analog NAME=VALUE
sets its non-idealities, docs/analog.md), tcp://HOST:PORT, serial:///dev/DEV?baud=N.
golden and sim model the build a PYNQ-Z2 runs (fixedpoint.spec.default_build; --format/--lanes override).
The host computes the seeded initial phases and decodes; boards only integrate. --strip, --gif and
--order-plot need the phases after every Euler step (a chain of single-step runs, bit-identical to one run).
--phases writes the numbers behind the pictures as .npz (see save_phases).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from fixedpoint import cli
from fixedpoint.files import RescuingSaver, atomic_output, check_output
from fixedpoint.spec import FORMATS
from model.plots import written_ext

from .api import MAX_SAMPLES, summarize  # noqa: F401  (the timing table; kept importable from here)
from .boards import bitfile_flag_error
from .boards.remote import MAX_TIMEOUT_S
from .imageio import DECODERS


def save_phases(samples, path: str) -> str:
    """Samples -> .npz (atomic; plain arrays, np.load(path) needs no pickle): phases, phases0 (n, n_total) int64
    phase words, radians (n, n_total), images (n, 3, H, W) in [-1, 1], overflow (n,), trajectory (n, steps+1,
    n_total) when present, timing_<key> (n,) per timing key, and meta (a JSON string: class, seed, board,
    build, phase_frac_bits, dt)."""
    s = samples
    arrays = {"phases": s.phases, "phases0": s.phases0, "radians": s.radians, "images": s.images,
              "overflow": s.overflow}
    if s.trajectory is not None:
        arrays["trajectory"] = s.trajectory
    arrays.update({f"timing_{k}": v for k, v in s.timings.items()})
    meta = {"class_id": s.class_id, "class_name": s.class_name, "seed": s.seed, "board": s.board,
            "params": s.params, "phase_frac_bits": s.phase_frac_bits, "dt": s.dt, "n_main": s.n_main}
    arrays["meta"] = np.array(json.dumps(meta))
    written_ext(path, cli.NPZ_FORMATS, "phase archives")
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def build_parser() -> cli.ArgumentParser:
    ap = cli.ArgumentParser(prog="python -m host.run", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="sim", help="golden | sim (default) | pynq-z2 | analog | tcp://HOST:PORT | "
                    "serial:///dev/DEV?baud=N")
    ap.add_argument("--class", dest="cls", required=True, help="class name or index (cat, volcano, 3, ...)")
    ap.add_argument("--checkpoint", default=None, help="our .safetensors checkpoint (default: the bundled "
                    "checkpoints/cifar10-n1024.safetensors)")
    ap.add_argument("--seed", type=cli.seed, default=0, help="initial-phase seed; the same seed gives model.sample the "
                    "same start (default 0)")
    ap.add_argument("--n", type=cli.int_range(1, MAX_SAMPLES), default=1, help="samples (seeded rows 0..n-1; default 1)")
    ap.add_argument("--out", type=cli.output_file(cli.IMAGE_FORMATS), default=None, help="labeled picture of the images, "
                    f"{cli.formats_text(cli.IMAGE_FORMATS)} (default out/<board>-<class>-s<seed>.png)")
    ap.add_argument("--scale", type=cli.int_range(1, 16), default=4, help="pixel zoom of the pictures, nearest neighbour (default 4)")
    ap.add_argument("--strip", type=cli.output_file(cli.IMAGE_FORMATS), default=None, help="labeled picture of the "
                    f"decoded image after every Euler step, {cli.formats_text(cli.IMAGE_FORMATS)}")
    ap.add_argument("--gif", type=cli.output_file(cli.GIF_FORMATS), default=None,
                    help="animated .gif of the settling, one frame per Euler step")
    ap.add_argument("--order-plot", type=cli.output_file(cli.FIGURE_FORMATS), default=None, help="plot of the order "
                    f"parameter r(t) (mean and spread), {cli.formats_text(cli.FIGURE_FORMATS)}")
    ap.add_argument("--phases", type=cli.output_file(cli.NPZ_FORMATS), default=None,
                    help=".npz of the settled (and per-step) phases, images and timings")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"], help="sim board: simulator")
    ap.add_argument("--lanes", type=cli.positive_int, default=None, help="golden/sim core: MAC lanes (default: the board build)")
    ap.add_argument("--format", default=None, choices=sorted(FORMATS),
                    help="golden/sim core: numerics format (default: the board build, pynq-z2-n1024 for n1024)")
    ap.add_argument("--bitfile", default=None, help="pynq-z2 board: the overlay .bit (with .hwh and manifest)")
    ap.add_argument("--timeout", type=cli.float_range(0.0, MAX_TIMEOUT_S, lo_open=True, hi_open=True), default=None,
                    help="remote boards: seconds per request")
    ap.add_argument("--decoder", default="auto", choices=DECODERS,
                    help="decoder implementation (auto: torch when installed, else numpy)")
    ap.add_argument("--analog", action="append", default=[], metavar="NAME=VALUE",
                    help="analog board: one non-ideality of model.analog.AnalogParams, e.g. freq_mismatch=0.001 "
                    "integrator=ode (repeatable; docs/analog.md)")
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    outs = [p for p in (args.out, args.strip, args.gif, args.order_plot, args.phases) if p]
    if len({os.path.abspath(p) for p in outs}) < len(outs):
        ap.error("two of --out, --strip, --gif, --order-plot, --phases name the same file")
    if msg := bitfile_flag_error(args.board, args.bitfile):
        ap.error(msg)
    if args.analog:
        if args.board != "analog":
            ap.error("--analog settings need --board analog")
        from model.analog import AnalogParams

        try:
            args.analog = AnalogParams.from_assignments(args.analog)
        except ValueError as e:
            ap.error(str(e))
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
    from model.classes import resolve_class

    from . import api, pictures

    path, cfg = api.checkpoint_config(args.checkpoint)
    try:  # before opening the board: a typo costs no simulator build
        resolve_class(args.cls, cfg.dataset, cfg.num_classes)
    except ValueError as e:
        raise ValueError(f"{e} [checkpoint {api._show(path)} is {cli.article(cfg.dataset)} model]") from None
    steps = bool(args.strip or args.gif or args.order_plot)
    out = args.out or check_output(f"out/{args.board.split(':')[0]}-{cfg.name}-s{args.seed}.png", "--out (default)")
    with api.open(args.board, path, fmt=args.format, lanes=args.lanes, simulator=args.simulator,
                  bitfile=args.bitfile, timeout=args.timeout, decoder=args.decoder, analog=args.analog or None) as osc:
        class_id = osc.class_id(args.cls)
        print(f"{osc.describe()}; class {osc.class_names[class_id]} ({class_id}), seed {args.seed}")
        s = osc.generate(class_id, n=args.n, seed=args.seed, trajectory=steps)
    if not args.out:
        out = f"out/{args.board.split(':')[0]}-{s.class_name}-s{args.seed}.png"
    save = RescuingSaver()  # a destination that fails after the work: the result goes to a rescue file

    written = save(out, lambda p: pictures.save_samples(s, p, scale=args.scale), "--out")
    print(f"wrote {written} ({cli.counted(len(s), 'image')}, {args.scale}x)")
    if args.strip:
        written = save(args.strip, lambda p: pictures.save_strip(s, p, scale=args.scale), "--strip")
        print(f"wrote {written} (phases after steps 0..{s.trajectory.shape[1] - 1}, one row per sample)")
    if args.gif:
        written = save(args.gif, lambda p: pictures.save_gif(s, p, scale=args.scale), "--gif")
        print(f"wrote {written} ({s.trajectory.shape[1]} frames)")
    if args.order_plot:
        written = save(args.order_plot, lambda p: pictures.save_order_plot(s, p), "--order-plot")
        print(f"wrote {written}")
    if args.phases:
        written = save(args.phases, lambda p: save_phases(s, p), "--phases")
        print(f"wrote {written}")
    if s.overflow.any():
        print(f"warning: {cli.counted(int(s.overflow.sum()), 'sample')} overflowed the phase word (core flag set)",
              file=sys.stderr)
    print(api.summarize(s.timings))
    return int(save.rescued)


if __name__ == "__main__":
    sys.exit(main())
