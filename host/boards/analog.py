"""The analog board: a behavioural model of an analog oscillator chip (model/analog.py) behind the board interface.

A thin adaptor. The physics (continuous time, phase noise, mismatch, coupler waveform, readout ADC) lives in
model/analog.py; this file converts the host's phase words to radians and back. The chip is programmed from the
float checkpoint (a chip's coupling DACs would be written from the trained weights, with ``coupling_bits`` of
precision), not from the FPGA's fixed-point image: the host still quantizes and loads an image (the common
interface: model.hardware_image.identity_image, the model's identity without fixed-point weights, so no
fixed-point range applies), and the board checks that it was made for the same model (n, n_cond, classes, model
config). By default (AnalogParams()) the chip is ideal: it computes the trained Euler schedule exactly; every
non-ideality is off until set (`--analog NAME=VALUE`, or host.open("analog", analog=AnalogParams(...))).

Words in, words out: initial phase words (signed, ``phase_frac_bits`` fraction of a turn) -> float64 radians
(exact for every word) -> AnalogArray.run -> nearest phase words, wrapped to the word like the digital core (the
overflow flag is set if a phase left the word's range). ``steps`` Euler steps of dt are the run: under
``integrator=ode`` the board integrates for steps * dt model time units. A trajectory (host --strip) is a chain
of 1-step runs, each ending in a readout (jitter, ADC), as a chip that stops and re-reads after every step.
Phase noise and jitter come from one generator seeded with ``noise_seed`` at load time, advanced by every run.
"""
from __future__ import annotations

import time

import numpy as np

from fixedpoint.golden import wrap_phase
from fixedpoint.quantize import HardwareImage
from fixedpoint.readout import phases_to_radians, radians_to_phases

from .base import Board, BoardError, ImageMismatch, RunResult


class AnalogBoard(Board):
    """``AnalogBoard(checkpoint, AnalogParams(...))``; params=None: it models any digital build (like golden)."""

    name = "analog"
    programs_float_checkpoint = True  # the chip is programmed from the float weights, not the fixed-point image

    def describe(self) -> str:
        """The chip's non-idealities: "ideal chip" when every AnalogParams field is at its (ideal) default."""
        import dataclasses

        default = type(self.analog)()
        changed = [f"{f.name}={getattr(self.analog, f.name)}" for f in dataclasses.fields(self.analog)
                   if getattr(self.analog, f.name) != getattr(default, f.name)]
        if not changed:
            return ("analog chip model, ideal (every non-ideality off, the AnalogParams defaults; set them with "
                    "--analog NAME=VALUE or analog=AnalogParams(...), docs/analog.md)")
        return "analog chip model, " + " ".join(changed)

    def __init__(self, checkpoint: str, analog=None):
        from model.analog import AnalogParams

        super().__init__(None)
        if analog is not None and not isinstance(analog, AnalogParams):
            raise TypeError(f"analog must be a model.analog.AnalogParams, got {type(analog).__name__}")
        self.checkpoint = str(checkpoint)
        self.analog = analog or AnalogParams()
        self._array = None
        self._gen = None
        self._spec = None

    def info(self) -> dict:
        return super().info() | {"analog": self.analog.to_dict(), "checkpoint": self.checkpoint}

    def _load(self, image: HardwareImage) -> None:
        import torch

        from model.analog import AnalogArray
        from model.checkpoint import load_checkpoint

        model = load_checkpoint(self.checkpoint)
        cfg = model.cfg
        if (cfg.n, cfg.n_cond, cfg.num_classes) != (image.params.n, image.params.n_cond, image.num_classes) or (
                image.model_config and image.model_config != cfg.to_dict()):
            raise ImageMismatch(
                f"the model image (n={image.params.n}, n_cond={image.params.n_cond}, {image.num_classes} classes, "
                f"config {image.model_config.get('name', '?')}) was not made from the analog board's checkpoint "
                f"{self.checkpoint} ({cfg.name}: n={cfg.n}, n_cond={cfg.n_cond}, {cfg.num_classes} classes): "
                "quantize that checkpoint, or open the board with the image's checkpoint")
        self._array = AnalogArray(model, self.analog)
        self._gen = torch.Generator().manual_seed(self.analog.noise_seed)
        self._spec = image.params.spec
        self._dt = image.dt

    def _run(self, class_id: int, phases0: np.ndarray, steps: int) -> RunResult:
        import torch

        if self._array is None:
            raise BoardError("analog: no model loaded")
        t0 = time.perf_counter()
        theta0 = torch.from_numpy(phases_to_radians(phases0[None, :], self._spec))
        theta = self._array.run(torch.tensor([class_id]), theta0, self._gen, duration=steps * self._dt,
                                euler_steps=steps)
        words, over = wrap_phase(radians_to_phases(theta[0].numpy(), self._spec), self._spec)
        return RunResult(words.astype(np.int64), {"transfer_s": 0.0, "compute_s": time.perf_counter() - t0},
                         bool(over.any()))
