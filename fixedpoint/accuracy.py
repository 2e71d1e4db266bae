"""Documented error bounds of the fixed-point datapath, and a float64 reference to measure against.

docs/numerics.md derives these bounds; tests check the measured errors stay inside them.
"""
from __future__ import annotations

import math

import numpy as np

from .quantize import HardwareImage
from .spec import NumericsSpec


def cordic_bound(spec: NumericsSpec) -> float:
    """Analytic worst case |CORDIC/A - sin| (and cos) at the CORDIC's input angle.

    residual angle after I micro-rotations   <= atan(2**-(I-1))
    atan table rounding                      <= I * 0.5 LSB of 2**-(FC+GA) turns
    shift truncation on x, y (I iterations, each <= 1 guard LSB per component, grown by <= the gain)
    start-vector rounding, output rounding (0.5 LSB)
    """
    i = spec.cordic_iters
    angle = math.atan(2.0 ** -(i - 1)) + i * 0.5 * 2 * math.pi / 2.0 ** (spec.cordic_in_bits + spec.cordic_angle_guard_bits)
    g = 2.0**-spec.cordic_guard_bits
    datapath = (i * spec.cordic_gain * math.sqrt(2) * g + 0.5 * spec.cordic_gain * g + 0.5) / spec.trig_amplitude
    return angle + datapath


def trig_bound(spec: NumericsSpec) -> float:
    """|sin error| for a phase word: the CORDIC bound plus truncating F fraction bits to FC."""
    return cordic_bound(spec) + 2 * math.pi * 2.0**-spec.cordic_in_bits


def float_euler(eff: dict[str, np.ndarray], theta0: np.ndarray, class_ids: np.ndarray, dt: float, steps: int,
                trajectory: bool = False) -> np.ndarray:
    """float64 Euler integration of the Un-0 dynamics (the math of model/un0.py, numpy, for error analysis)."""
    k, kc, d = eff["K"], eff["K_cond"], eff["K_drive"]
    n = k.shape[0]
    omega = np.asarray(eff["omega"], np.float64).reshape(1, -1)
    omega_c = np.asarray(eff["omega_cond"], np.float64).reshape(1, -1)
    th, ph = np.array(theta0[:, :n], np.float64), np.array(theta0[:, n:], np.float64)
    dc = d[np.asarray(class_ids)]  # (B, n, m)
    traj = [np.concatenate([th, ph], 1)]
    for _ in range(steps):
        s, c, sp, cp = np.sin(th), np.cos(th), np.sin(ph), np.cos(ph)
        v = omega + c * (s @ k.T) - s * (c @ k.T) + c * np.einsum("bnm,bm->bn", dc, sp) - s * np.einsum("bnm,bm->bn", dc, cp)
        vp = omega_c + cp * (sp @ kc.T) - sp * (cp @ kc.T)
        th, ph = th + dt * v, ph + dt * vp
        traj.append(np.concatenate([th, ph], 1))
    return np.stack(traj) if trajectory else traj[-1]


def local_error_bound(img: HardwareImage, eff: dict[str, np.ndarray]) -> float:
    """delta: worst-case |hardware step - float64 step| (radians) for one Euler step from the same phases.

    Per oscillator, maximised over oscillators and classes:
      omega rounding     0.5 LSB                                       -> pi / 2**F
      weight error       dt * sum_j |W~_ij - W_ij|
      trig error         dt * sum_j |W~_ij| * (4e + 2e^2), e = trig_bound (both factors of each product err)
      own-trig error     the c_i, s_i factors are inside the 4e term
      datapath rounding  (2**T * g_i / 2**R + 0.5) LSB  (the floor before the gain, the final round)
    """
    p, s = img.params, img.params.spec
    deq = img.dequantized()
    lsb = 2 * math.pi / 2.0**s.phase_frac_bits
    e = trig_bound(s)
    w_err = _row_sums(deq["K"] - eff["K"], deq["K_drive"] - eff["K_drive"], deq["K_cond"] - eff["K_cond"])
    w_abs = _row_sums(deq["K"], deq["K_drive"], deq["K_cond"])
    rnd = (2.0**p.pre_shift * img.gain / 2.0**img.gain_shift + 0.5) * lsb
    return float(np.max(0.5 * lsb + img.dt * (w_err + w_abs * (4 * e + 2 * e * e)) + rnd))


def _row_sums(k, d, kc):
    """sum_j |W_ij| per row of the combined matrix, worst class for the drive columns."""
    return np.concatenate([np.abs(k).sum(1) + np.abs(d).max(0).sum(1), np.abs(kc).sum(1)])


def phase_error_bound(img: HardwareImage, eff: dict[str, np.ndarray], steps: int | None = None) -> float:
    """Rigorous worst case after `steps` steps: delta grown by the field's Lipschitz constant.

    L = 2 max_i sum_j |W_ij| bounds the Jacobian of the Kuramoto field in the max-norm, so
    e_{k+1} <= (1 + dt L) e_k + delta and e_K <= delta ((1 + dt L)^K - 1) / (dt L). It is loose for
    strongly coupled models (the learned dynamics contract far more than the worst case); the
    measured errors of the sweep (docs/numerics.md) are the practical figures.
    """
    delta = local_error_bound(img, eff)
    lip = 2 * float(_row_sums(eff["K"], eff["K_drive"], eff["K_cond"]).max())
    k_steps = img.num_steps if steps is None else steps
    if lip == 0:
        return delta * k_steps
    return delta * ((1 + img.dt * lip) ** k_steps - 1) / (img.dt * lip)
