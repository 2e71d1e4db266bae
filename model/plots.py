"""Image grids, per-step strips, GIFs and order-parameter plots (numpy + Pillow + matplotlib, no torch).

Every writer is atomic: it writes a temporary file in the target directory and renames it, so a
crash never leaves a half-written PNG behind.
"""

from __future__ import annotations

import math
import os

import numpy as np
from fixedpoint.files import atomic_output  # noqa: F401  (re-exported for model/ writers)




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


def save_grid(images, path: str, nrow: int | None = None, scale: int = 1) -> str:
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(make_grid(images, nrow, scale=scale)).save(tmp, format="PNG")
    return path


def save_strip(frames, path: str, scale: int = 2) -> str:
    """frames: (steps+1, S, 3, H, W) in [0, 1] -> rows = samples, columns = solver steps."""
    f = np.asarray(frames.detach().cpu().numpy() if hasattr(frames, "detach") else frames)
    steps, s = f.shape[:2]
    tiles = f.transpose(1, 0, 2, 3, 4).reshape(steps * s, *f.shape[2:])
    return save_grid(tiles, path, nrow=steps, scale=scale)


def save_gif(frames, path: str, nrow: int | None = None, scale: int = 2, ms_per_frame: int = 250) -> str:
    """frames: (steps+1, B, 3, H, W) in [0, 1] -> animated GIF of the grid over time (last frame held)."""
    from PIL import Image

    f = np.asarray(frames.detach().cpu().numpy() if hasattr(frames, "detach") else frames)
    imgs = [Image.fromarray(make_grid(f[t], nrow, scale=scale)) for t in range(f.shape[0])]
    durations = [ms_per_frame] * (len(imgs) - 1) + [ms_per_frame * 4]
    with atomic_output(path) as tmp:
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=durations, loop=0)
    return path


def save_order_plot(times, r, path: str, title: str = "", labels=None) -> str:
    """r: (steps+1, S) order parameter per sample; thin lines per sample and their mean in bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.asarray(r)
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    for j in range(r.shape[1]):
        ax.plot(times, r[:, j], lw=0.8, alpha=0.5, label=None if labels is None else labels[j])
    ax.plot(times, r.mean(axis=1), color="k", lw=2, label="mean")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$r(t)=|\langle e^{i\theta_j}\rangle_j|$")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title or "Kuramoto order parameter (main oscillators)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=os.path.splitext(path)[1].lstrip(".") or "png")
    plt.close(fig)
    return path
