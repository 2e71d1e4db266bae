"""Image grids, labeled pictures, per-step strips, GIFs and order-parameter plots (numpy + Pillow + matplotlib,
no torch: host.pictures draws board output with the same helpers, on a PC or on the board).

Every writer is atomic: it writes a temporary file in the target directory and renames it, so a
crash never leaves a half-written PNG behind.
"""

from __future__ import annotations

import math
import os

import numpy as np
from fixedpoint.cli import FIGURE_FORMATS, GIF_FORMATS, IMAGE_FORMATS, formats_text
from fixedpoint.files import atomic_output  # noqa: F401  (re-exported for model/ writers)


#: labeled pictures: padding (pixels), background and text colour
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


def labeled_tiles(tiles: np.ndarray, *, title: str = "", col_labels=None, row_labels=None, scale: int = 4,
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



def to_uint8_hwc(images) -> np.ndarray:
    """(B, 3, H, W) floats in [0, 1] (numpy or torch) -> (B, H, W, 3) uint8."""
    a = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images, dtype=np.float32)
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (B, 3, H, W), got {a.shape}")
    a = np.clip(a, 0.0, 1.0)
    return np.round(a * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)


def make_grid(images, nrow: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile (B, 3, H, W) images in [0, 1] into one (rows*H, cols*W, 3) uint8 array."""
    x = to_uint8_hwc(images)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if scale > 1:
        x = x.repeat(scale, axis=1).repeat(scale, axis=2)
    b, h, w, _ = x.shape
    cols = nrow or max(1, math.ceil(math.sqrt(b)))
    rows = math.ceil(b / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(b):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
    return grid


def written_ext(path: str, formats: tuple[str, ...], what: str) -> str:
    """The lower-case extension of `path` when it is one of `formats` (fixedpoint.cli); else ValueError, so a
    writer never puts one format's bytes under another format's name."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in formats:
        raise ValueError(f"{path!r}: {what} are written as {formats_text(formats)} only")
    return ext


def save_image(img, path: str) -> str:
    """Write a PIL image atomically in the format its extension names (one of fixedpoint.cli.IMAGE_FORMATS:
    PNG, JPEG, BMP, TIFF, through Pillow's own extension table). Raises ValueError for any other extension,
    so a file's contents always match its name."""
    from PIL import Image

    ext = written_ext(path, IMAGE_FORMATS, "pictures")
    with atomic_output(path) as tmp:
        img.convert("RGB").save(tmp, format=Image.registered_extensions()[ext])
    return path


def save_figure(fig, path: str, **savefig_kw) -> str:
    """Write a matplotlib figure atomically in the format its extension names (fixedpoint.cli.FIGURE_FORMATS:
    PNG, SVG, PDF). Raises ValueError for any other extension."""
    ext = written_ext(path, FIGURE_FORMATS, "plots")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=ext[1:], **savefig_kw)
    return path


def save_grid(images, path: str, nrow: int | None = None, scale: int = 1) -> str:
    """images (B, 3, H, W) in [0, 1] -> one grid picture (save_image: format from the extension)."""
    from PIL import Image

    return save_image(Image.fromarray(make_grid(images, nrow, scale=scale)), path)


def save_strip(frames, path: str, scale: int = 2, dt: float | None = None, title: str = "") -> str:
    """frames: (steps+1, S, 3, H, W) in [0, 1] -> rows = samples, columns = solver steps labeled with the step
    number (and t = k * dt when dt is given)."""
    f = np.asarray(frames.detach().cpu().numpy() if hasattr(frames, "detach") else frames)
    steps, s = f.shape[:2]
    tiles = to_uint8_hwc(f.reshape(steps * s, *f.shape[2:])).reshape(steps, s, f.shape[3], f.shape[4], -1)
    tiles = tiles.transpose(1, 0, 2, 3, 4)
    if tiles.shape[-1] == 1:
        tiles = np.repeat(tiles, 3, axis=-1)
    cols = [f"step {k}" + ("" if dt is None else f"\nt={k * dt:.2f}") for k in range(steps)]
    img = labeled_tiles(tiles, title=title, col_labels=cols, row_labels=[f"#{i}" for i in range(s)], scale=scale)
    return save_image(img, path)


def save_gif(frames, path: str, nrow: int | None = None, scale: int = 2, ms_per_frame: int = 250,
             dt: float | None = None, title: str = "") -> str:
    """frames: (steps+1, B, 3, H, W) in [0, 1] -> animated GIF of the grid over time, each frame labeled with
    its step (and t = k * dt when dt is given); the last frame is held."""
    from PIL import Image

    f = np.asarray(frames.detach().cpu().numpy() if hasattr(frames, "detach") else frames)
    steps = f.shape[0]
    imgs = []
    for t in range(steps):
        when = f"step {t}/{steps - 1}" + ("" if dt is None else f", t={t * dt:.2f}")
        grid = make_grid(f[t], nrow, pad=0)
        imgs.append(labeled_tiles(grid[None, None], title=f"{title} · {when}" if title else when, scale=scale))
    durations = [ms_per_frame] * (len(imgs) - 1) + [ms_per_frame * 4]
    written_ext(path, GIF_FORMATS, "animations")
    with atomic_output(path) as tmp:
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=durations, loop=0)
    return path


def order_figure(curves, n_main: int | None = None, title: str = ""):
    """Kuramoto order parameter r(t) per group: curves = [(label, times (T,), r (S, T))]. Each group's mean
    over its S samples is a line, its 10th-90th percentile a band; the y axis starts at 0 (never a zoomed
    axis that makes tiny changes look large) and the level random phases give, sqrt(pi / 4N) (the mean of
    |<e^{i theta}>| over N independent uniform phases), is dashed. Returns a matplotlib Figure (no pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), dpi=110)
    ax = fig.subplots()
    top = 0.0
    for label, t, r in curves:
        r = np.asarray(r, dtype=np.float64)
        mean = r.mean(axis=0)
        lo, hi = np.percentile(r, [10, 90], axis=0)
        (line,) = ax.plot(t, mean, lw=2, label=f"{label} (mean of {len(r)})")
        if len(r) > 1:
            ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        top = max(top, float(hi.max()))
    if n_main:
        incoherent = math.sqrt(math.pi / (4 * n_main))
        ax.axhline(incoherent, color="0.4", ls="--", lw=1, label=f"random phases, N={n_main}")
        top = max(top, incoherent)
    ax.set_ylim(0, 1.0 if top > 0.5 else min(1.0, max(0.1, math.ceil(top * 1.25 * 20) / 20)))
    ax.set_xlabel("model time t (Euler steps × dt)")
    ax.set_ylabel(r"order parameter $r(t)=|\langle e^{i\theta_j}\rangle_j|$")
    ax.grid(alpha=0.3)
    ax.set_title(title or "Kuramoto order parameter, main oscillators", fontsize=9)
    ax.legend(fontsize=7, loc="best", title="band: 10th-90th percentile", title_fontsize=7)
    fig.tight_layout()
    return fig


def save_order_plot(times, r, path: str, title: str = "", labels=None, n_main: int | None = None) -> str:
    """r: (steps+1, S) order parameter per sample; samples with the same label (class) form one group
    (order_figure). n_main: oscillators behind r (draws the random-phase level when given)."""
    r = np.asarray(r, dtype=np.float64)
    labels = list(labels) if labels is not None else ["samples"] * r.shape[1]
    groups = {}
    for j, lab in enumerate(labels[: r.shape[1]]):
        groups.setdefault(lab, []).append(r[:, j])
    curves = [(lab, np.asarray(times), np.stack(rows)) for lab, rows in groups.items()]
    return save_figure(order_figure(curves, n_main, title), path)
