"""Numpy-only forward pass of the ResizeConvDecoder (no torch): decode phase features on any machine.

Reads the `decoder.*` tensors of one of our checkpoints (model.checkpoint.load_config_and_tensors works
without torch) and mirrors model/un0.py exactly: features (B, F) -> (B, F/16, 4, 4) channel-major ->
per block: nearest x2 upsample, conv3x3 (pad 1), LeakyReLU(0.2), conv3x3, LeakyReLU(0.2) ->
conv3x3 -> tanh. Computed in float64, so it matches the float32 torch decoder to ~1e-6.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import DECODER_BASE_SIZE, LEAKY_RELU_SLOPE, ModelConfig


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, Cin, H, W) * (Cout, Cin, 3, 3) + b, zero padding 1, stride 1 (cross-correlation, as torch)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))  # (B, Cin, H, W, 3, 3)
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (B, H, W, Cout)
    return out.transpose(0, 3, 1, 2) + b[None, :, None, None]


def leaky_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, LEAKY_RELU_SLOPE * x)


class NumpyDecoder:
    """Decoder weights in float64; __call__(features) -> images (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg

        def get(k):
            key = f"decoder.{k}"
            if key not in tensors:
                raise KeyError(f"checkpoint has no tensor {key!r}")
            return np.asarray(tensors[key], dtype=np.float64)

        self.blocks = [(get(f"cascade.{i}.net.1.weight"), get(f"cascade.{i}.net.1.bias"),
                        get(f"cascade.{i}.net.3.weight"), get(f"cascade.{i}.net.3.bias"))
                       for i in range(cfg.num_decoder_blocks)]
        self.out_w, self.out_b = get("to_output.weight"), get("to_output.bias")

    @classmethod
    def from_checkpoint(cls, path: str) -> "NumpyDecoder":
        from .checkpoint import load_config_and_tensors

        cfg, tensors = load_config_and_tensors(path)
        return cls(cfg, tensors)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != self.cfg.num_features:
            raise ValueError(f"features must be (batch, {self.cfg.num_features}), got {feats.shape}")
        s = DECODER_BASE_SIZE
        h = feats.reshape(feats.shape[0], self.cfg.decoder_in_channels, s, s)
        for w1, b1, w2, b2 in self.blocks:
            h = h.repeat(2, axis=2).repeat(2, axis=3)  # nearest x2
            h = leaky_relu(conv3x3(h, w1, b1))
            h = leaky_relu(conv3x3(h, w2, b2))
        return np.tanh(conv3x3(h, self.out_w, self.out_b))
