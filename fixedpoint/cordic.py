"""Bit-exact CORDIC sin/cos, vectorized over numpy arrays (the hardware computes exactly this).

Rotation-mode CORDIC on the top FC fraction bits of a phase word:
  1. fold: angles in [1/4, 3/4) turn are moved by half a turn (exact) and the outputs negated,
     leaving a residual z in [-1/4, 1/4) turn, inside CORDIC's convergence range;
  2. I micro-rotations on (x, y) with arithmetic right shifts, starting from (x0, 0) with x0
     pre-divided by the CORDIC gain, and on the residual angle z with a rounded atan table;
  3. round the G guard bits away (add half, floor), saturate to [-A, A], apply the fold's sign.
"""
from __future__ import annotations

import numpy as np

from .spec import NumericsSpec


def cordic_angle(phase: np.ndarray, spec: NumericsSpec) -> np.ndarray:
    """The FC-bit unsigned angle the CORDIC sees: the phase word's top fraction bits (truncated)."""
    phase = np.asarray(phase, dtype=np.int64)
    shift = spec.phase_frac_bits - spec.cordic_in_bits
    return (phase >> shift) & ((1 << spec.cordic_in_bits) - 1)


def cordic_sincos(angle: np.ndarray, spec: NumericsSpec) -> tuple[np.ndarray, np.ndarray]:
    """(sin, cos) as int64 arrays of amplitude A for FC-bit unsigned angles (turns * 2**FC)."""
    fc = spec.cordic_in_bits
    a = np.asarray(angle, dtype=np.int64)
    if a.size and (a.min() < 0 or a.max() >= 1 << fc):
        raise ValueError(f"CORDIC angles must be unsigned {fc}-bit integers")
    top2 = a >> (fc - 2)
    negate = (top2 == 1) | (top2 == 2)
    folded = np.where(negate, a ^ (1 << (fc - 1)), a)
    z = np.where(folded >= 1 << (fc - 1), folded - (1 << fc), folded) << spec.cordic_angle_guard_bits
    x = np.full(a.shape, spec.cordic_x0, dtype=np.int64)
    y = np.zeros(a.shape, dtype=np.int64)
    for i, alpha in enumerate(spec.cordic_angles):
        up = z >= 0
        xs, ys = x >> i, y >> i
        x, y = np.where(up, x - ys, x + ys), np.where(up, y + xs, y - xs)
        z = np.where(up, z - alpha, z + alpha)
    g = spec.cordic_guard_bits
    amp = spec.trig_amplitude
    half = (1 << (g - 1)) if g else 0
    cos = np.clip((x + half) >> g, -amp, amp)
    sin = np.clip((y + half) >> g, -amp, amp)
    return np.where(negate, -sin, sin), np.where(negate, -cos, cos)


def phase_sincos(phase: np.ndarray, spec: NumericsSpec) -> tuple[np.ndarray, np.ndarray]:
    """sin/cos of phase words, as the datapath computes them."""
    return cordic_sincos(cordic_angle(phase, spec), spec)


def error_bound(spec: NumericsSpec) -> tuple[float, float]:
    """Exhaustive worst case over all 2**FC angles: (max |sin err|, max |cos err|) in units of 1.0.

    Measured against the exact sin/cos of the truncated angle, so it is the CORDIC's own error;
    the input truncation adds at most 2*pi*2**-FC more (see docs/numerics.md).
    """
    a = np.arange(1 << spec.cordic_in_bits, dtype=np.int64)
    s, c = cordic_sincos(a, spec)
    t = a * (2 * np.pi / (1 << spec.cordic_in_bits))
    amp = spec.trig_amplitude
    return float(np.abs(s / amp - np.sin(t)).max()), float(np.abs(c / amp - np.cos(t)).max())
