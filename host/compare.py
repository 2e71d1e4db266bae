"""Float | golden | board, side by side: what the hardware numerics do to the same samples.

    python -m host.compare --board sim --class cat --n 4 --seed 0 --out out/compare-sim-cat.png

One seed gives the float model (model.sample, float32 as trained) and every board the same initial
phases (fixedpoint.golden.initial_radians / initial_phases, row i for sample i). For each sample the
picture shows the float image, the golden model's and the board's, with the phase error of each
against the float (RMS over the main oscillators of the difference wrapped to [-pi, pi), in radians)
and the PSNR of its image against the float image (dB, images in [-1, 1], peak-to-peak 2). A board
that matches golden bit for bit is marked so. The float side needs torch (run this on a PC, with
the board local or behind `tcp://`).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from fixedpoint.readout import phases_to_radians

from .boards import bitfile_flag_error
from .boards.remote import MAX_TIMEOUT_S


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [-1, 1] (peak-to-peak 2); inf when identical."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


def phase_error(a: np.ndarray, b: np.ndarray) -> float:
    """RMS of the phase difference a - b wrapped to [-pi, pi), radians (1-D arrays of the same oscillators)."""
    d = np.angle(np.exp(1j * (np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    return float(np.sqrt(np.mean(d**2)))


@dataclass
class Comparison:
    """float_images, golden.images, board.images: (n, 3, H, W) in [-1, 1]; float_radians (n, n_total).
    phase_err_* (n,) radians RMS; psnr_* (n,) dB; exact (n,) bool: board phases == golden phases."""

    float_images: np.ndarray
    float_radians: np.ndarray
    golden: object  # host.api.Samples
    board: object  # host.api.Samples (the same object as golden when the board is golden)
    phase_err_golden: np.ndarray
    phase_err_board: np.ndarray
    psnr_golden: np.ndarray
    psnr_board: np.ndarray
    exact: np.ndarray


def compare(session, cls, n: int = 4, seed: int = 0, progress: bool | None = None) -> Comparison:
    """Run the float model, the golden model and `session`'s board on the same seeded samples.

    session: a host.api.Session (any board). The golden model runs in-process on the session's build.
    Needs torch. Raises what Session.generate raises."""
    import torch

    from model.checkpoint import load_checkpoint
    from model.sample import float_phases

    from .api import Session
    from .boards.golden import GoldenBoard

    board = session.generate(cls, n=n, seed=seed, progress=progress)
    if session.name == "golden":
        golden = board
    else:
        with Session(GoldenBoard(session.params), session.checkpoint, decoder=session.decoder.kind,
                     progress=False) as g:
            golden = g.generate(cls, n=n, seed=seed, progress=False)
    model = load_checkpoint(session.checkpoint).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        theta, images = float_phases(model, [board.class_id] * n, seed)
    finally:
        torch.set_num_threads(threads)
    theta, images = theta.numpy(), images.numpy()
    m = session.params.n
    spec = session.params.spec

    def errs(s):
        rad = phases_to_radians(s.phases, spec)
        return (np.array([phase_error(rad[i, :m], theta[i, :m]) for i in range(n)]),
                np.array([psnr(s.images[i], images[i]) for i in range(n)]))

    pg, sg = errs(golden)
    pb, sb = errs(board)
    return Comparison(images, theta, golden, board, pg, pb, sg, sb,
                      np.array([np.array_equal(board.phases[i], golden.phases[i]) for i in range(n)]))


def _db(x: float) -> str:
    return "identical" if math.isinf(x) else f"{x:.1f} dB"


def comparison_picture(c: Comparison, scale: int = 4):
    """Labeled picture: rows = samples, columns float | golden | board, metrics left of each row."""
    from .imageio import to_uint8
    from .pictures import labeled_tiles

    same = c.board is c.golden
    cols = [to_uint8(c.float_images), to_uint8(c.golden.images)] + ([] if same else [to_uint8(c.board.images)])
    tiles = np.stack(cols, axis=1)
    b = c.board
    rows = []
    for i in range(len(tiles)):
        lines = [f"#{i}", f"golden: {c.phase_err_golden[i]:.3f} rad, {_db(c.psnr_golden[i])}"]
        if not same:
            lines.append(f"{b.board}: " + ("bit-exact with golden" if c.exact[i] else
                                          f"{c.phase_err_board[i]:.3f} rad, {_db(c.psnr_board[i])}"))
        rows.append("\n".join(lines))
    p = b.params
    heads = ["float (model.sample)", f"golden ({p['spec']['coupling_bits']}-bit K)"] + ([] if same else [b.board])
    title = (f"{b.class_name} · seed {b.seed} · n={p['n']}: float vs fixed point "
             "(phase error RMS vs float; PSNR vs float)")
    return labeled_tiles(tiles, title=title, col_labels=heads, row_labels=rows, scale=scale)


def main(argv=None) -> int:
    from fixedpoint import cli
    from fixedpoint.files import check_output, save_with_rescue

    ap = cli.ArgumentParser(prog="python -m host.compare", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="golden",
                    help="golden (default) | sim | pynq-z2 | tcp://HOST:PORT | serial:///dev/DEV?baud=N")
    ap.add_argument("--class", dest="cls", required=True, help="class name or index (cat, ship, 3, ...)")
    ap.add_argument("--checkpoint", default=None, help="our .safetensors checkpoint (default: the bundled cifar10-n1024)")
    ap.add_argument("--n", type=cli.int_range(1, 64), default=4, help="samples (seeded rows 0..n-1; default 4)")
    ap.add_argument("--seed", type=cli.seed, default=0, help="initial-phase seed (default 0)")
    ap.add_argument("--out", type=cli.output_file(cli.IMAGE_FORMATS), default=None,
                    help=f"picture, {cli.formats_text(cli.IMAGE_FORMATS)} (default out/compare-<board>-<class>-s<seed>.png)")
    ap.add_argument("--scale", type=cli.int_range(1, 16), default=4, help="pixel zoom, nearest neighbour (default 4)")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"], help="sim board: simulator")
    ap.add_argument("--bitfile", default=None, help="pynq-z2 board: the overlay .bit")
    ap.add_argument("--timeout", type=cli.float_range(0.0, MAX_TIMEOUT_S, lo_open=True, hi_open=True), default=None,
                    help="remote boards: seconds per request")
    args = ap.parse_args(argv)
    if msg := bitfile_flag_error(args.board, args.bitfile):
        ap.error(msg)
    if not args.out:
        try:
            check_output(f"out/compare-{args.board.split(':')[0]}.png", "--out (default)")
        except ValueError as e:
            ap.error(str(e))
    from . import api
    from .boards.base import BoardError
    from .pictures import save_picture

    try:
        with api.open(args.board, args.checkpoint, simulator=args.simulator, bitfile=args.bitfile,
                      timeout=args.timeout) as osc:
            print(osc.describe(), file=sys.stderr)
            c = compare(osc, args.cls, args.n, args.seed)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (BoardError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    b = c.board
    out = args.out or f"out/compare-{args.board.split(':')[0]}-{b.class_name}-s{b.seed}.png"
    written = save_with_rescue(out, lambda p: save_picture(comparison_picture(c, args.scale), p), "--out")
    for i in range(len(c.float_images)):
        extra = "" if b is c.golden else (f"; {b.board}: bit-exact with golden" if c.exact[i] else
                                         f"; {b.board}: {c.phase_err_board[i]:.4f} rad, {_db(c.psnr_board[i])}")
        print(f"#{i}: golden {c.phase_err_golden[i]:.4f} rad RMS, PSNR {_db(c.psnr_golden[i])}{extra}")
    print(f"wrote {written}")
    return int(written != out)


if __name__ == "__main__":
    sys.exit(main())
