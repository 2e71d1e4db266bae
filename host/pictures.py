"""Pictures of what a board generated: labeled, scaled-up grids, step strips, settling GIFs, r(t) plots.

Images are scaled up by nearest neighbour (each board pixel stays a crisp square) and every picture
says what it shows: class, board, seed, step number and model time t = k * dt. Raster pictures use
Pillow; the r(t) plot uses matplotlib. Every writer is atomic (fixedpoint.files.atomic_output). The
functions take host.api.Samples (or arrays, where noted) and return the PIL image or matplotlib figure,
so a notebook can show them inline.
"""
from __future__ import annotations

import math

import numpy as np

from fixedpoint.cli import GIF_FORMATS, counted
from fixedpoint.files import atomic_output
from model.plots import labeled_tiles
from model.plots import order_figure as plot_order
from model.plots import save_figure, save_image, written_ext

from .imageio import to_uint8

#: Default zoom: a 32-pixel CIFAR image becomes 128 pixels.
SCALE = 4

def _grid_shape(n: int, cols: int | None) -> tuple[int, int]:
    cols = cols or min(n, max(1, math.ceil(math.sqrt(n))))
    return math.ceil(n / cols), cols


def _as_grid(x: np.ndarray, cols: int | None) -> np.ndarray:
    """(B, H, W, 3) uint8 -> (rows, cols, H, W, 3), white tiles filling the last row."""
    rows, cols = _grid_shape(len(x), cols)
    out = np.full((rows * cols, *x.shape[1:]), 255, np.uint8)
    out[:len(x)] = x
    return out.reshape(rows, cols, *x.shape[1:])


def _title(s, extra: str = "") -> str:
    p = s.params or {}
    build = f" · n={p['n']}, {p['spec']['coupling_bits']}-bit K" if p else ""
    return f"{s.class_name} · board {s.board} · seed {s.seed}{build}{extra}"


def samples_picture(s, scale: int = SCALE, cols: int | None = None):
    """The settled images of a Samples as one labeled grid (sample index under the title)."""
    x = to_uint8(s.images)
    rows, c = _grid_shape(len(x), cols)
    labels = [f"#{j}" for j in range(c)] if rows == 1 else None
    return labeled_tiles(_as_grid(x, c), title=_title(s), col_labels=labels,
                         row_labels=[f"#{i * c}" for i in range(rows)] if rows > 1 else None, scale=scale)


def strip_picture(s, scale: int = SCALE):
    """Rows: samples; columns: the decoded image after step k, labeled with k and t = k * dt."""
    if s.step_images is None:
        raise ValueError("no per-step images: generate(..., trajectory=True)")
    n, steps = s.step_images.shape[:2]
    x = to_uint8(s.step_images.reshape(n * steps, *s.step_images.shape[2:])).reshape(n, steps, *s.images.shape[2:], 3)
    cols = [f"step {k}\nt={k * s.dt:.2f}" for k in range(steps)]
    return labeled_tiles(x, title=_title(s, " · decoded after every Euler step"), col_labels=cols,
                         row_labels=[f"#{i}" for i in range(n)], scale=scale)


def gif_frames(s, scale: int = SCALE, cols: int | None = None) -> list:
    """One labeled grid per Euler step (step k, t = k * dt): the frames of the settling animation."""
    if s.step_images is None:
        raise ValueError("no per-step images: generate(..., trajectory=True)")
    steps = s.step_images.shape[1]
    return [labeled_tiles(_as_grid(to_uint8(s.step_images[:, k]), cols),
                          title=_title(s, f" · step {k}/{steps - 1}, t={k * s.dt:.2f}"), scale=scale)
            for k in range(steps)]


def save_gif(s, path: str, scale: int = SCALE, ms_per_frame: int = 300, cols: int | None = None) -> str:
    """Animated GIF of the settling: one frame per step, the last held 4x, looping."""
    frames = gif_frames(s, scale, cols)
    durations = [ms_per_frame] * (len(frames) - 1) + [ms_per_frame * 4]
    written_ext(path, GIF_FORMATS, "animations")
    with atomic_output(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def save_picture(img, path: str) -> str:
    """Write a PIL image atomically in the format its extension names (model.plots.save_image)."""
    return save_image(img, path)


def save_samples(s, path: str, scale: int = SCALE, cols: int | None = None) -> str:
    return save_picture(samples_picture(s, scale, cols), path)


def save_strip(s, path: str, scale: int = SCALE) -> str:
    return save_picture(strip_picture(s, scale), path)


def order_figure(samples, title: str = ""):
    """r(t) per class of one or more Samples (each with a trajectory): model.plots.order_figure (the mean over
    samples as a line, the 10th-90th percentile as a band, y from 0, the random-phase level dashed)."""
    groups = samples if isinstance(samples, (list, tuple)) else [samples]
    curves = []
    for s in groups:
        r = s.order_parameter()
        if r.ndim != 2:
            raise ValueError("r(t) needs trajectories: generate(..., trajectory=True)")
        curves.append((s.class_name, s.times, r))
    first = groups[0]
    return plot_order(curves, first.n_main, title or "Kuramoto order parameter, main oscillators · board "
                      f"{first.board} · seed {first.seed}")


def save_order_plot(samples, path: str, title: str = "") -> str:
    return save_figure(order_figure(samples, title), path)


#: timing keys shown by timing_figure, in order, with their labels (host.boards.base.RunResult documents them)
TIMING_BARS = (("transfer_s", "transfer (loads + readback)"), ("compute_s", "compute (board-reported)"),
               ("link_s", "link round trip"), ("sim_wall_s", "RTL simulation wall"), ("decode_s", "decode (host)"),
               ("total_s", "board total"))


def timing_figure(s, title: str = ""):
    """Median per-image timing split of a Samples as horizontal bars on a linear axis from 0 (seconds),
    each bar labeled with its value. Returns the matplotlib figure."""
    from matplotlib.figure import Figure

    from bitstreams.units import fmt_si

    med = s.timing_summary()
    rows = [(label, med[k]) for k, label in TIMING_BARS if k in med]
    fig = Figure(figsize=(6, 0.45 * len(rows) + 1.1), dpi=110)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [v for _, v in rows], color="tab:blue")
    ax.set_yticks(y, [lbl for lbl, _ in rows], fontsize=8)
    top = max([v for _, v in rows] + [1e-9])
    for yi, (_, v) in zip(y, rows):
        ax.text(v + top * 0.01, yi, fmt_si(v, "s"), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel("seconds per image (median)")
    cyc = med.get("compute_cycles")
    extra = f", {cyc:.0f} core cycles" if cyc else ""
    ax.set_title(title or f"timing split · board {s.board} · {counted(len(s), 'image')}{extra}",
                 fontsize=9)
    fig.tight_layout()
    return fig
