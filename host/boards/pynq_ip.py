"""The oscillator core's pynq IP class: a pynq.DefaultIP bound by the core's VLNV (its registers, AXI DMA, buffers).

pynq binds every IP whose ip_dict "type" equals an entry of `bindto` to the class registered last for it when
the overlay is built (pynq.overlay.RegisterIP). Importing this module registers `OscillatorIP`, which is all the
host's boards need (host.boards.pynq_z2.OverlayBoard drives it through host.driver.CoreDriver). The user-facing
driver with load/generate, host.pynq_driver.OscillatorCore, subclasses it and registers itself for the same VLNV
when imported; it lives above host.api, which it uses, so that boards never import the API (no import cycle).
The VLNV comes from bitstreams.board_config (the block design's module reference).
"""
from __future__ import annotations

from pynq import DefaultIP

from bitstreams.board_config import CONFIGS as BOARDS

from .base import BoardError

#: The VLNV the core's drivers bind to (one source of truth: bitstreams.board_config).
CORE_VLNV = BOARDS["pynq-z2"].core_vlnv
DMA_TYPE_PREFIX = "xilinx.com:ip:axi_dma:"


class OscillatorIP(DefaultIP):
    """One oscillator core in a pynq overlay (AXI4-Lite registers through DefaultIP's pynq.MMIO, and the
    overlay's one AXI DMA for the load and readback streams).

    description: the core's pynq ip_dict entry (pynq passes it when `overlay.<core>` is first read).
    """

    bindto = [CORE_VLNV]

    def __init__(self, description):
        super().__init__(description=description)
        self._description = description
        self._dma = None
        self._board = None  # the host.boards OverlayBoard over this core, set by the board itself

    @property
    def dma(self):
        """pynq.lib.dma.DMA of the overlay's one AXI DMA (the core's load and readback streams)."""
        if self._dma is None:
            from pynq.lib.dma import DMA

            ip_dict = getattr(self.device, "ip_dict", None) or {}
            dmas = [v for v in ip_dict.values() if str(v.get("type", "")).startswith(DMA_TYPE_PREFIX)]
            if len(dmas) != 1:
                listing = ", ".join(f"{k} ({v.get('type')})" for k, v in ip_dict.items())
                raise BoardError(f"the overlay must hold exactly one AXI DMA next to the oscillator core; found "
                                 f"{len(dmas)} among: {listing or 'nothing'}")
            self._dma = DMA(dict(dmas[0], device=self.device))
        return self._dma

    def allocate(self, shape, dtype):
        """A DMA-reachable buffer on this core's device (pynq.allocate)."""
        import pynq

        return pynq.allocate(shape=shape, dtype=dtype, target=self.device)

    def close(self) -> None:
        """Free the DMA buffers. Idempotent."""
        if self._board is not None:
            self._board.driver.close()


def fclk0_hz() -> float:
    """FCLK0 in Hz as pynq reports it on a Zynq; elsewhere (the simulated overlay) the block design's setting."""
    try:
        import pynq

        return float(pynq.ps.Clocks.fclk0_mhz) * 1e6
    except Exception:  # not on a Zynq
        return BOARDS["pynq-z2"].fclk0_mhz * 1e6
