"""Bound on |RTL phase - float Euler phase| (radians) after k Euler steps, computed along the float trajectory
(numpy only; derivation in docs/rtl.md, "Float check").

Local error. Per step, the hardware increment at its own phases differs from dt * v(theta) of the float model at
the same phases by at most
  delta = dt * max_i [ sum_j |w_ij - wq_ij| ]                 weight quantization (float vs image.dequantized())
        + dt * max_i [ sum_j |wq_ij| ] * 2 (2 e_t + e_t^2)    sin/cos identity with CORDIC error e_t per trig value
        + (1/2 + max_i g_i 2^-R + 1/2) LSB                     omega rounding, the >>T floor, the final rounding
with e_t = CORDIC bound (exhaustive) + 2 pi 2^-FC (angle truncation), LSB = 2 pi 2^-F rad; rows w are [K | D_c]
for main oscillators and K_cond for conditioning ones.

Propagation. With e_s = theta_hw - theta_float at step s, v(theta + e) = v(theta) + J(theta_s) e + r_s where
|r_s|_inf <= 2 max_i sum_j |w_ij| * |e_s|_inf^2 (second derivative of sin is at most 1). So
  e_{s+1} = M_s e_s + dt r_s + l_s,  M_s = I + dt J(theta_float_s),  |l_s| <= delta,
  |e_k| <= B_k = sum_{t<k} |M_{k-1} ... M_{t+1}|_inf (delta + 2 dt R B_t^2),
a rigorous bound that follows the actual (float) dynamics instead of the worst-case Lipschitz constant.
"""
from __future__ import annotations

import math

import numpy as np

from fixedpoint.cordic import error_bound
from fixedpoint.quantize import HardwareImage


def _weights(eff, class_id, n, m):
    """(n+m, n+m) coupling matrix of the float vector field (row i, column j)."""
    w = np.zeros((n + m, n + m))
    w[:n, :n] = eff["K"]
    w[:n, n:] = eff["K_drive"][class_id]
    w[n:, n:] = eff["K_cond"]
    return w


def jacobian(w: np.ndarray, theta: np.ndarray) -> np.ndarray:
    c = w * np.cos(theta[None, :] - theta[:, None])
    return c - np.diag(c.sum(axis=1))


def local_error(image: HardwareImage, eff: dict[str, np.ndarray], class_id: int) -> float:
    p, s = image.params, image.params.spec
    n, m = p.n, p.n_cond
    deq = image.dequantized()
    w_f = _weights(eff, class_id, n, m)
    w_q = _weights(deq, class_id, n, m)
    e_t = max(error_bound(s)) + 2 * math.pi * 2.0 ** -s.cordic_in_bits
    lsb = 2 * math.pi * 2.0 ** -s.phase_frac_bits
    rounding = (1.0 + float(image.gain.max()) * 2.0 ** -image.gain_shift) * lsb
    return float(image.dt * (np.abs(w_f - w_q).sum(1).max() + np.abs(w_q).sum(1).max() * 2 * (2 * e_t + e_t**2))
                 + rounding)


def float_phase_bound(image: HardwareImage, eff: dict[str, np.ndarray], class_id: int,
                      trajectory: np.ndarray) -> float:
    """Bound after len(trajectory)-1 steps; trajectory = float phases (steps+1, n+m) in radians."""
    p = image.params
    w = _weights(eff, class_id, p.n, p.n_cond)
    r2 = 2 * np.abs(w).sum(1).max()
    delta = local_error(image, eff, class_id)
    dt = image.dt
    steps = len(trajectory) - 1
    mats = [np.eye(p.n_total) + dt * jacobian(w, trajectory[s]) for s in range(steps)]
    bounds = [0.0]
    for k in range(1, steps + 1):
        total, prop = 0.0, np.eye(p.n_total)
        for t in range(k - 1, -1, -1):  # prop = M_{k-1} ... M_{t+1}
            total += np.abs(prop).sum(1).max() * (delta + dt * r2 * bounds[t] ** 2)
            prop = prop @ mats[t]
        bounds.append(total)
    return float(bounds[-1])
