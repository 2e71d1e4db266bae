"""Checkpoint -> hardware image: the bridge between the float model's files and fixedpoint.quantize (numpy only,
no torch, so the board side and the host can use it).

It lives in model/ because it reads model configs and checkpoints (model.config, model.checkpoint); fixedpoint/
below it knows only integer images and their quantizer (layers point one way: fixedpoint < model < host).
"""
from __future__ import annotations

import numpy as np

from fixedpoint.quantize import HardwareImage, quantize, require_finite
from fixedpoint.spec import HardwareParams, NumericsSpec, default_lanes

from .checkpoint import load_config_and_tensors
from .config import ModelConfig, coupling_scales


def effective_params(config: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Un-0 parameters -> the couplings the dynamics actually use (zero diagonal, forward scales applied).

    `config` is a ModelConfig dict; `tensors` holds our checkpoint's `dynamics.*` arrays.
    """
    cfg = ModelConfig.from_dict(config) if isinstance(config, dict) else config
    s_k, s_kc, s_d = coupling_scales(cfg)

    def get(name):
        key = f"dynamics.{name}"
        if key not in tensors:
            raise KeyError(f"checkpoint has no tensor {key!r}; it holds {sorted(tensors)[:8]}...")
        return np.asarray(tensors[key], dtype=np.float64)

    require_finite({f"dynamics.{x}": get(x) for x in ("omega", "K", "omega_cond", "K_cond", "K_drive")})
    k = get("K")
    kc = get("K_cond")
    return {
        "omega": get("omega").reshape(-1),
        "K": (k - np.diag(np.diag(k))) * s_k,
        "omega_cond": get("omega_cond").reshape(-1),
        "K_cond": (kc - np.diag(np.diag(kc))) * s_kc,
        "K_drive": get("K_drive") * s_d,
    }


def image_from_checkpoint(path: str, params: HardwareParams | None = None, spec: NumericsSpec | None = None,
                          lanes: int | None = None) -> HardwareImage:
    """Load one of our .safetensors checkpoints (no torch) and quantize it."""
    cfg, tensors = load_config_and_tensors(path)
    if params is None:
        spec = spec or NumericsSpec()
        params = HardwareParams(cfg.n, cfg.n_cond, lanes or default_lanes(cfg.n, cfg.n_cond, spec), spec)
    return quantize(effective_params(cfg, tensors), params, cfg.dt, cfg.num_steps, cfg.to_dict())


def identity_image(path: str, params: HardwareParams) -> HardwareImage:
    """The model's identity as a HardwareImage for a board that programs the float checkpoint itself (analog):
    the build `params`, dt, num_steps, class count and model config of the checkpoint at `path`, with zero
    couplings, drives and frequency increments (such a board reads its weights from the checkpoint, so no
    fixed-point range applies; non-finite tensors are still refused by the loader)."""
    cfg, _ = load_config_and_tensors(path)
    n, m = params.n, params.n_cond
    if (n, m) != (cfg.n, cfg.n_cond):
        raise ValueError(f"build n={n}, n_cond={m} does not match {cfg.name} (n={cfg.n}, n_cond={cfg.n_cond})")
    z = np.zeros
    img = HardwareImage(params=params, dt=float(cfg.dt), num_steps=int(cfg.num_steps), gain_shift=1,
                        k=z((n, n), np.int64), drive=z((cfg.num_classes, n, m), np.int64), kcond=z((m, m), np.int64),
                        gain=z(n + m, np.int64), omega_inc=z(n + m, np.int64), model_config=cfg.to_dict())
    img.validate()
    return img
