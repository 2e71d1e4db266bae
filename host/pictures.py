"""Pictures of what a board generated: labeled, scaled-up grids, step strips, settling GIFs, r(t) plots.

Images are scaled up by nearest neighbour (each board pixel stays a crisp square) and every picture
says what it shows: class, board, seed, step number and model time t = k * dt. Raster pictures use
Pillow; the r(t) plot uses matplotlib. Every writer is atomic (fixedpoint.files.atomic_output). The
functions take host.api.Samples (or arrays, where noted) and return the PIL image or matplotlib figure,
so a notebook can show them inline.
"""
from __future__ import annotations

import math
import os

import numpy as np

from fixedpoint.files import atomic_output

from .imageio import to_uint8

#: Default zoom: a 32-pixel CIFAR image becomes 128 pixels.
SCALE = 4
PAD = 4
BG = (255, 255, 255)
INK = (20, 20, 20)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 (older board images): the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple[int, int]:
    if not text:
        return 0, 0
    box = draw.multiline_textbbox((0, 0), text, font=font)
    return box[2] - box[0], box[3] - box[1]


def labeled_tiles(tiles: np.ndarray, *, title: str = "", col_labels=None, row_labels=None, scale: int = SCALE,
                  font_size: int = 12):
    """(rows, cols, H, W, 3) uint8 -> PIL image: tiles scaled by `scale` (nearest), a title line on top,
    a label above each column and left of each row (multi-line strings allowed)."""
    from PIL import Image, ImageDraw

    tiles = np.asarray(tiles, dtype=np.uint8)
    if tiles.ndim != 5 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must be (rows, cols, H, W, 3) uint8, got {tiles.shape}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    r, c, h, w, _ = tiles.shape
    th, tw = h * scale, w * scale
    font, tfont = _font(font_size), _font(font_size + 2)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    col_labels = list(col_labels or [])
    row_labels = list(row_labels or [])
    col_h = max([_text_size(probe, s, font)[1] for s in col_labels] + [0])
    row_w = max([_text_size(probe, s, font)[0] for s in row_labels] + [0])
    title_w, title_h = _text_size(probe, title, tfont)
    left = PAD + (row_w + PAD if row_w else 0)
    top = PAD + (title_h + PAD if title else 0) + (col_h + PAD if col_h else 0)
    width = max(left + c * (tw + PAD), title_w + 2 * PAD)
    height = top + r * (th + PAD)
    img = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((PAD, PAD), title, fill=INK, font=tfont)
    for j, s in enumerate(col_labels[:c]):
        draw.multiline_text((left + j * (tw + PAD), top - col_h - PAD), s, fill=INK, font=font)
    for i in range(r):
        y = top + i * (th + PAD)
        if i < len(row_labels):
            lh = _text_size(probe, row_labels[i], font)[1]
            draw.multiline_text((PAD, y + max(0, (th - lh) // 2)), row_labels[i], fill=INK, font=font)
        for j in range(c):
            tile = Image.fromarray(tiles[i, j]).resize((tw, th), Image.NEAREST)
            img.paste(tile, (left + j * (tw + PAD), y))
    return img


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
    with atomic_output(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def save_picture(img, path: str) -> str:
    """Write a PIL image (PNG, or the format the extension names) atomically."""
    fmt = (os.path.splitext(path)[1].lstrip(".") or "png").upper()
    with atomic_output(path) as tmp:
        img.save(tmp, format="JPEG" if fmt == "JPG" else fmt)
    return path


def save_samples(s, path: str, scale: int = SCALE, cols: int | None = None) -> str:
    return save_picture(samples_picture(s, scale, cols), path)


def save_strip(s, path: str, scale: int = SCALE) -> str:
    return save_picture(strip_picture(s, scale), path)


def order_figure(samples, title: str = ""):
    """r(t) per class: the mean over samples as a line, the 10th-90th percentile as a band, on a y axis
    from 0 (never a zoomed axis that makes tiny changes look large), with the level random phases give,
    sqrt(pi / 4N) (the mean of |<e^{i theta}>| over N independent uniform phases), dashed.

    samples: a Samples or a list of them (each with a trajectory). Returns the matplotlib figure."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global; notebooks display it

    groups = samples if isinstance(samples, (list, tuple)) else [samples]
    fig = Figure(figsize=(6, 3.6), dpi=110)
    ax = fig.subplots()
    top = 0.0
    for s in groups:
        r = s.order_parameter()
        if r.ndim != 2:
            raise ValueError("r(t) needs trajectories: generate(..., trajectory=True)")
        t = s.times
        mean = r.mean(axis=0)
        lo, hi = np.percentile(r, [10, 90], axis=0)
        (line,) = ax.plot(t, mean, lw=2, label=f"{s.class_name} (mean of {len(r)})")
        if len(r) > 1:
            ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        top = max(top, float(hi.max()))
    n = groups[0].n_main
    incoherent = math.sqrt(math.pi / (4 * n))
    ax.axhline(incoherent, color="0.4", ls="--", lw=1, label=f"random phases, N={n}")
    top = max(top, incoherent)
    ax.set_ylim(0, 1.0 if top > 0.5 else min(1.0, max(0.1, math.ceil(top * 1.25 * 20) / 20)))
    ax.set_xlabel("model time t (Euler steps × dt)")
    ax.set_ylabel(r"order parameter $r(t)=|\langle e^{i\theta_j}\rangle_j|$")
    ax.grid(alpha=0.3)
    first = groups[0]
    ax.set_title(title or f"Kuramoto order parameter, main oscillators · board {first.board} · seed {first.seed}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def save_figure(fig, path: str) -> str:
    """Write a matplotlib figure atomically (format from the extension)."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=os.path.splitext(path)[1].lstrip(".") or "png")
    return path


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
    ax.set_title(title or f"timing split · board {s.board} · {len(s)} image{'s' if len(s) != 1 else ''}{extra}",
                 fontsize=9)
    fig.tight_layout()
    return fig
