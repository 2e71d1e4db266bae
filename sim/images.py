"""Random quantized images and the word streams that load them: what the RTL tests feed the core (numpy only)."""
from __future__ import annotations

import math

import numpy as np

from fixedpoint.layout import LOAD_TARGETS, model_streams, request_streams
from fixedpoint.quantize import HardwareImage, quantize
from fixedpoint.spec import HardwareParams


def random_image(params: HardwareParams, seed: int, num_classes: int = 3, num_steps: int = 4,
                 k_scale: float = 1.0, dt: float = 0.1) -> HardwareImage:
    """Quantize random float couplings (Un-0-like scales) into an image for `params`."""
    rng = np.random.default_rng(seed)
    n, m = params.n, params.n_cond
    k = rng.normal(size=(n, n)) * k_scale / math.sqrt(n)
    kc = rng.normal(size=(m, m)) / math.sqrt(m)
    np.fill_diagonal(k, 0)
    np.fill_diagonal(kc, 0)
    eff = {"omega": rng.normal(size=n), "K": k, "omega_cond": rng.normal(size=m), "K_cond": kc,
           "K_drive": rng.normal(size=(num_classes, n, m)) / math.sqrt(m)}
    return quantize(eff, params, dt, num_steps)


def load_sequence(image: HardwareImage, class_id: int, phases0: np.ndarray,
                  model: bool = True) -> list[tuple[int, np.ndarray]]:
    """(LOAD_TARGET code, words) in the order a host sends them: the model memories, then the request."""
    seq = []
    if model:
        for name, words in model_streams(image).items():
            seq.append((LOAD_TARGETS[name], words))
    for name, words in request_streams(image, class_id, phases0).items():
        seq.append((LOAD_TARGETS[name], words))
    return seq
