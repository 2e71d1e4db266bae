"""Boards built from a pynq overlay: the core's AXI-Lite window + an AXI DMA, driven by host.driver.

OverlayBoard is shared: PynqZ2Board gets its ip_dict and Device from pynq.Overlay(bitfile) on the board;
SimBoard (boards/sim.py) gets them from host.simdevice.SimDevice. Everything below the ip_dict is
therefore exercised in CI through the simulated core; only the Overlay() call itself needs a board.
"""
from __future__ import annotations

import functools
import json
import os
import time

import numpy as np

from bitstreams.board_config import CONFIGS as BOARDS
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from ..driver import CoreDriver
from .base import Board, BoardError, RunResult

DMA_TYPE_PREFIX = "xilinx.com:ip:axi_dma:"
CORE_NAME_HINTS = ("osc_core", "oscillator")
PYNQ_CLOCK_HZ = BOARDS["pynq-z2"].fclk0_mhz * 1e6  # FCLK0 the block design sets; used when pynq cannot report it


def find_ips(ip_dict: dict) -> tuple[dict, dict]:
    """(core entry, DMA entry) of an overlay's ip_dict; a clear error naming what is there otherwise."""
    dmas = [v for v in ip_dict.values() if str(v.get("type", "")).startswith(DMA_TYPE_PREFIX)]
    cores = [v for k, v in ip_dict.items() if any(h in (k + str(v.get("type", ""))).lower() for h in CORE_NAME_HINTS)]
    if len(dmas) != 1 or len(cores) != 1:
        listing = ", ".join(f"{k} ({v.get('type')})" for k, v in ip_dict.items())
        raise BoardError(f"overlay must hold exactly one oscillator core and one AXI DMA; found {len(cores)} core(s) "
                         f"and {len(dmas)} DMA(s) among: {listing or 'nothing'}")
    return cores[0], dmas[0]


class OverlayBoard(Board):
    def __init__(self, ip_dict: dict, device, *, clock_hz: float = PYNQ_CLOCK_HZ, run_timeout_s: float = 30.0,
                 expect_build_hash: int | None = None, check_build_hash: bool = True):
        import pynq
        from pynq.lib.dma import DMA

        core, dma = find_ips(ip_dict)
        mmio = pynq.MMIO(core["phys_addr"], core["addr_range"], device=device)
        self.dma = DMA(dict(dma, device=device))
        allocate = functools.partial(pynq.allocate, target=device)
        self.driver = CoreDriver(mmio, self.dma, allocate, clock_hz=clock_hz, run_timeout_s=run_timeout_s,
                                 expect_build_hash=expect_build_hash, check_build_hash=check_build_hash)
        self.last_load_s = 0.0
        super().__init__(self.driver.params)

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
        t0 = time.perf_counter()
        self.overlay = pynq.Overlay(bitfile)
        self.download_s = time.perf_counter() - t0
        try:
            clock = float(pynq.ps.Clocks.fclk0_mhz) * 1e6
        except Exception:
            clock = PYNQ_CLOCK_HZ
        super().__init__(self.overlay.ip_dict, self.overlay.device, clock_hz=clock, expect_build_hash=expect)
