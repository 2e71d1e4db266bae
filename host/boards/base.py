"""The one board interface every backend implements (numpy only: the board-side agent imports it).

A board holds one oscillator core (or a model of one). The host quantizes a checkpoint for the
board's `params`, loads the resulting HardwareImage once (boards cache it by `image.digest()`),
then asks for runs: initial phase words in, settled phase words out, plus a timing split.
The host never needs to know how a board computes (golden numpy, RTL simulation, FPGA, remote).
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams


class BoardError(RuntimeError):
    """Base of every board failure; the message says what went wrong and what to do."""


class BoardTimeout(BoardError):
    """The board did not answer (or finish a run) in time."""


class BoardDisconnected(BoardError):
    """The board, its process or its link went away."""


class ImageMismatch(BoardError, ValueError):
    """A model image that does not fit the loaded core (sizes, lanes or numerics format)."""


class CoreMismatch(BoardError):
    """The core is not the one this host speaks to (ID, version or build hash differ)."""


@dataclass
class RunResult:
    """One request's answer. Timing keys (all optional except total_s): transfer_s (moving words),
    compute_cycles (core clock cycles from START to done), compute_s (cycles / clock, or wall time for
    software boards), link_s (remote round trip outside the board), total_s."""

    phases: np.ndarray  # (n_total,) int64 settled phase words
    timing: dict = field(default_factory=dict)
    overflow: bool = False  # a phase left the phase word's range (result is still the hardware's)
    trajectory: np.ndarray | None = None  # (steps+1, n_total) when a trajectory was asked for


class Board(ABC):
    """Abstract board. Subclasses implement _load and _run; caching and checks live here."""

    #: short name for tables and messages ("golden", "sim", "pynq-z2", "tcp://...")
    name = "board"

    def __init__(self, params: HardwareParams | None):
        self._params = params
        self._digest: str | None = None
        self._image: HardwareImage | None = None

    # ---- identity -------------------------------------------------------------------------------
    @property
    def params(self) -> HardwareParams | None:
        """The loaded core's build parameters; None for a board that can model any build (golden)."""
        return self._params

    #: True for a board that programs its chip from the float checkpoint (analog): the host then sends only the
    #: model's identity (model.hardware_image.identity_image), so fixed-point limits do not apply to it.
    programs_float_checkpoint = False

    def describe(self) -> str | None:
        """One line on what computes, for boards whose core is not a digital build (None: the build says it)."""
        return None

    def info(self) -> dict:
        """What the board is: name, params (dict or None) and any identity the core reports."""
        return {"board": self.name, "params": None if self.params is None else self.params.to_dict()}

    @property
    def image(self) -> HardwareImage | None:
        return self._image

    # ---- model image ------------------------------------------------------------------------------
    def load_image(self, image: HardwareImage) -> bool:
        """Load `image` unless the same digest is already loaded; returns True when it was (re)loaded."""
        digest = image.digest()
        if digest == self._digest:
            return False
        self.check_image(image)
        self._digest = None  # a failed load leaves no stale image behind
        self._image = None
        self._load(image)
        self._image, self._digest = image, digest
        return True

    def check_image(self, image: HardwareImage) -> None:
        """A clear error when the image was made for another build than this board's core."""
        if self.params is not None and image.params != self.params:
            raise ImageMismatch(
                f"model image was quantized for {_describe(image.params)} but the {self.name} core is "
                f"{_describe(self.params)}: quantize the checkpoint for the board's params "
                "(model.hardware_image.image_from_checkpoint(path, params=board.params)) or build a matching core")

    # ---- requests -------------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        """Most samples one run holds: the core build's batch B (HardwareParams.batch; 1 for on-chip-K builds and for
        boards that run one sample at a time). run_batch takes up to this many."""
        p = self.params if self.params is not None else (self._image.params if self._image is not None else None)
        return 1 if p is None else p.batch

    def run(self, class_id: int, phases0: np.ndarray, steps: int | None = None) -> RunResult:
        """Integrate one sample from phases0 for `steps` (default: the image's num_steps)."""
        return self.run_batch([class_id], np.asarray(phases0).reshape(1, -1), steps)[0]

    def run_batch(self, class_ids, phases0: np.ndarray, steps: int | None = None) -> list[RunResult]:
        """Integrate k samples in one run of the core, 1 <= k <= self.batch: sample i from phases0[i] ((k, n_total)
        phase words) with class class_ids[i] (samples may differ in class). A sample's phases are bit-identical
        whether it runs alone or in a batch (the core computes every sample of a batch independently; tests check it
        on golden and sim). Returns one RunResult per sample; its timing is the whole run's (key samples_in_run = k),
        and on boards that only see a run-wide overflow flag (the FPGA's sticky STATUS.OVERFLOW) `overflow` is that
        flag. Raises ValueError for bad classes, phase words, sample counts or steps; BoardError from the board."""
        if self._image is None:
            raise BoardError(f"{self.name}: no model image loaded; call load_image first")
        img = self._image
        p = img.params
        phases0 = np.asarray(phases0, dtype=np.int64)
        if phases0.ndim != 2 or phases0.shape[1] != p.n_total:
            raise ValueError(f"initial phases must be (samples, n + n_cond = {p.n_total}) words, got {phases0.shape}")
        if not 1 <= phases0.shape[0] <= self.batch:
            raise ValueError(f"a run of the {self.name} core holds 1..{self.batch} samples, got {phases0.shape[0]}")
        lim = 1 << (p.spec.phase_bits - 1)
        if phases0.size and (phases0.min() < -lim or phases0.max() >= lim):
            raise ValueError(f"initial phases must be signed {p.spec.phase_bits}-bit words")
        ids = [int(c) for c in np.asarray(class_ids).reshape(-1)]
        if len(ids) != phases0.shape[0]:
            raise ValueError(f"{len(ids)} class ids for {phases0.shape[0]} samples: give one class per sample")
        for c in ids:
            if not 0 <= c < img.num_classes:
                raise ValueError(f"class id {c} outside 0..{img.num_classes - 1}")
        steps = img.num_steps if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        t0 = time.perf_counter()
        results = self._run_batch(ids, phases0, steps)
        total = time.perf_counter() - t0
        for r in results:
            r.timing.setdefault("total_s", total)
            r.timing.setdefault("samples_in_run", len(ids))
        return results

    def run_trajectory(self, class_id: int, phases0: np.ndarray, steps: int | None = None) -> RunResult:
        """Phases after every Euler step: a chain of single-step runs, each read back.

        The core's only state between steps is the phase vector (drive and couplings are constant), so
        chaining 1-step runs is bit-identical to one T-step run (tests check it on golden and sim) and
        costs T runs instead of the T(T+1)/2 steps of re-running 1..T from the start.
        """
        img = self._image
        if img is None:
            raise BoardError(f"{self.name}: no model image loaded; call load_image first")
        steps = img.num_steps if steps is None else int(steps)
        cur = np.asarray(phases0, dtype=np.int64).reshape(-1)
        traj = [cur.copy()]
        timing: dict = {}
        overflow = False
        for _ in range(steps):
            r = self.run(class_id, cur, steps=1)
            cur = r.phases
            overflow |= r.overflow
            traj.append(cur.copy())
            for k, v in r.timing.items():
                if isinstance(v, (int, float)):
                    timing[k] = timing.get(k, 0) + v
        return RunResult(cur, timing, overflow, np.stack(traj))

    @abstractmethod
    def _load(self, image: HardwareImage) -> None: ...

    @abstractmethod
    def _run(self, class_id: int, phases0: np.ndarray, steps: int) -> RunResult: ...

    def _run_batch(self, class_ids: list[int], phases0: np.ndarray, steps: int) -> list[RunResult]:
        """k checked samples ((k, n_total) int64) -> k results. Boards that run one sample at a time (batch 1) keep
        this default; batch builds override it to run them together."""
        return [self._run(c, row, steps) for c, row in zip(class_ids, phases0)]

    def close(self) -> None:
        """Release the board (processes, links, buffers). Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _describe(p: HardwareParams) -> str:
    fmt = next((name for name, s in _formats().items() if s == p.spec), "custom format")
    return f"n={p.n}, n_cond={p.n_cond}, lanes={p.lanes}, {fmt}"


def _formats():
    from fixedpoint.spec import FORMATS

    return FORMATS
