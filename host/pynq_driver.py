"""The PYNQ driver of the oscillator core, in PYNQ's own style: a pynq.DefaultIP bound by the core's VLNV.

On the board (Jupyter on the PYNQ-Z2):

    import host.pynq_driver                  # registers the driver with pynq (bindto = [core VLNV])
    from pynq import Overlay
    ol = Overlay("osc_pynq_z2.bit")          # .hwh and the build manifest .json beside it
    core = ol.osc_core_0                     # an OscillatorCore
    core.load()                              # bundled checkpoint; or core.load("my.safetensors")
    s = core.generate("cat", n=4, seed=0)    # host.api.Samples: images, phases, timings (numpy)

pynq binds every IP whose ip_dict "type" equals an entry of `bindto` to that class when the overlay is
built (pynq.overlay.RegisterIP / _assign_drivers); the VLNV comes from bitstreams.board_config (the block
design's module reference). The core's AXI DMA is found in the same overlay's ip_dict and driven with
pynq.lib.dma.DMA; registers go through DefaultIP's pynq.MMIO. The register protocol itself is
host.driver.CoreDriver; the host's pynq-z2 board and the sim board (whose simulated overlay,
host.simdevice.SimOverlay, binds this same class through pynq) both reach the core through this driver.
"""
from __future__ import annotations

from pynq import DefaultIP

from bitstreams.board_config import CONFIGS as BOARDS

from .boards.base import BoardError

#: The VLNV the driver binds to (one source of truth: bitstreams.board_config).
CORE_VLNV = BOARDS["pynq-z2"].core_vlnv
DMA_TYPE_PREFIX = "xilinx.com:ip:axi_dma:"
CLOCK_HZ = BOARDS["pynq-z2"].fclk0_mhz * 1e6  # FCLK0 the block design sets; used when pynq cannot report it


class OscillatorCore(DefaultIP):
    """Driver for one oscillator core (AXI4-Lite registers + AXI4-Stream load/readback through an AXI DMA).

    description: the core's pynq ip_dict entry (pynq passes it when `overlay.<core>` is first read).
    Offers the board-level calls (info, load, generate); `board` is the host.boards Board over it.
    """

    bindto = [CORE_VLNV]

    def __init__(self, description):
        super().__init__(description=description)
        self._description = description
        self._dma = None
        self._board = None
        self._session = None

    # ---- what the overlay holds ----------------------------------------------------------------------
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

    def board(self, *, clock_hz: float | None = None, run_timeout_s: float = 30.0,
              expect_build_hash: int | None = None, name: str = "pynq-z2"):
        """The host.boards Board over this core (created once; identifies the core on creation)."""
        if self._board is None:
            from .boards.pynq_z2 import OverlayBoard

            self._board = OverlayBoard(self, clock_hz=clock_hz or _fclk0_hz(), run_timeout_s=run_timeout_s,
                                       expect_build_hash=expect_build_hash)
            self._board.name = name
        return self._board

    # ---- the user-facing calls --------------------------------------------------------------------
    def info(self) -> dict:
        """Core identity and build: ID, version, build hash, n, n_cond, lanes, numerics format."""
        return self.board().info()

    def load(self, checkpoint=None, decoder: str = "auto", progress: bool = True):
        """Quantize `checkpoint` (default: the bundled cifar10-n1024) for this core and load it; returns the
        host.api.Session, which `generate` uses. Raises FileNotFoundError, ValueError, BoardError."""
        from .api import Session, checkpoint_config

        path, _ = checkpoint_config(checkpoint)
        self._session = Session(self.board(), path, decoder=decoder, progress=progress)
        return self._session

    def generate(self, cls, n: int = 1, seed: int = 0, trajectory: bool = False, progress: bool | None = None):
        """n samples of class `cls` (name or index) from `seed`: a host.api.Samples (see there for shapes)."""
        if self._session is None:
            self.load()
        return self._session.generate(cls, n=n, seed=seed, trajectory=trajectory, progress=progress)

    def close(self) -> None:
        """Free the DMA buffers. Idempotent."""
        if self._board is not None:
            self._board.driver.close()


def _fclk0_hz() -> float:
    try:
        import pynq

        return float(pynq.ps.Clocks.fclk0_mhz) * 1e6
    except Exception:  # not on a Zynq (the simulated overlay): the clock the block design sets
        return CLOCK_HZ

