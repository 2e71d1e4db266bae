"""Random quantized images and the word streams that load them: what the RTL tests feed the core (numpy only)."""
from __future__ import annotations

import math

import numpy as np

from fixedpoint.layout import LOAD_TARGETS, model_streams, request_streams
from fixedpoint.quantize import HardwareImage, quantize
from fixedpoint.spec import HardwareParams


def random_image(params: HardwareParams, seed: int, num_classes: int = 3, num_steps: int = 4,
                 k_scale: float = 1.0, dt: float = 0.1) -> HardwareImage:
    """Quantize random float couplings (Un-0-like scales) into an image for `params`."""
    rng = np.random.default_rng(seed)
    n, m = params.n, params.n_cond
    k = rng.normal(size=(n, n)) * k_scale / math.sqrt(n)
    kc = rng.normal(size=(m, m)) / math.sqrt(m)
    np.fill_diagonal(k, 0)
    np.fill_diagonal(kc, 0)
    eff = {"omega": rng.normal(size=n), "K": k, "omega_cond": rng.normal(size=m), "K_cond": kc,
           "K_drive": rng.normal(size=(num_classes, n, m)) / math.sqrt(m)}
    return quantize(eff, params, dt, num_steps)


def extreme_image(params: HardwareParams, k_sign: int | None, drive_sign: int | None, gain: str = "max",
                  gain_shift: int = 1, seed: int = 0, omega: str | None = None, num_classes: int = 2,
                  num_steps: int = 10) -> HardwareImage:
    """A directed worst-case image (built directly, not via quantize: its phases may run past the wrap).

    k_sign / drive_sign: +1 or -1 puts every off-diagonal K (resp. drive and conditioning) weight at sign*max
    (class 1's drive at the opposite sign), 0 draws each weight from {-max, max, 0, random}, None zeros them.
    gain: "max" (every gain 2**gain_bits - 1) or "mixed" (0, 1, max or random per row). omega: None (zero) or
    "edge" (0, +-1, random, +-2**(P-2) per row). Diagonals are zero, as in every quantized image.
    """
    p, s = params, params.spec
    rng = np.random.default_rng(seed)
    n, m, nt = p.n, p.n_cond, p.n_total

    def weights(shape, sign, lim):
        if sign is None:
            return np.zeros(shape, dtype=np.int64)
        if sign:
            return np.full(shape, sign * lim, dtype=np.int64)
        pick = rng.integers(0, 4, size=shape)
        return np.choose(pick, [np.full(shape, -lim), np.full(shape, lim), np.zeros(shape, np.int64),
                                rng.integers(-lim, lim + 1, size=shape)]).astype(np.int64)

    k = weights((n, n), k_sign, s.coupling_max)
    kc = weights((m, m), drive_sign, s.drive_max)
    np.fill_diagonal(k, 0)
    np.fill_diagonal(kc, 0)
    drive = np.stack([weights((n, m), drive_sign if c % 2 == 0 or not drive_sign else -drive_sign, s.drive_max)
                      for c in range(num_classes)])
    gmax = (1 << s.gain_bits) - 1
    if gain == "max":
        g = np.full(nt, gmax, dtype=np.int64)
    elif gain == "mixed":
        g = np.choose(rng.integers(0, 4, size=nt), [np.zeros(nt, np.int64), np.ones(nt, np.int64),
                                                     np.full(nt, gmax), rng.integers(0, gmax + 1, size=nt)])
    else:
        raise ValueError(f"gain must be 'max' or 'mixed', got {gain!r}")
    if omega is None:
        om = np.zeros(nt, dtype=np.int64)
    elif omega == "edge":
        t64, half = 1 << (s.phase_bits - 2), 1 << (s.phase_frac_bits - 1)
        om = np.choose(rng.integers(0, 5, size=nt), [np.zeros(nt, np.int64), np.ones(nt, np.int64),
                                                      -np.ones(nt, np.int64), rng.integers(-half, half, size=nt),
                                                      rng.choice([-t64, t64 - 1], size=nt)])
    else:
        raise ValueError(f"omega must be None or 'edge', got {omega!r}")
    return HardwareImage(params=p, dt=0.1, num_steps=num_steps, gain_shift=gain_shift, k=k, drive=drive, kcond=kc,
                         gain=g.astype(np.int64), omega_inc=om.astype(np.int64))


def wide_phases(seed: int, params: HardwareParams) -> np.ndarray:
    """Start phases drawn from the whole signed phase word (every whole-turn bit exercised), shape (n_total,)."""
    lim = 1 << (params.spec.phase_bits - 1)
    return np.random.default_rng(seed).integers(-lim, lim, size=params.n_total, dtype=np.int64)


def edge_phases(seed: int, params: HardwareParams) -> np.ndarray:
    """Start phases at the wrap edges: +-2**(P-1) and +-2**(P-2) (64 turns at W = 8) give or take one LSB, exact
    quarter turns, 0 and random words, shape (n_total,)."""
    s = params.spec
    lim, t64, q = 1 << (s.phase_bits - 1), 1 << (s.phase_bits - 2), 1 << (s.phase_frac_bits - 2)
    edges = np.array([lim - 1, lim - 2, -lim, -lim + 1, t64 - 1, t64, -t64, -t64 - 1, 0, q, -q, 2 * q, -2 * q, 3 * q],
                     dtype=np.int64)
    rng = np.random.default_rng(seed)
    out = rng.choice(edges, size=params.n_total)
    rand = rng.random(params.n_total) < 0.2
    out[rand] = rng.integers(-lim, lim, size=int(rand.sum()))
    return out


def load_sequence(image: HardwareImage, class_id: int, phases0: np.ndarray,
                  model: bool = True) -> list[tuple[int, np.ndarray]]:
    """(LOAD_TARGET code, words) in the order a host sends them: the model memories, then the request."""
    seq = []
    if model:
        for name, words in model_streams(image).items():
            seq.append((LOAD_TARGETS[name], words))
    for name, words in request_streams(image, class_id, phases0).items():
        seq.append((LOAD_TARGETS[name], words))
    return seq
