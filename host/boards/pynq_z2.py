"""Boards built from a pynq overlay: the core's IP class (host.boards.pynq_ip.OscillatorIP, a pynq DefaultIP
bound by the core's VLNV, or its subclass host.pynq_driver.OscillatorCore) with its AXI DMA, driven by
host.driver.CoreDriver.

OverlayBoard is shared: PynqZ2Board gets the core from pynq.Overlay(bitfile) on the board; SimBoard
(boards/sim.py) from host.boards.simdevice.SimOverlay, which binds the same driver class through pynq. Everything
below the overlay is therefore exercised in CI through the simulated core; only Overlay() needs a board.
"""
from __future__ import annotations

import time

import numpy as np

from bitstreams.board_config import CONFIGS as BOARDS
from fixedpoint.files import check_input
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from ..driver import CoreDriver
from .base import Board, BoardError, RunResult

PYNQ_CLOCK_HZ = BOARDS["pynq-z2"].fclk0_mhz * 1e6  # FCLK0 the block design sets; used when pynq cannot report it


def find_core(overlay):
    """The overlay's oscillator core driver (bound by VLNV); a clear error naming what is there otherwise."""
    from .pynq_ip import CORE_VLNV, OscillatorIP

    names = [k for k, v in overlay.ip_dict.items() if v.get("type") == CORE_VLNV]
    if len(names) != 1:
        listing = ", ".join(f"{k} ({v.get('type')})" for k, v in overlay.ip_dict.items())
        raise BoardError(f"overlay must hold exactly one oscillator core ({CORE_VLNV}); found {len(names)} among: "
                         f"{listing or 'nothing'}")
    core = getattr(overlay, names[0])
    if not isinstance(core, OscillatorIP):
        raise BoardError(f"{names[0]} is bound to {type(core).__name__}, not host.boards.pynq_ip.OscillatorIP: "
                         "import host.pynq_driver (or host.boards.pynq_ip) before creating the Overlay")
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
        return self._run_batch([class_id], phases0[None, :], steps)[0]

    def _run_batch(self, class_ids, phases0, steps):
        """One run of the core for up to B samples (CoreDriver.run_batch); the overflow flag is the run's."""
        phases, timing, overflow = self.driver.run_batch(self._image, class_ids, phases0, steps)
        return [RunResult(row, dict(timing), overflow) for row in phases]

    def close(self) -> None:
        self.driver.close()


def _manifest_params(bitfile: str) -> HardwareParams | None:
    """The core build `bitfile`'s manifest records; None when there is no readable one."""
    import json

    from bitstreams.manifest import manifest_path

    try:
        return HardwareParams.from_dict(json.loads(manifest_path(bitfile).read_text())["params"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _wrong_bitstream(bitfile: str, expected: HardwareParams, need: dict) -> str | None:
    """The refusal when `bitfile`'s manifest records another core build than the model needs, naming the bitstream
    that runs it and how to build it; None when the builds agree or the manifest is unreadable (check_bitstream
    then says what is wrong with it)."""
    import json

    from bitstreams.board_config import build_variant
    from bitstreams.manifest import manifest_path, param_differences

    built = _manifest_params(bitfile)
    if built is None or built == expected:
        return None
    try:
        record = json.loads(manifest_path(bitfile).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    board = BOARDS["pynq-z2"]
    serves = record.get("serves", {}).get("models") if isinstance(record.get("serves"), dict) else None
    serving = f", which serves {', '.join(map(str, serves))}" if isinstance(serves, list) and serves else ""
    diffs = [f"{k}: core {getattr(built, k)}, checkpoint needs {need[k]}" for k in ("n", "n_cond")
             if getattr(built, k) != need[k]]
    diffs += [d for d in param_differences(built, expected) if not d.startswith(("n:", "n_cond:"))]
    name = need.get("name", "?")
    return (f"{bitfile} holds {build_variant(built)} for n={built.n}, n_cond={built.n_cond}{serving}; checkpoint "
            f"{name!r} needs {build_variant(expected)} ({'; '.join(diffs)}): program "
            f"{board.bitstream_name(expected)}.bit instead, built with `python -m bitstreams.build --config pynq-z2 "
            f"--model {name}` (docs/bitstreams.md)")


class PynqZ2Board(OverlayBoard):
    """The real board: runs on the PYNQ-Z2 itself (python -m host.agent --board pynq-z2 --bitfile x.bit)."""

    name = "pynq-z2"

    def __init__(self, bitfile: str | None, expected: HardwareParams | None = None, model=None):
        """Program `bitfile` after checking its build manifest against what is needed.

        expected: the core build the caller needs (default: the build a PYNQ-Z2 runs `model` on,
        bitstreams.streamed.pynq_z2_params: on-chip K or streamed K; without a model the board's recorded build,
        bitstreams.board_config.CONFIGS["pynq-z2"].params); model: a ModelConfig (or dict with name, n, n_cond,
        dataset) whose n and n_cond the core must have. A bitstream of another build (another size, or the on-chip
        variant for a model that needs K streamed from DDR) is refused with a BoardError naming the bitstream the
        model needs and the command that builds it. The manifest's params, part, source hash, file hashes and
        BUILD_HASH must all match, else BoardError naming each difference, before the PL is programmed.
        """
        if not bitfile:
            raise ValueError("the pynq-z2 board needs bitfile=PATH.bit (the overlay, with PATH.hwh and its build "
                             "manifest beside it)")
        check_input(bitfile, "bitstream", (".bit",), hint="give the .bit with its .hwh and manifest beside it")
        board = BOARDS["pynq-z2"]
        need = None
        if model is not None:
            need = model if isinstance(model, dict) else {"name": model.name, "n": model.n, "n_cond": model.n_cond,
                                                          "dataset": getattr(model, "dataset", "")}
        if expected is None:
            if need is not None:  # the build a PYNQ-Z2 runs this model on (on-chip or streamed K)
                from bitstreams.streamed import pynq_z2_params

                try:
                    expected = pynq_z2_params(need["n"], need["n_cond"], need.get("dataset", ""))
                except ImportError:  # planning a streamed build needs rtl/ (Amaranth), absent on a bare board image:
                    expected = _manifest_params(bitfile) or board.params  # the size checks below still apply
            else:
                expected = board.params
        if need is not None:
            diffs = [f"{k}: core {getattr(expected, k)}, checkpoint needs {need[k]}" for k in ("n", "n_cond")
                     if getattr(expected, k) != need[k]]
            if diffs:
                raise BoardError(f"checkpoint {need.get('name', '?')!r} does not fit the pynq-z2 core build "
                                 f"({'; '.join(diffs)}): use a checkpoint for n={expected.n}, n_cond={expected.n_cond} "
                                 "or build and pass a bitstream for this model")
            wrong = _wrong_bitstream(bitfile, expected, need)
            if wrong:
                raise BoardError(wrong)
        try:
            import pynq
        except ImportError:
            raise BoardError("the pynq package is not installed: the pynq-z2 board runs on the board itself "
                             "(or use tcp://BOARD:PORT with `python -m host.agent` running there)") from None
        # Refuse a bitstream that is not the recorded build of the current sources for the needed core and this
        # board, before programming the PL.
        from bitstreams.manifest import BitstreamMismatch, check_bitstream, manifest_path

        try:
            record = check_bitstream(bitfile, expected)
        except BitstreamMismatch as e:
            raise BoardError(str(e)) from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BoardError(f"{manifest_path(bitfile)}: unreadable build manifest ({e}); rebuild the bitstream") from None
        if not isinstance(record, dict):
            raise BoardError(f"{manifest_path(bitfile)}: the build manifest is not a JSON object; rebuild the bitstream")
        if record.get("part", board.part) != board.part:
            raise BoardError(f"{bitfile} was built for part {record.get('part')!r}, the PYNQ-Z2 has {board.part!r}: "
                             "rebuild with `python -m bitstreams.build --config pynq-z2`")
        expect = record.get("build_hash")
        from .pynq_ip import fclk0_hz  # registers OscillatorIP with pynq before the overlay binds its drivers

        t0 = time.perf_counter()
        self.overlay = pynq.Overlay(bitfile)
        self.download_s = time.perf_counter() - t0
        super().__init__(find_core(self.overlay), clock_hz=fclk0_hz(), expect_build_hash=expect)
