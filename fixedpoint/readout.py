"""Phase words -> decoder features, exactly as the float readout does it (numpy only).

The phase word carries whole turns, so the mean of the *unwrapped* phases (Un-0's mean_relative
readout for the CIFAR-10 releases) is computed from the words without loss.
"""
from __future__ import annotations

import numpy as np

from .spec import NumericsSpec


def phases_to_radians(phases: np.ndarray, spec: NumericsSpec) -> np.ndarray:
    return np.asarray(phases, dtype=np.float64) * (2 * np.pi / 2.0**spec.phase_frac_bits)


def radians_to_phases(theta: np.ndarray, spec: NumericsSpec) -> np.ndarray:
    """Nearest phase words (for giving the float model and the hardware the same start)."""
    return np.round(np.asarray(theta, dtype=np.float64) * (2.0**spec.phase_frac_bits / (2 * np.pi))).astype(np.int64)


def features(theta_main: np.ndarray, relativization: str, encoding: str) -> np.ndarray:
    """(B, n) unwrapped radians -> (B, F) decoder features; mirrors model/un0.py's readout."""
    if relativization == "mean_relative":
        rel = theta_main - theta_main.mean(axis=1, keepdims=True)
    elif relativization == "ref_oscillator":
        rel = theta_main - theta_main[:, :1]
    elif relativization == "absolute":
        rel = theta_main
    else:
        raise ValueError(f"unsupported relativization {relativization!r} (mean_relative, ref_oscillator, absolute)")
    if encoding == "sin_cos":
        return np.concatenate([np.sin(rel), np.cos(rel)], axis=1)
    if encoding == "sin":
        return np.sin(rel)
    if encoding == "raw":
        return rel
    raise ValueError(f"unsupported encoding {encoding!r} (sin_cos, sin, raw)")


def phase_features(phases: np.ndarray, n: int, spec: NumericsSpec, model_config: dict) -> np.ndarray:
    """Hardware phase words (B, n_total) -> features for the decoder."""
    theta = phases_to_radians(np.asarray(phases)[:, :n], spec)
    return features(theta, model_config.get("relativization", "mean_relative"), model_config.get("encoding", "sin_cos"))
