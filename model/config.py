"""Model configurations for the Un-0-compatible oscillator generator.

Pure Python (no torch, no numpy): board-side code imports this to know shapes and scales.
Facts (sizes, defaults, release settings) follow Un-0 (github.com/unconv-ai/Un-0, reference commit 11628e7, and
its blog); see docs/model.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass

from fixedpoint.spec import MAX_CLASSES, MAX_STEPS

#: Valid values of the enumerated config fields (one source of truth for every module).
SOLVERS = ("euler", "rk4")
RELATIVIZATIONS = ("absolute", "mean_relative", "ref_oscillator")
ENCODINGS = ("sin_cos", "sin", "raw")
PARAMETERIZATIONS = ("standard", "mup")

#: The decoder starts from a 4x4 grid (Un-0 ResizeConvDecoder) and doubles it per block.
DECODER_BASE_SIZE = 4
DECODER_MIN_CHANNELS = 32
LEAKY_RELU_SLOPE = 0.2
OUTPUT_CHANNELS = 3

#: Largest sizes a config may ask for. They are checked when a config is built, i.e. before any tensor of a
#: checkpoint is read or allocated (docs/model.md "Files and outputs"). n and classes: the largest released
#: Un-0 model (imagenet64-n16384, 1000 classes); steps: 40x the release recipes' 10-25 Euler/RK4 steps.
MAX_N = 16384
MAX_N_COND = 256
# MAX_CLASSES and MAX_STEPS bound hardware images too: their one home is fixedpoint.spec (numpy-free, below model/).
MAX_IMAGE_SIZE = 256


@dataclass(frozen=True)
class ModelConfig:
    """Architecture + dynamics settings; everything needed to rebuild a model from weights."""

    name: str
    n: int
    n_cond: int
    num_classes: int
    image_size: int
    decoder_in_channels: int
    dataset: str
    num_steps: int = 10
    T: float = 1.0
    solver: str = "euler"
    relativization: str = "mean_relative"
    encoding: str = "sin_cos"
    parameterization: str = "standard"
    class_dropout_prob: float = 0.1
    init_k_scale: float = 1.0
    init_drive_scale: float = 1.0
    init_freq_scale: float = 1.0
    init_output_gain: float = 0.5

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"ModelConfig {self.name!r}: {msg}")

        for key in ("name", "dataset"):
            if not isinstance(getattr(self, key), str):
                bad(f"{key} must be a string, got {getattr(self, key)!r}")
        for key in ("n", "n_cond", "num_classes", "image_size", "decoder_in_channels"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(f"{key} must be a positive integer, got {v!r}")
        if not isinstance(self.num_steps, int) or isinstance(self.num_steps, bool) or self.num_steps < 0:
            bad(f"num_steps must be an integer >= 0, got {self.num_steps!r}")
        for key, lim in (("n", MAX_N), ("n_cond", MAX_N_COND), ("num_classes", MAX_CLASSES),
                         ("num_steps", MAX_STEPS), ("image_size", MAX_IMAGE_SIZE)):
            if getattr(self, key) > lim:
                bad(f"{key}={getattr(self, key)} exceeds the limit {lim} (model.config.MAX_*; docs/model.md)")
        if not (isinstance(self.T, (int, float)) and math.isfinite(self.T)) or isinstance(self.T, bool):
            bad(f"T must be a finite number, got {self.T!r}")
        if not self.T > 0:
            bad(f"T must be > 0, got {self.T!r}")
        for key, allowed in (
            ("solver", SOLVERS),
            ("relativization", RELATIVIZATIONS),
            ("encoding", ENCODINGS),
            ("parameterization", PARAMETERIZATIONS),
        ):
            if getattr(self, key) not in allowed:
                bad(f"{key} must be one of {allowed}, got {getattr(self, key)!r}")
        for key in ("init_k_scale", "init_drive_scale", "init_freq_scale", "init_output_gain"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                bad(f"{key} must be a finite number >= 0, got {v!r}")
        if not isinstance(self.class_dropout_prob, (int, float)) or not 0.0 <= self.class_dropout_prob < 1.0:
            bad(f"class_dropout_prob must be in [0, 1), got {self.class_dropout_prob!r}")
        feats = self.num_features
        if feats != self.decoder_in_channels * DECODER_BASE_SIZE**2:
            bad(
                f"decoder_in_channels={self.decoder_in_channels} does not fit {feats} readout features "
                f"(need features == decoder_in_channels * 16, i.e. decoder_in_channels = {feats / 16:g})"
            )
        blocks = math.log2(self.image_size / DECODER_BASE_SIZE)
        if blocks < 1 or blocks != int(blocks):
            bad(f"image_size must be 4 * 2**k with k >= 1 (8, 16, 32, 64, ...), got {self.image_size}")

    # ---- derived quantities -------------------------------------------------------------
    @property
    def dt(self) -> float:
        """Solver step: T / num_steps (Un-0 passes step_size = T/num_steps to odeint)."""
        return self.T / self.num_steps if self.num_steps else 0.0

    @property
    def num_features(self) -> int:
        """Readout width: 2n for sin_cos, n for sin or raw."""
        return 2 * self.n if self.encoding == "sin_cos" else self.n

    @property
    def num_decoder_blocks(self) -> int:
        return int(round(math.log2(self.image_size / DECODER_BASE_SIZE)))

    @property
    def decoder_channels(self) -> list[int]:
        """Channel count entering each block, then the last block's output (e.g. 128, 64, 32, 32)."""
        chans = [self.decoder_in_channels]
        for _ in range(self.num_decoder_blocks):
            chans.append(max(chans[-1] // 2, DECODER_MIN_CHANNELS))
        return chans

    @property
    def state_size(self) -> int:
        return self.n + self.n_cond

    # ---- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise ValueError(f"model config must be a dict, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown model config key(s) {unknown}; known keys are {sorted(known)}"
            )
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing = sorted(required - set(d))
        if missing:
            raise ValueError(f"model config is missing required key(s) {missing}")
        return cls(**d)

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


def coupling_scales(cfg: ModelConfig) -> tuple[float, float, float]:
    """Forward multipliers (s_K, s_Kc, s_D): 1 for 'standard'; n^-1/2, n_cond^-1/2, n_cond^-1/2 for 'mup'."""
    if cfg.parameterization == "mup":
        return (cfg.n**-0.5, cfg.n_cond**-0.5, cfg.n_cond**-0.5)
    return (1.0, 1.0, 1.0)


def init_stds(cfg: ModelConfig) -> tuple[float, float, float]:
    """Init std of the stored (K, K_cond, K_drive) so the effective coupling starts at N(0,1)/sqrt(fan_in)."""
    drive = cfg.init_k_scale * cfg.init_drive_scale  # 1 in every Un-0 recipe; the digits config raises it
    if cfg.parameterization == "mup":
        return (cfg.init_k_scale, cfg.init_k_scale, drive)
    return (
        cfg.init_k_scale * cfg.n**-0.5,
        cfg.init_k_scale * cfg.n_cond**-0.5,
        drive * cfg.n_cond**-0.5,
    )


def state_dict_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, in creation order (Un-0 state-dict keys without '_orig_mod.')."""
    n, m = cfg.n, cfg.n_cond
    shapes: dict[str, tuple[int, ...]] = {
        "dynamics.omega": (1, n),
        "dynamics.K": (n, n),
        "dynamics.omega_cond": (1, m),
        "dynamics.K_cond": (m, m),
        "dynamics.K_drive": (cfg.num_classes, n, m),
    }
    chans = cfg.decoder_channels
    for b in range(cfg.num_decoder_blocks):
        cin, cout = chans[b], chans[b + 1]
        shapes[f"decoder.cascade.{b}.net.1.weight"] = (cout, cin, 3, 3)
        shapes[f"decoder.cascade.{b}.net.1.bias"] = (cout,)
        shapes[f"decoder.cascade.{b}.net.3.weight"] = (cout, cout, 3, 3)
        shapes[f"decoder.cascade.{b}.net.3.bias"] = (cout,)
    shapes["decoder.to_output.weight"] = (OUTPUT_CHANNELS, chans[-1], 3, 3)
    shapes["decoder.to_output.bias"] = (OUTPUT_CHANNELS,)
    return shapes


def param_count(cfg: ModelConfig) -> int:
    return sum(math.prod(s) for s in state_dict_shapes(cfg).values())


def _cifar(name: str, n: int, **kw) -> ModelConfig:
    """CIFAR-10 release recipe: euler/10, T=1, mean_relative, standard, sin_cos, output gain 0.5."""
    return ModelConfig(
        name=name, n=n, n_cond=8, num_classes=10, image_size=32,
        decoder_in_channels=2 * n // 16, dataset=kw.pop("dataset", "cifar10"), **kw,
    )


def _imagenet(name: str, n: int) -> ModelConfig:
    """ImageNet-64 release recipe: euler/10, ref_oscillator, mup, n_cond 1, output gain 1.0."""
    return ModelConfig(
        name=name, n=n, n_cond=1, num_classes=1000, image_size=64,
        decoder_in_channels=2 * n // 16, dataset="imagenet64",
        relativization="ref_oscillator", parameterization="mup", init_output_gain=1.0,
    )


CONFIGS: dict[str, ModelConfig] = {
    c.name: c
    for c in (
        _cifar("cifar10-n1024", 1024),
        _cifar("cifar10-n2048", 2048),
        _cifar("cifar10-n4096", 4096),
        _imagenet("imagenet64-n6656", 6656),
        _imagenet("imagenet64-n10240", 10240),
        _imagenet("imagenet64-n16384", 16384),
        # small configs for tests, CPU training and the FPGA (same recipe, fewer oscillators)
        _cifar("cifar10-n256", 256),
        _cifar("cifar10-n64", 64),
        # digits: exact relativization and a 5x drive so the class shows within a CPU test's 200 steps
        # (docs/training.md "Class conditioning on digits")
        _cifar("digits-n64", 64, dataset="digits", relativization="ref_oscillator", init_drive_scale=5.0),
    )
}

#: Parameter counts of the released Un-0 models (blog / fact sheet section 7); tests check against these.
RELEASED_PARAM_COUNTS = {
    "cifar10-n1024": 1_289_387,
    "cifar10-n2048": 4_942_187,
    "cifar10-n4096": 19_434_123,
    "imagenet64-n6656": 57_173_641,
    "imagenet64-n10240": 129_800_405,
    "imagenet64-n16384": 322_444_421,
}


def get_config(name: str) -> ModelConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(CONFIGS), n=3, cutoff=0.4)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"unknown model config {name!r}.{hint} Available: {sorted(CONFIGS)}") from None
