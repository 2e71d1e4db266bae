"""Images out: decoder choice (torch if importable, else numpy), image grids, atomic PNG files (stdlib zlib)."""
from __future__ import annotations

import struct
import zlib

import numpy as np

from fixedpoint.files import write_atomic  # noqa: F401  (re-exported: host code writes through it)


#: The decoder implementations a caller may ask for: auto (torch when importable, else numpy), torch, numpy.
DECODERS = ("auto", "torch", "numpy")


def check_decoder(prefer) -> str:
    """`prefer` if it is one of DECODERS, else ValueError naming them."""
    if not isinstance(prefer, str) or prefer not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {prefer!r}")
    return prefer


class Decoder:
    """Phase features -> images in [-1, 1], (B, 3, H, W). `kind` says which implementation runs.
    `prefer`: one of DECODERS (ValueError otherwise)."""

    def __init__(self, checkpoint: str, prefer: str = "auto"):
        check_decoder(prefer)
        self.kind = None
        if prefer in ("auto", "torch"):
            try:
                import torch  # noqa: F401

                from model.checkpoint import load_checkpoint

                self._model = load_checkpoint(checkpoint)
                self.kind = "torch"
            except ImportError:
                if prefer == "torch":
                    raise
        if self.kind is None:
            from model.decoder_np import NumpyDecoder

            self._np = NumpyDecoder.from_checkpoint(checkpoint)
            self.kind = "numpy"

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        if self.kind == "torch":
            import torch

            feats = np.asarray(feats, np.float32)
            threads = torch.get_num_threads()
            if feats.shape[0] <= 4:  # a few images: one thread; on a busy machine more threads cost 100x
                torch.set_num_threads(1)
            try:
                with torch.no_grad():
                    return self._model.decode(torch.from_numpy(feats)).double().numpy()
            finally:
                torch.set_num_threads(threads)
        return self._np(feats)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] (B, 3, H, W) -> uint8 (B, H, W, 3), as Un-0's (x + 1) / 2 clamp."""
    x = np.clip((np.asarray(images, np.float64) + 1.0) / 2.0, 0.0, 1.0)
    return np.round(x * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(tiles: np.ndarray, pad: int = 2) -> np.ndarray:
    """(rows, cols, H, W, 3) uint8 -> one (H', W', 3) image with `pad` white pixels between tiles."""
    r, c, h, w, _ = tiles.shape
    out = np.full((r * h + (r - 1) * pad, c * w + (c - 1) * pad, 3), 255, np.uint8)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = tiles[i, j]
    return out


def png_bytes(rgb: np.ndarray) -> bytes:
    """Minimal truecolour PNG encoder (stdlib zlib): no pillow needed on the host or the board."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"PNG writer expects (H, W, 3) uint8, got {rgb.shape}")
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))



def save_png(path: str, rgb: np.ndarray) -> None:
    write_atomic(path, png_bytes(rgb))
