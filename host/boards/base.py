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
    def run(self, class_id: int, phases0: np.ndarray, steps: int | None = None) -> RunResult:
        """Integrate one sample from phases0 for `steps` (default: the image's num_steps)."""
        if self._image is None:
            raise BoardError(f"{self.name}: no model image loaded; call load_image first")
        img = self._image
        phases0 = np.asarray(phases0, dtype=np.int64).reshape(-1)
        p = img.params
        if phases0.shape != (p.n_total,):
            raise ValueError(f"initial phases must hold n + n_cond = {p.n_total} words, got {phases0.shape}")
        lim = 1 << (p.spec.phase_bits - 1)
        if phases0.size and (phases0.min() < -lim or phases0.max() >= lim):
            raise ValueError(f"initial phases must be signed {p.spec.phase_bits}-bit words")
        class_id = int(class_id)
        if not 0 <= class_id < img.num_classes:
            raise ValueError(f"class id {class_id} outside 0..{img.num_classes - 1}")
        steps = img.num_steps if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        t0 = time.perf_counter()
        res = self._run(class_id, phases0, steps)
        res.timing.setdefault("total_s", time.perf_counter() - t0)
        return res

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
