"""Float checkpoint -> hardware image: every memory's contents and every register value (numpy only).

Per-row scaling: row i of the combined matrix [K | D_c] (and row m of the conditioning block) gets
its own scale q_i, realised in hardware as an unsigned gain g_i and one global right shift R. The
weights are then quantized against the *effective* scale that the integer g_i represents, so the
image is exact by construction: hardware weight * effective scale is the value the datapath uses.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .files import atomic_output
from .spec import HardwareParams

IMAGE_FORMAT = "oscillator-hil-image/1"
_ARRAYS = ("k", "drive", "kcond", "gain", "omega_inc")
OMEGA_RANGE_ERROR = ("an omega increment (omega_inc) does not fit the phase word: raise phase_turn_bits or use "
                     "smaller dt")


def require_finite(arrays: dict[str, np.ndarray], where: str = "") -> None:
    """Raise ValueError naming the first array that holds NaN or +-Inf (and how many, and where).

    Every loader calls this before quantizing or decoding: a NaN would otherwise become the int64 minimum
    in np.round(...).astype(int64) and a garbage image.
    """
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where + ': ' if where else ''}tensor {name!r} holds {int(bad.sum())} non-finite "
                             f"value(s) ({a[first]} at index {first}); the file is damaged: restore or retrain it")


def _int_array(name: str, a) -> np.ndarray:
    """An image array as int64; refuses floats (NaN/Inf, fractions), bools and objects instead of casting them."""
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise ValueError(f"hardware image array {name!r} has dtype {a.dtype}; image arrays are integers")
    if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
        raise ValueError(f"hardware image array {name!r} holds values beyond int64")
    return a.astype(np.int64)


def _mse_scale(rows: np.ndarray, qmax: int, candidates: int = 48) -> np.ndarray:
    """Per-row step that minimises the rounding+clipping MSE (rows of zeros get step 0)."""
    amax = np.abs(rows).max(axis=1)
    best_q = amax / qmax
    if qmax >= 127:  # fine grids: clipping buys nothing measurable
        return best_q
    best_err = np.full(rows.shape[0], np.inf)
    for frac in np.linspace(0.25, 1.0, candidates):
        q = np.where(amax > 0, amax * frac / qmax, 1.0)[:, None]
        err = ((np.clip(np.round(rows / q), -qmax, qmax) * q - rows) ** 2).sum(axis=1)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_q = np.where(better, q[:, 0], best_q)
    return np.where(amax > 0, best_q, 0.0)


@dataclass
class HardwareImage:
    """Everything a board needs for one model: memory contents, registers and provenance."""

    params: HardwareParams
    dt: float
    num_steps: int
    gain_shift: int  # R
    k: np.ndarray  # (n, n) int, |k| <= coupling_max
    drive: np.ndarray  # (classes, n, n_cond) int, |d| <= drive_max
    kcond: np.ndarray  # (n_cond, n_cond) int
    gain: np.ndarray  # (n + n_cond,) int, 0 <= g < 2**gain_bits
    omega_inc: np.ndarray  # (n + n_cond,) int, per-step phase increment
    model_config: dict = field(default_factory=dict)  # the float model's config (readout, decoder)

    @property
    def num_classes(self) -> int:
        return self.drive.shape[0]

    def registers(self) -> dict[str, int]:
        return {"steps": self.num_steps, "gain_shift": self.gain_shift}

    def effective_scale(self) -> np.ndarray:
        """q_i: the float coupling that one weight LSB of row i stands for."""
        s = self.params.spec
        return self.gain * (2 * math.pi * s.trig_amplitude**2) / (
            self.dt * 2.0**s.phase_frac_bits * 2.0 ** (self.gain_shift + self.params.pre_shift))

    def dequantized(self) -> dict[str, np.ndarray]:
        """The float couplings this image realises (for error analysis)."""
        q = self.effective_scale()
        n = self.params.n
        s = self.params.spec
        return {
            "omega": self.omega_inc[:n] * 2 * math.pi / (self.dt * 2.0**s.phase_frac_bits),
            "omega_cond": self.omega_inc[n:] * 2 * math.pi / (self.dt * 2.0**s.phase_frac_bits),
            "K": self.k * q[:n, None],
            "K_drive": self.drive * q[None, :n, None],
            "K_cond": self.kcond * q[n:, None],
        }

    def digest(self) -> str:
        """Content hash: boards cache a loaded image under it."""
        h = hashlib.sha256()
        h.update(json.dumps(self._meta(), sort_keys=True).encode())
        for name in _ARRAYS:
            a = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            h.update(name.encode() + str(a.shape).encode() + a.tobytes())
        return h.hexdigest()

    def _meta(self) -> dict:
        return {"format": IMAGE_FORMAT, "params": self.params.to_dict(), "dt": self.dt, "num_steps": self.num_steps,
                "gain_shift": self.gain_shift, "model_config": self.model_config}

    def save(self, path: str) -> None:
        """One .safetensors file (no pickle), written atomically."""
        from safetensors.numpy import save_file

        tensors = {name: np.ascontiguousarray(getattr(self, name), dtype=np.int32) for name in _ARRAYS}
        meta = {"format": IMAGE_FORMAT, "meta": json.dumps(self._meta(), sort_keys=True)}
        with atomic_output(path) as tmp:
            save_file(tensors, tmp, metadata=meta)

    @classmethod
    def load(cls, path: str) -> "HardwareImage":
        from safetensors import safe_open

        try:
            with safe_open(path, framework="numpy") as f:
                meta = f.metadata() or {}
                arrays = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # safetensors raises its own error type on truncated or foreign files
            raise ValueError(f"{path}: cannot read hardware image ({e}); re-create it with fixedpoint.quantize") from e
        if meta.get("format") != IMAGE_FORMAT:
            raise ValueError(f"{path}: not a hardware image (format {meta.get('format')!r}, expected {IMAGE_FORMAT!r})")
        try:
            m = json.loads(meta["meta"])
        except (KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: hardware image metadata unreadable ({e})") from None
        try:
            return cls.from_fields(m, arrays)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_fields(cls, meta: dict, arrays: dict) -> "HardwareImage":
        """Build and validate an image from untrusted metadata (params, dt, num_steps, gain_shift, model_config)
        and arrays (a file, or a LOAD_IMAGE message): types, finiteness, shapes and ranges are all checked.

        Raises ValueError (or KeyError/TypeError for a missing or mistyped field) naming what is wrong.
        """
        if not isinstance(meta, dict):
            raise TypeError(f"hardware image metadata must be a dict, got {type(meta).__name__}")
        missing = set(_ARRAYS) - set(arrays)
        if missing:
            raise ValueError(f"hardware image lacks arrays {sorted(missing)}")
        extra = set(arrays) - set(_ARRAYS)
        if extra:
            raise ValueError(f"hardware image has unexpected arrays {sorted(extra)}")
        ints = {name: _int_array(name, arrays[name]) for name in _ARRAYS}
        for key in ("num_steps", "gain_shift"):
            if not isinstance(meta[key], (int, np.integer)) or isinstance(meta[key], bool):
                raise TypeError(f"hardware image {key} must be an integer, got {meta[key]!r}")
        if not isinstance(meta["dt"], (int, float)) or isinstance(meta["dt"], bool):
            raise TypeError(f"hardware image dt must be a number, got {meta['dt']!r}")
        mc = meta.get("model_config", {}) or {}
        if not isinstance(mc, dict):
            raise TypeError(f"hardware image model_config must be a dict, got {type(mc).__name__}")
        img = cls(params=HardwareParams.from_dict(meta["params"]), dt=float(meta["dt"]),
                  num_steps=int(meta["num_steps"]), gain_shift=int(meta["gain_shift"]), model_config=dict(mc), **ints)
        img.validate()
        return img

    def validate(self) -> None:
        """Shapes and ranges against the build parameters: a clear error rather than a wrong image."""
        from .spec import MAX_CLASSES, MAX_STEPS  # the limits every loader shares

        p, s = self.params, self.params.spec
        for name in _ARRAYS:
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
                raise ValueError(f"hardware image array {name!r} must be an integer numpy array, got "
                                 f"{getattr(a, 'dtype', type(a).__name__)}")
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"hardware image dt must be a finite number > 0, got {self.dt!r}")
        if not 1 <= self.num_steps <= MAX_STEPS:
            raise ValueError(f"hardware image num_steps {self.num_steps} outside 1..{MAX_STEPS}")
        if self.drive.ndim != 3 or not 1 <= self.drive.shape[0] <= MAX_CLASSES:
            raise ValueError(f"hardware image drive must be (classes, n, n_cond) with 1..{MAX_CLASSES} classes, "
                             f"got shape {self.drive.shape}")
        expect = {"k": (p.n, p.n), "drive": (self.drive.shape[0], p.n, p.n_cond), "kcond": (p.n_cond, p.n_cond),
                  "gain": (p.n_total,), "omega_inc": (p.n_total,)}
        for name, shape in expect.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"hardware image array {name!r} has shape {getattr(self, name).shape}, expected {shape}")
        ranges = {"k": s.coupling_max, "drive": s.drive_max, "kcond": s.drive_max}
        for name, lim in ranges.items():  # min and max: abs() of the int64 minimum is negative
            a = getattr(self, name)
            if a.max(initial=0) > lim or a.min(initial=0) < -lim:
                raise ValueError(f"hardware image {name!r} exceeds +-{lim}")
        if self.gain.min(initial=0) < 0 or self.gain.max(initial=0) >= 1 << s.gain_bits:
            raise ValueError(f"gains must be unsigned {s.gain_bits}-bit")
        if np.any(np.diag(self.k)) or np.any(np.diag(self.kcond)):
            raise ValueError("hardware image has self-coupling (non-zero diagonal)")
        if not 1 <= self.gain_shift <= 62:
            raise ValueError(f"gain_shift {self.gain_shift} outside 1..62")
        lim = 1 << (s.phase_bits - 1)
        if self.omega_inc.max(initial=0) >= lim or self.omega_inc.min(initial=0) <= -lim:
            raise ValueError(OMEGA_RANGE_ERROR)
        turns = self.max_turns()
        if turns >= 2 ** (s.phase_turn_bits - 1):
            raise ValueError(
                f"phases can reach {turns:.1f} turns after {self.num_steps} steps but the phase word holds only "
                f"+-{2 ** (s.phase_turn_bits - 1)} turns: raise phase_turn_bits or use fewer steps")

    def max_turns(self) -> float:
        """Static bound on |phase| in turns after num_steps steps from any start in [-1/2, 1/2)."""
        p, s = self.params, self.params.spec
        amp2 = 2 * s.trig_amplitude**2
        row_abs = np.concatenate([
            np.abs(self.k).sum(1) + np.abs(self.drive).max(axis=0).sum(1),
            np.abs(self.kcond).sum(1)])
        per_step = np.abs(self.omega_inc) + (amp2 * row_abs * self.gain) / 2.0 ** (self.gain_shift + p.pre_shift) + 2
        return 0.5 + self.num_steps * float(per_step.max()) / 2.0**s.phase_frac_bits


def quantize(eff: dict[str, np.ndarray], params: HardwareParams, dt: float, num_steps: int,
             model_config: dict | None = None) -> HardwareImage:
    """Quantize effective float couplings (see model.hardware_image.effective_params) into a HardwareImage for `params`."""
    s = params.spec
    n, m = params.n, params.n_cond
    require_finite({x: eff[x] for x in ("omega", "K", "omega_cond", "K_cond", "K_drive")}, "quantize")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"quantize: dt must be a finite number > 0, got {dt!r}")
    k, d, kc = (np.asarray(eff[x], dtype=np.float64) for x in ("K", "K_drive", "K_cond"))
    if k.shape != (n, n) or kc.shape != (m, m) or d.shape[1:] != (n, m):
        raise ValueError(f"model (n={k.shape[0]}, n_cond={kc.shape[0]}) does not fit the hardware build "
                         f"(n={n}, n_cond={m}): build the core for this model or choose a matching config")
    # Row steps: K rows by MSE at coupling_bits; every row must also hold its drive / cond weights.
    q = np.concatenate([_mse_scale(k, s.coupling_max), np.zeros(m)])
    drive_need = np.abs(d).max(axis=0).max(axis=1) / s.drive_max
    q[:n] = np.maximum(q[:n], drive_need)
    q[n:] = np.abs(kc).max(axis=1) / s.drive_max
    # gain g = q * dt * 2**F * 2**(R+T) / (2 pi A^2); largest R that keeps every g inside gain_bits.
    unit = dt * 2.0**s.phase_frac_bits * 2.0**params.pre_shift / (2 * math.pi * s.trig_amplitude**2)
    qmax = q.max()
    if qmax <= 0:
        shift = 1
    else:
        shift = int(math.floor(math.log2(((1 << s.gain_bits) - 1) / (qmax * unit))))
        while shift > 1 and np.round(q * unit * 2.0**shift).max() >= 1 << s.gain_bits:
            shift -= 1
    if not 1 <= shift <= 62:
        raise ValueError(f"couplings out of range for this format (gain shift {shift} outside 1..62)")
    gain = np.round(q * unit * 2.0**shift).astype(np.int64)
    q_eff = gain / (unit * 2.0**shift)
    inv = np.divide(1.0, q_eff, out=np.zeros_like(q_eff), where=q_eff > 0)
    k_int = np.clip(np.round(k * inv[:n, None]), -s.coupling_max, s.coupling_max).astype(np.int64)
    d_int = np.clip(np.round(d * inv[None, :n, None]), -s.drive_max, s.drive_max).astype(np.int64)
    kc_int = np.clip(np.round(kc * inv[n:, None]), -s.drive_max, s.drive_max).astype(np.int64)
    np.fill_diagonal(k_int, 0)
    np.fill_diagonal(kc_int, 0)
    omega = np.concatenate([np.asarray(eff["omega"], np.float64).reshape(-1),
                            np.asarray(eff["omega_cond"], np.float64).reshape(-1)])
    omega_inc = np.round(omega * dt * 2.0**s.phase_frac_bits / (2 * math.pi))
    if np.abs(omega_inc).max(initial=0) >= 1 << (s.phase_bits - 1):  # before the int64 cast (which would wrap)
        raise ValueError(OMEGA_RANGE_ERROR)
    omega_inc = omega_inc.astype(np.int64)
    img = HardwareImage(params=params, dt=float(dt), num_steps=int(num_steps), gain_shift=shift, k=k_int, drive=d_int,
                        kcond=kc_int, gain=gain, omega_inc=omega_inc, model_config=dict(model_config or {}))
    img.validate()
    return img
