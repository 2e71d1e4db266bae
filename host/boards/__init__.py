"""Board factory: `open_board("golden" | "sim" | "pynq-z2" | "analog" | "tcp://h:p" | "serial:///dev/x?baud=N", ...)`."""
from __future__ import annotations

from fixedpoint.spec import HardwareParams

from .base import Board, BoardDisconnected, BoardError, BoardTimeout, CoreMismatch, ImageMismatch, RunResult

BOARDS = ("golden", "sim", "pynq-z2", "analog")


def bitfile_flag_error(board: str, bitfile: str | None) -> str | None:
    """What a command line says about its --board/--bitfile pair (None when it is fine): pynq-z2 needs --bitfile,
    the other boards take none. The API's own message (PynqZ2Board) names the argument bitfile= instead."""
    if board == "pynq-z2" and not bitfile:
        return "--board pynq-z2 needs --bitfile PATH.bit (the overlay, with PATH.hwh and its build manifest beside it)"
    if bitfile and board != "pynq-z2":
        return f"--bitfile applies to --board pynq-z2 only, not {board}"
    return None


def open_board(spec: str, params: HardwareParams | None = None, *, simulator: str = "verilator",
               bitfile: str | None = None, timeout: float | None = None, build_dir: str | None = None,
               checkpoint: str | None = None, analog=None, model=None) -> Board:
    """Open a board by name or URL. `params`: the core build for golden/sim (sim needs it); for pynq-z2 the
    build the bitstream must be (default: the board's recorded build); ignored by remote boards (the agent
    reports it). `model`: the checkpoint's ModelConfig, whose n/n_cond pynq-z2 checks before programming.
    analog: needs `checkpoint` (the float weights it programs) and takes `analog` (model.analog.AnalogParams)."""
    if spec == "golden":
        from .golden import GoldenBoard

        return GoldenBoard(params)
    if spec == "sim":
        if params is None:
            raise ValueError("the sim board needs the core's HardwareParams to build the RTL")
        from .sim import SimBoard

        return SimBoard(params, simulator=simulator, build_dir=build_dir)
    if spec == "pynq-z2":
        from .pynq_z2 import PynqZ2Board

        return PynqZ2Board(bitfile, expected=params, model=model)
    if spec == "analog":
        if checkpoint is None:
            raise ValueError("the analog board needs the float checkpoint it programs into the chip (checkpoint=PATH)")
        from .analog import AnalogBoard

        return AnalogBoard(checkpoint, analog)
    if spec.startswith(("tcp://", "serial://")):
        from .remote import RemoteBoard

        return RemoteBoard.open(spec, timeout=timeout)
    raise ValueError(f"unknown board {spec!r}: choose one of {list(BOARDS)} or tcp://HOST:PORT, "
                     "serial:///dev/DEVICE?baud=N")


__all__ = ["open_board", "bitfile_flag_error", "Board", "RunResult", "BoardError", "BoardTimeout", "BoardDisconnected",
           "ImageMismatch", "CoreMismatch", "BOARDS"]
