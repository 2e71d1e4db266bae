"""Boards built from a pynq overlay: the core's driver (host.pynq_driver.OscillatorCore, a pynq DefaultIP
bound by the core's VLNV) with its AXI DMA, driven by host.driver.CoreDriver.

OverlayBoard is shared: PynqZ2Board gets the core from pynq.Overlay(bitfile) on the board; SimBoard
(boards/sim.py) from host.simdevice.SimOverlay, which binds the same driver class through pynq. Everything
below the overlay is therefore exercised in CI through the simulated core; only Overlay() needs a board.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from bitstreams.board_config import CONFIGS as BOARDS
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from ..driver import CoreDriver
from .base import Board, BoardError, RunResult

PYNQ_CLOCK_HZ = BOARDS["pynq-z2"].fclk0_mhz * 1e6  # FCLK0 the block design sets; used when pynq cannot report it


def find_core(overlay):
    """The overlay's oscillator core driver (bound by VLNV); a clear error naming what is there otherwise."""
    from ..pynq_driver import CORE_VLNV, OscillatorCore

    names = [k for k, v in overlay.ip_dict.items() if v.get("type") == CORE_VLNV]
    if len(names) != 1:
        listing = ", ".join(f"{k} ({v.get('type')})" for k, v in overlay.ip_dict.items())
        raise BoardError(f"overlay must hold exactly one oscillator core ({CORE_VLNV}); found {len(names)} among: "
                         f"{listing or 'nothing'}")
    core = getattr(overlay, names[0])
    if not isinstance(core, OscillatorCore):
        raise BoardError(f"{names[0]} is bound to {type(core).__name__}, not host.pynq_driver.OscillatorCore: "
                         "import host.pynq_driver before creating the Overlay")
    return core


class OverlayBoard(Board):
    """A Board over one OscillatorCore (its MMIO, DMA and buffers)."""

    def __init__(self, core, *, clock_hz: float = PYNQ_CLOCK_HZ, run_timeout_s: float = 30.0,
                 expect_build_hash: int | None = None, check_build_hash: bool = True):
        self.core = core
        self.dma = core.dma
        self.driver = CoreDriver(core.mmio, self.dma, core.allocate, clock_hz=clock_hz, run_timeout_s=run_timeout_s,
                                 expect_build_hash=expect_build_hash, check_build_hash=check_build_hash)
        self.last_load_s = 0.0
        super().__init__(self.driver.params)
        if getattr(core, "_board", None) is None:
            core._board = self  # one Board (and one view of what is loaded) per core

    def info(self) -> dict:
        i = self.driver.info
        return dict(super().info(), core_id=i.core_id, version=i.version, build_hash=i.build_hash)

    def _load(self, image: HardwareImage) -> None:
        self.last_load_s = self.driver.load_model(image)

    def _run(self, class_id: int, phases0: np.ndarray, steps: int) -> RunResult:
        phases, timing, overflow = self.driver.run(self._image, class_id, phases0, steps)
        return RunResult(phases, timing, overflow)

    def close(self) -> None:
        self.driver.close()


class PynqZ2Board(OverlayBoard):
    """The real board: runs on the PYNQ-Z2 itself (python -m host.agent --board pynq-z2 --bitfile x.bit)."""

    name = "pynq-z2"

    def __init__(self, bitfile: str | None):
        if not bitfile:
            raise ValueError("the pynq-z2 board needs --bitfile PATH.bit (with PATH.hwh beside it)")
        if not os.path.exists(bitfile):
            raise FileNotFoundError(f"bitstream {bitfile!r} not found (a .bit with its .hwh beside it)")
        try:
            import pynq
        except ImportError:
            raise BoardError("the pynq package is not installed: the pynq-z2 board runs on the board itself "
                             "(or use tcp://BOARD:PORT with `python -m host.agent` running there)") from None
        # Refuse a bitstream that is not the recorded build of the current sources, before programming the PL.
        from bitstreams.manifest import BitstreamMismatch, check_bitstream, manifest_path

        try:
            record = json.loads(manifest_path(bitfile).read_text())
            built = HardwareParams.from_dict(record["params"])
        except FileNotFoundError:
            raise BoardError(f"{bitfile}: no build manifest {manifest_path(bitfile).name} beside it, so its sources are "
                             "unknown; use the .bit/.hwh/.json set written by `python -m bitstreams.build`") from None
        except (ValueError, KeyError, TypeError) as e:
            raise BoardError(f"{manifest_path(bitfile)}: unreadable build manifest ({e}); rebuild the bitstream") from None
        try:
            check_bitstream(bitfile, built)
        except BitstreamMismatch as e:
            raise BoardError(str(e)) from None
        expect = record.get("build_hash")
        from .. import pynq_driver  # registers OscillatorCore with pynq before the overlay binds its drivers

        t0 = time.perf_counter()
        self.overlay = pynq.Overlay(bitfile)
        self.download_s = time.perf_counter() - t0
        super().__init__(find_core(self.overlay), clock_hz=pynq_driver._fclk0_hz(), expect_build_hash=expect)
