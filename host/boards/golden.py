"""The golden board: fixedpoint.golden's integer model, the reference every other board must match."""
from __future__ import annotations

import time

import numpy as np

from fixedpoint.golden import GoldenModel
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from .base import Board, RunResult


class GoldenBoard(Board):
    """Numpy model of the core. With params=None it models whatever build the image was made for."""

    name = "golden"

    def __init__(self, params: HardwareParams | None = None):
        super().__init__(params)
        self._model: GoldenModel | None = None

    def _load(self, image: HardwareImage) -> None:
        self._model = GoldenModel(image)

    def _run(self, class_id: int, phases0: np.ndarray, steps: int) -> RunResult:
        t0 = time.perf_counter()
        res = self._model.run(np.array([class_id]), phases0[None, :], steps=steps)
        dt = time.perf_counter() - t0
        return RunResult(res.phases[0].copy(), {"transfer_s": 0.0, "compute_s": dt}, bool(res.overflow[0]))

    def _run_batch(self, class_ids, phases0, steps):
        t0 = time.perf_counter()
        res = self._model.run(np.asarray(class_ids), phases0, steps=steps)
        dt = time.perf_counter() - t0
        return [RunResult(res.phases[i].copy(), {"transfer_s": 0.0, "compute_s": dt}, bool(res.overflow[i]))
                for i in range(len(class_ids))]
