"""The Python API: open a board, load a checkpoint, generate, the same call for every board.

    import host
    with host.open("sim") as osc:                       # "golden" | "sim" | "pynq-z2" | "tcp://BOARD:7967" | ...
        s = osc.generate("cat", n=4, seed=0, trajectory=True)
    s.images          # (4, 3, 32, 32) float64 in [-1, 1]
    s.phases          # (4, 1032) int64 settled phase words (2**-F turn), s.radians in rad
    s.trajectory      # (4, 11, 1032) phase words after steps 0..10; s.times: t = k * dt
    s.timings         # {"transfer_s": (4,), "compute_cycles": (4,), ..., "decode_s": (4,)}

What runs where: the host quantizes the checkpoint for the board's core build (fixedpoint.quantize),
draws the seeded initial phases (fixedpoint.golden.initial_phases, row i for sample i, the same draw
model.sample starts the float model from), the board integrates the Euler steps and returns settled phase
words, the host decodes them (torch if importable, else numpy). `python -m host.run` is a command line
over this module; host.pictures draws what it returns.

Errors: FileNotFoundError (checkpoint), ValueError (class, n, seed, board name or build; n and seed are checked
by check_generate_args, the limits `python -m host.run` uses too), TypeError (a board that is not a name, URL or
Board, an argument of the wrong type: trajectory="yes", lanes="8", ...; flags are checked by check_flag), and host.boards.BoardError and its subclasses (BoardTimeout, BoardDisconnected, ImageMismatch,
CoreMismatch) for everything the board reports and for generate() on a closed session.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fixedpoint.cli import MAX_SEED, SAFETENSORS_FORMATS, article, counted
from fixedpoint.files import check_input
from fixedpoint.golden import initial_phases
from fixedpoint.readout import phase_features, phases_to_radians
from fixedpoint.spec import FORMATS, HardwareParams, default_build

from .boards import BOARDS, Board, BoardError, ImageMismatch, open_board

REPO = Path(__file__).resolve().parent.parent
#: The bundled trained model (cifar10-n1024), found from any working directory (notebooks/, the board).
DEFAULT_CHECKPOINT = REPO / "checkpoints" / "cifar10-n1024.safetensors"
#: Boards that model a core build the host chooses (they need its HardwareParams); the others report theirs.
BUILD_BOARDS = ("golden", "sim")
#: Most samples one generate() call (and `python -m host.run --n`) may ask for: each is one board run and the
#: host keeps them all (images, phases, the picture). Seeds are 0..MAX_SEED (fixedpoint.cli, the CLIs' limit).
MAX_SAMPLES = 4096


def check_generate_args(n, seed) -> tuple[int, int]:
    """(n, seed) as ints after the checks generate() and the CLIs share: n in 1..MAX_SAMPLES, seed in
    0..MAX_SEED (integers, not bool). Raises ValueError saying the limit."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"n must be an integer between 1 and {MAX_SAMPLES} (samples per call), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer between 0 and {MAX_SEED} (2**32 - 1), got {seed!r}")
    return int(n), int(seed)


def check_flag(name: str, value, optional: bool = False) -> bool | None:
    """`value` as a bool after checking it is one (True/False or a numpy bool; None too when `optional`), so
    that trajectory="no" or progress=0 is a TypeError naming the argument instead of a silent truth value."""
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False{' (or None)' if optional else ''}, got {value!r}")
    return bool(value)


def _check_open_args(checkpoint, fmt, lanes, simulator, bitfile, timeout, decoder, build_dir, progress) -> None:
    """The types (TypeError) and cheap values (ValueError) of open()'s arguments, before any work."""
    from .imageio import check_decoder

    check_flag("progress", progress)
    for name, v in (("checkpoint", checkpoint), ("bitfile", bitfile), ("build_dir", build_dir)):
        if v is not None and not isinstance(v, (str, Path)):
            raise TypeError(f"{name} must be a path (str or pathlib.Path) or None, got {v!r}")
    for name, v in (("fmt", fmt), ("simulator", simulator)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{name} must be a str{' or None' if name == 'fmt' else ''}, got {v!r}")
    if lanes is not None and (isinstance(lanes, (bool, np.bool_)) or not isinstance(lanes, (int, np.integer))):
        raise TypeError(f"lanes must be an int or None, got {lanes!r}")
    from .boards.remote import MAX_TIMEOUT_S

    if timeout is not None:
        if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, (int, float, np.integer, np.floating)):
            raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
        if not 0 < timeout < MAX_TIMEOUT_S:
            raise ValueError(f"timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds, got {timeout!r}")
    check_decoder(decoder)


def board_params(config, fmt: str | None = None, lanes: int | None = None) -> HardwareParams:
    """The core build a software board models for a checkpoint's ModelConfig (fixedpoint.spec.default_build).

    The PYNQ-Z2 build for cifar10-n1024, so `sim` and `golden` compute what the board would; for models whose K
    does not fit on chip and for ImageNet-64 models, the streamed-K PYNQ-Z2 build (bitstreams.streamed.pynq_z2_build:
    K in DDR, a batch of samples per pass over K). `fmt` (a fixedpoint.spec.FORMATS name) and `lanes` override it
    (on-chip K). Raises ValueError for an unknown format or lanes.
    """
    if fmt is None and lanes is None:
        from bitstreams.streamed import pynq_z2_params

        return pynq_z2_params(config.n, config.n_cond, getattr(config, "dataset", ""))
    return default_build(config.n, config.n_cond, fmt, lanes)


def _wrong_core_message(board: Board, config) -> str:
    """What a core built for another model size says: the build (and so the bitstream) this model needs."""
    from bitstreams.board_config import CONFIGS as BOARD_CONFIGS, build_variant

    need = board_params(config)
    p = board.params
    variant = build_variant(need)
    flags = (f"--n {need.n} --n-cond {need.n_cond} --lanes {need.lanes} --format "
             f"{next((k for k, v in FORMATS.items() if v == need.spec), 'default')}"
             + (f" --k-source ddr --k-ports {need.k_ports} --batch {need.batch}" if need.k_streamed else ""))
    return (f"the {board.name} core serves n={p.n}, n_cond={p.n_cond} ({'streamed' if p.k_streamed else 'on-chip'} K) "
            f"but {config.name} has n={config.n}, n_cond={config.n_cond}: it needs {variant}, a bitstream built "
            f"from `python -m rtl.build {flags}` (bitstreams.streamed.pynq_z2_build); on a PYNQ-Z2 that is "
            f"{BOARD_CONFIGS['pynq-z2'].bitstream_name(need)}.bit from `python -m bitstreams.build --config pynq-z2 "
            f"--model {config.name}`; load that bitstream, or use the golden or sim board")


@dataclass
class Samples:
    """What `Session.generate` returns: n samples of one class from one seed, as numpy arrays.

    Phase words are signed integers in units of 2**-phase_frac_bits turn (docs/numerics.md); `radians`
    converts them. Images are the decoder's output, (n, 3, H, W) float64 in [-1, 1] (Un-0's range).
    """

    images: np.ndarray  # (n, 3, H, W) float64 in [-1, 1]
    phases: np.ndarray  # (n, n_total) int64 settled phase words
    phases0: np.ndarray  # (n, n_total) int64 initial phase words (seeded row i for sample i)
    timings: dict  # key -> (n,) float64 per sample: the board's split (see RunResult) + decode_s
    overflow: np.ndarray  # (n,) bool: the core's sticky phase-word overflow flag
    class_id: int  # the class of every sample; -1 when the samples' classes differ (see class_ids)
    class_name: str  # its name; for mixed classes their names joined by "+", in order of first appearance
    seed: int
    board: str
    n_main: int  # main oscillators (the first n_main columns); the rest are conditioning oscillators
    phase_frac_bits: int
    dt: float  # model time per Euler step
    trajectory: np.ndarray | None = None  # (n, steps+1, n_total) int64 after steps 0..steps
    step_images: np.ndarray | None = None  # (n, steps+1, 3, H, W) decoded after every step
    params: dict = field(default_factory=dict)  # the core build (HardwareParams.to_dict())
    class_ids: np.ndarray | None = None  # (n,) int64 class of each sample

    def __len__(self) -> int:
        return len(self.images)

    @property
    def radians(self) -> np.ndarray:
        """(n, n_total) settled phases in radians, unwrapped (the word keeps whole turns)."""
        return phases_to_radians(self.phases, _Spec(self.phase_frac_bits))

    @property
    def times(self) -> np.ndarray:
        """(steps+1,) model time t = k * dt of the trajectory's rows (needs trajectory=True)."""
        if self.trajectory is None:
            raise ValueError("no trajectory: call generate(..., trajectory=True)")
        return np.arange(self.trajectory.shape[1]) * self.dt

    def order_parameter(self) -> np.ndarray:
        """Kuramoto order parameter r = |<exp(i theta_j)>_j| of the main oscillators, in [0, 1]:
        (n, steps+1) over the trajectory when there is one, else (n,) of the settled phases."""
        words = self.trajectory if self.trajectory is not None else self.phases
        theta = phases_to_radians(words[..., :self.n_main], _Spec(self.phase_frac_bits))
        return np.abs(np.exp(1j * theta).mean(axis=-1))

    def timing_summary(self) -> dict:
        """Median of each timing key over the samples."""
        return {k: float(np.median(v)) for k, v in self.timings.items()}

    def label(self) -> str:
        return f"{self.class_name} · board {self.board} · seed {self.seed}"


@dataclass(frozen=True)
class _Spec:  # what phases_to_radians needs from a NumericsSpec
    phase_frac_bits: int


class Session:
    """One board with one model loaded. Make it with `host.open(...)`; close it (or use `with`)."""

    def __init__(self, board: Board, checkpoint: str | Path, *, params: HardwareParams | None = None,
                 decoder: str = "auto", open_s: float = 0.0, progress: bool = True):
        from model.checkpoint import load_config_and_tensors
        from model.classes import class_names
        from model.hardware_image import image_from_checkpoint

        from .imageio import Decoder, check_decoder

        progress = check_flag("progress", progress)
        check_decoder(decoder)
        self._closed = False
        self.board = board
        self.checkpoint = str(checkpoint)
        self.config, _ = load_config_and_tensors(self.checkpoint)
        self.params = board.params or params or board_params(self.config)
        if board.params is not None and (board.params.n, board.params.n_cond) != (self.config.n, self.config.n_cond):
            raise ImageMismatch(_wrong_core_message(board, self.config))
        if board.programs_float_checkpoint:  # the board reads the float weights itself: no fixed-point limits
            from model.hardware_image import identity_image

            self.image = identity_image(self.checkpoint, self.params)
        else:
            self.image = image_from_checkpoint(self.checkpoint, params=self.params)
        self.progress = progress
        t0 = time.perf_counter()
        if progress:
            from fixedpoint.status import status

            words = self.image.k.size + self.image.drive.size + self.image.kcond.size
            with status(f"loading the model onto the {board.name} core ({words:,} weights, K "
                        f"{self.params.spec.coupling_bits}-bit)"):
                board.load_image(self.image)
        else:
            board.load_image(self.image)
        self.load_s = time.perf_counter() - t0
        self.open_s = open_s
        self.decoder = Decoder(self.checkpoint, decoder)
        self.class_names = class_names(self.config.dataset)[:self.config.num_classes]

    # ---- identity --------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.board.name

    def describe(self) -> str:
        p = self.params
        if (what := self.board.describe()) is not None:
            return (f"board {self.name}: n={p.n} n_cond={p.n_cond}, {what}; opened in {self.open_s:.2f} s, model "
                    f"loaded in {self.load_s:.3f} s; {self.config.name}, decoder {self.decoder.kind}")
        return (f"board {self.name}: n={p.n} n_cond={p.n_cond} lanes={p.lanes} "
                f"K {p.spec.coupling_bits}-bit; opened in {self.open_s:.2f} s, model loaded in {self.load_s:.3f} s; "
                f"{self.config.name}, decoder {self.decoder.kind}")

    def class_id(self, cls: str | int) -> int:
        """Class name (any synonym, any case) or index -> class id; ValueError naming close matches."""
        from model.classes import resolve_class

        try:
            return resolve_class(cls, self.config.dataset, self.config.num_classes)
        except ValueError as e:
            raise ValueError(f"{e} [checkpoint {_show(self.checkpoint)} is {article(self.config.dataset)} model]") from None

    # ---- generation ------------------------------------------------------------------------------------
    def generate(self, cls, n: int | None = None, seed: int = 0, trajectory: bool = False,
                 progress: bool | None = None) -> Samples:
        """n samples from seeded initial phases (row i of seed's draw for sample i).

        cls: one class (name or index) for all n samples (n default 1), or a sequence of classes, one per sample
        (n default its length; samples of one call, and of one board run, may differ in class). The board runs up
        to its batch (Board.batch: B of a streamed-K build, else 1) samples per run; a sample's phases are
        bit-identical whether it runs alone or in a batch. trajectory=True also returns the phases after every Euler
        step (a chain of single-step runs per sample, bit-identical to one run) and their decoded images. Shapes and
        units: see Samples. Raises ValueError for a bad class, a class list whose length is not n, n outside
        1..MAX_SAMPLES or a seed outside 0..MAX_SEED (check_generate_args), BoardError for board failures and for a
        closed session.
        """
        if self._closed:
            raise BoardError(f"this session on board {self.name} is closed: open a new one with host.open(...)")
        trajectory = check_flag("trajectory", trajectory)
        progress = check_flag("progress", progress, optional=True)
        if isinstance(cls, (str, int, np.integer)):
            n, seed = check_generate_args(1 if n is None else n, seed)
            class_ids = [self.class_id(cls)] * n
        else:
            try:
                wanted = list(cls)
            except TypeError:
                raise ValueError(f"cls must be a class name or index, or a sequence of them, got {cls!r}") from None
            n, seed = check_generate_args(len(wanted) if n is None else n, seed)
            if len(wanted) != n:
                raise ValueError(f"{len(wanted)} classes for n={n} samples: give one class per sample")
            class_ids = [self.class_id(c) for c in wanted]
        p = self.params
        phases0 = initial_phases(int(seed), int(n), p.n_total, p.spec)
        finals, timings, ovf, trajs = [], [], [], []
        names = list(dict.fromkeys(self.class_names[c] for c in class_ids))
        show = self.progress if progress is None else progress
        bar = _tqdm(total=n, desc=f"{self.name} {'+'.join(names)}", unit="img") if show and (n > 1 or trajectory) \
            else None
        step = 1 if trajectory else max(1, self.board.batch)
        for i in range(0, n, step):
            ids = class_ids[i:i + step]
            if trajectory:
                results = [self.board.run_trajectory(ids[0], phases0[i])]
            else:
                results = self.board.run_batch(ids, phases0[i:i + len(ids)])
            for res in results:
                timings.append(dict(res.timing))
                finals.append(res.phases)
                ovf.append(bool(res.overflow))
                if trajectory:
                    trajs.append(res.trajectory)
            if bar is not None:
                bar.update(len(results))
        if bar is not None:
            bar.close()
        imgs = []
        for row, t in zip(finals, timings):
            t0 = time.perf_counter()
            imgs.append(self.decode(row[None, :])[0])
            t["decode_s"] = time.perf_counter() - t0
        images = np.stack(imgs)
        keys = [k for k in timings[0] if all(isinstance(t.get(k), (int, float)) for t in timings)]
        uniform = len(set(class_ids)) == 1
        out = Samples(images=images, phases=np.stack(finals).astype(np.int64), phases0=phases0,
                      timings={k: np.array([t[k] for t in timings], dtype=np.float64) for k in keys},
                      overflow=np.array(ovf), class_id=class_ids[0] if uniform else -1, class_name="+".join(names),
                      seed=int(seed), board=self.name, n_main=p.n, phase_frac_bits=p.spec.phase_frac_bits,
                      dt=float(self.image.dt), params=p.to_dict(), class_ids=np.array(class_ids, dtype=np.int64))
        if trajectory:
            out.trajectory = np.stack(trajs).astype(np.int64)
            s = out.trajectory.shape
            out.step_images = self.decode(out.trajectory.reshape(-1, s[2])).reshape(s[0], s[1], *out.images.shape[1:])
        return out

    def decode(self, phases: np.ndarray) -> np.ndarray:
        """(B, n_total) phase words -> (B, 3, H, W) float64 images in [-1, 1] (the checkpoint's decoder)."""
        p = self.params
        feats = phase_features(np.asarray(phases), p.n, p.spec, self.image.model_config)
        return np.asarray(self.decoder(feats), dtype=np.float64)

    # ---- lifetime --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the board (simulator process, link, buffers). Idempotent; generate() afterwards raises."""
        self._closed = True
        self.board.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open(board: str | Board = "sim", checkpoint: str | Path | None = None, *, fmt: str | None = None,
         lanes: int | None = None, simulator: str = "verilator", bitfile: str | None = None,
         timeout: float | None = None, decoder: str = "auto", build_dir: str | None = None,
         progress: bool = True, analog=None) -> Session:
    """Open `board` and load `checkpoint` onto it; returns a Session (close it, or use `with`).

    board: "golden" (numpy integer model), "sim" (the RTL in Verilator behind the pynq driver), "pynq-z2"
    (on the board, with `bitfile`), "tcp://HOST:PORT" or "serial:///dev/DEV?baud=N" (a `python -m host.agent`),
    or an open host.boards.Board. checkpoint: our .safetensors file (default: the bundled cifar10-n1024).
    fmt, lanes: override the core build golden and sim model (default: board_params, the PYNQ-Z2 build for
    cifar10-n1024). simulator: "verilator" or "icarus" for sim; the first sim run of a build compiles it
    (minutes; cached under build/sim). timeout: seconds per request on remote boards. decoder: "auto",
    "torch" or "numpy". analog: the non-idealities of the "analog" board (a model.analog.AnalogParams; default
    ideal), which programs the float checkpoint into a behavioural chip model (docs/analog.md).
    Raises FileNotFoundError, ValueError, BoardError (see the module docstring).
    """
    if not isinstance(board, (str, Board)):
        raise TypeError(f"board must be a board name ({', '.join(BOARDS)}), a URL (tcp://HOST:PORT, "
                        f"serial:///dev/DEVICE?baud=N) or a host.boards.Board, got {board!r}")
    _check_open_args(checkpoint, fmt, lanes, simulator, bitfile, timeout, decoder, build_dir, progress)
    path, config = checkpoint_config(checkpoint)
    params = None
    t0 = time.perf_counter()
    if isinstance(board, Board):
        dev = board
    else:
        if board in BUILD_BOARDS:
            params = board_params(config, fmt, lanes)
        if analog is not None and board != "analog":
            raise ValueError(f"analog parameters need board 'analog', not {board!r}")
        extra = {"checkpoint": str(path), "analog": analog} if board == "analog" else (
            {"model": config} if board == "pynq-z2" else {})  # pynq-z2 checks the bitstream against the model
        dev = open_board(board, params, simulator=simulator, bitfile=bitfile, timeout=timeout, build_dir=build_dir,
                         **extra)
    open_s = time.perf_counter() - t0
    try:
        return Session(dev, path, params=params, decoder=decoder, open_s=open_s, progress=progress)
    except BaseException:
        dev.close()
        raise


def checkpoint_config(checkpoint: str | Path | None = None):
    """(path, ModelConfig) of a checkpoint (default: DEFAULT_CHECKPOINT), read without torch.
    Raises FileNotFoundError saying how to get one (fixedpoint.files.DirectoryGivenError, a FileNotFoundError,
    for a directory, naming the checkpoints in it), CheckpointError (a ValueError) for a malformed file."""
    from model.checkpoint import load_config_and_tensors

    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    check_input(path, "checkpoint", SAFETENSORS_FORMATS,
                hint="train one (python -m model.train, see docs/model.md), import an Un-0 release "
                     "(python -m model.checkpoint import-un0 un0.pt OUT.safetensors), or pass another path", shown=_show(path))
    return path, load_config_and_tensors(str(path))[0]


def summarize(timings: dict) -> str:
    """Median timing split over samples, one line per key (timings: Samples.timings)."""
    rows = (("transfer_s", "transfer", "{:.4f} s"), ("compute_cycles", "compute", "{:.0f} cycles"),
            ("compute_s", "compute time", "{:.6f} s"), ("link_s", "link", "{:.4f} s"),
            ("sim_wall_s", "simulation wall", "{:.3f} s"), ("sim_cpu_s", "simulator CPU", "{:.3f} s"),
            ("decode_s", "decode", "{:.4f} s"), ("total_s", "board total", "{:.3f} s"))
    n = max((len(v) for v in timings.values()), default=0)
    parts = [f"  {label:<16}" + fmt.format(statistics.median(timings[k].tolist()))
             for k, label, fmt in rows if k in timings and len(timings[k])]
    return "\n".join([f"timing (median of {counted(n, 'sample')}):"] + parts)


def _tqdm(it=None, **kw):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # a bare board image without tqdm: no bar
        return it
    return tqdm(it, **kw)


def _show(path) -> str:
    """A path as the user should read it: relative to the repository when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(path)
