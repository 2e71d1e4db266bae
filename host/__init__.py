"""The host side: boards (golden, sim, pynq-z2, remote), the Python API and the command lines.

    import host
    with host.open("sim") as osc:                 # or "golden", "pynq-z2", "tcp://BOARD:7967"
        s = osc.generate("cat", n=4, seed=0)      # s.images (4, 3, 32, 32), s.phases (4, 1032), s.timings
    host.pictures.save_samples(s, "out/cat.png")  # labeled, scaled-up grid

See host.api for shapes, units and errors.
"""
from . import pictures
from .api import DEFAULT_CHECKPOINT, Samples, Session, board_params, open

__all__ = ["open", "Session", "Samples", "board_params", "DEFAULT_CHECKPOINT", "pictures"]
