"""The PYNQ driver of the oscillator core, in PYNQ's own style: a pynq.DefaultIP bound by the core's VLNV.

On the board (Jupyter on the PYNQ-Z2):

    import host.pynq_driver                  # registers the driver with pynq (bindto = [core VLNV])
    from pynq import Overlay
    ol = Overlay("osc_pynq_z2.bit")          # .hwh and the build manifest .json beside it
    core = ol.osc_core_0                     # an OscillatorCore
    core.load()                              # bundled checkpoint; or core.load("my.safetensors")
    s = core.generate("cat", n=4, seed=0)    # host.api.Samples: images, phases, timings (numpy)

`OscillatorCore` extends host.boards.pynq_ip.OscillatorIP (registers, AXI DMA, buffers: what the host's boards
use) with the board-level calls, which go through host.api; pynq binds the class registered last for a VLNV, so
importing this module makes `overlay.<core>` an OscillatorCore. The register protocol itself is
host.driver.CoreDriver; the host's pynq-z2 board and the sim board (whose simulated overlay,
host.boards.simdevice.SimOverlay, binds through pynq too) reach the core through the same IP class.
"""
from __future__ import annotations

from .api import Session, checkpoint_config
from .boards.pynq_ip import CORE_VLNV, DMA_TYPE_PREFIX, OscillatorIP, fclk0_hz
from .boards.pynq_z2 import OverlayBoard

__all__ = ["CORE_VLNV", "DMA_TYPE_PREFIX", "OscillatorCore"]


class OscillatorCore(OscillatorIP):
    """Driver for one oscillator core: `info`, `load`, `generate` and `board` on top of OscillatorIP.

    description: the core's pynq ip_dict entry (pynq passes it when `overlay.<core>` is first read).
    """

    bindto = [CORE_VLNV]

    def __init__(self, description):
        super().__init__(description)
        self._session = None

    def board(self, *, clock_hz: float | None = None, run_timeout_s: float = 30.0,
              expect_build_hash: int | None = None, name: str = "pynq-z2"):
        """The host.boards Board over this core (created once; identifies the core on creation)."""
        if self._board is None:
            board = OverlayBoard(self, clock_hz=clock_hz or fclk0_hz(), run_timeout_s=run_timeout_s,
                                 expect_build_hash=expect_build_hash)
            board.name = name
        return self._board

    def info(self) -> dict:
        """Core identity and build: ID, version, build hash, n, n_cond, lanes, numerics format."""
        return self.board().info()

    def load(self, checkpoint=None, decoder: str = "auto", progress: bool = True):
        """Quantize `checkpoint` (default: the bundled cifar10-n1024) for this core and load it; returns the
        host.api.Session, which `generate` uses. Raises FileNotFoundError, ValueError, BoardError."""
        path, _ = checkpoint_config(checkpoint)
        self._session = Session(self.board(), path, decoder=decoder, progress=progress)
        return self._session

    def generate(self, cls, n: int = 1, seed: int = 0, trajectory: bool = False, progress: bool | None = None):
        """n samples of class `cls` (name or index) from `seed`: a host.api.Samples (see there for shapes)."""
        if self._session is None:
            self.load()
        return self._session.generate(cls, n=n, seed=seed, trajectory=trajectory, progress=progress)
