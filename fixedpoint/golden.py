"""The golden integer model: the Euler steps exactly as the hardware does them, batched (numpy only).

The two matrix-vector products of the sin/cos identity run as one float64 GEMM over integer-valued
operands. That is exact: every product and partial sum is an integer below 2**53 (HardwareParams
checks the bound), so BLAS order cannot change a bit, and it is ~100x faster than numpy's integer matmul.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cordic import phase_sincos
from .quantize import HardwareImage
from .readout import phases_to_radians
from .spec import NumericsSpec


def wrap_phase(x: np.ndarray, spec: NumericsSpec) -> tuple[np.ndarray, np.ndarray]:
    """Two's-complement wrap to the P-bit phase word; also returns where it overflowed."""
    bits = spec.phase_bits
    wrapped = ((x + (1 << (bits - 1))) & ((1 << bits) - 1)) - (1 << (bits - 1))
    return wrapped, wrapped != x


def initial_phases(seed: int, batch: int, n_total: int, spec: NumericsSpec) -> np.ndarray:
    """Seeded initial phase words, uniform over [-1/2, 1/2) turn = [-pi, pi): one stream for every board."""
    half = 1 << (spec.phase_frac_bits - 1)
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(-half, half, size=(batch, n_total), dtype=np.int64)


def initial_radians(seed: int, batch: int, n_total: int) -> np.ndarray:
    """The same seeded draw as initial_phases, in radians (float64, exact): (batch, n_total) in [-pi, pi).

    The float reference (model.sample) starts from these, so a seed gives the float model and every board
    the same initial phases (every named format has the same phase fraction bits; a test checks it).
    """
    spec = NumericsSpec()
    return phases_to_radians(initial_phases(seed, batch, n_total, spec), spec)


@dataclass
class GoldenResult:
    phases: np.ndarray  # (B, n_total) final phase words
    overflow: np.ndarray  # (B,) bool: some phase left the word's range (sticky, as the hardware flag)
    trajectory: np.ndarray | None = None  # (steps+1, B, n_total) when asked for


class GoldenModel:
    """Holds one image's matrices in the GEMM-ready layout; run() integrates a batch."""

    def __init__(self, image: HardwareImage):
        self.image = image
        p = image.params
        self.params = p
        # [K | D_c] per class as float64 (exact integers); the conditioning block on its own.
        self._k = image.k.astype(np.float64)
        self._drive = image.drive.astype(np.float64)
        self._kcond = image.kcond.astype(np.float64)
        self._gain = image.gain.astype(np.int64)
        self._omega = image.omega_inc.astype(np.int64)

    def step(self, phases: np.ndarray, class_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, s = self.params, self.params.spec
        n = p.n
        sin, cos = phase_sincos(phases, s)
        trig = np.concatenate([sin, cos], axis=0).astype(np.float64)  # (2B, n_total): one GEMM for both
        b = phases.shape[0]
        acc = np.empty((2 * b, p.n_total), dtype=np.float64)
        acc[:, :n] = trig[:, :n] @ self._k.T
        both = np.concatenate([class_ids, class_ids])
        for c in np.unique(class_ids):  # drive grouped by class, not gathered per sample
            rows = both == c
            acc[rows, :n] += trig[rows, n:] @ self._drive[c].T
        acc[:, n:] = trig[:, n:] @ self._kcond.T
        acc_i = acc.astype(np.int64)
        acc_s, acc_c = acc_i[:b], acc_i[b:]
        u = cos * acc_s - sin * acc_c
        r = self.image.gain_shift
        delta = (((u >> p.pre_shift) * self._gain) + (1 << (r - 1))) >> r
        return wrap_phase(phases + self._omega + delta, s)

    def run(self, class_ids, phases0: np.ndarray, steps: int | None = None, trajectory: bool = False) -> GoldenResult:
        p = self.params
        phases = np.array(phases0, dtype=np.int64, copy=True)
        if phases.ndim != 2 or phases.shape[1] != p.n_total:
            raise ValueError(f"initial phases must be (batch, {p.n_total}), got {phases.shape}")
        class_ids = np.broadcast_to(np.asarray(class_ids, dtype=np.int64), (phases.shape[0],))
        if class_ids.min() < 0 or class_ids.max() >= self.image.num_classes:
            raise ValueError(f"class ids must be in 0..{self.image.num_classes - 1}")
        lim = 1 << (p.spec.phase_bits - 1)
        if phases.min() < -lim or phases.max() >= lim:
            raise ValueError(f"initial phases must be signed {p.spec.phase_bits}-bit words")
        steps = self.image.num_steps if steps is None else steps
        overflow = np.zeros(phases.shape[0], dtype=bool)
        traj = [phases.copy()] if trajectory else None
        for _ in range(steps):
            phases, ovf = self.step(phases, class_ids)
            overflow |= ovf.any(axis=1)
            if trajectory:
                traj.append(phases.copy())
        return GoldenResult(phases, overflow, np.stack(traj) if trajectory else None)
