"""Measure the float torch model (dynamics + decoder) and the golden integer model on this CPU.

Random-init models (timing does not depend on trained values). Batch 1 and batched; median of a
few repeats after a warm-up. Kept under ~2 minutes on 2 cores; results go into the roadmap report.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np

from .roadmap_model import sweep_configs, workload

FLOAT_SIZES = (64, 256, 1024, 2048, 4096)
GOLDEN_SIZES = (64, 256, 1024)
BATCH = 64


def _min_time(fn, repeats: int) -> float:
    """Fastest of `repeats` after a warm-up: the host is shared, so the minimum is the least-disturbed run."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def measure(float_sizes=FLOAT_SIZES, golden_sizes=GOLDEN_SIZES, batch: int = BATCH, repeats: int = 5,
            progress: bool = True) -> dict:
    import torch

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see roadmap_params cpu_cores: contended multi-threading is erratic here
    try:
        return _measure(torch, float_sizes, golden_sizes, batch, repeats, progress)
    finally:
        torch.set_num_threads(threads)


def _measure(torch, float_sizes, golden_sizes, batch, repeats, progress):
    from tqdm import tqdm

    from fixedpoint.golden import GoldenModel, initial_phases
    from fixedpoint.quantize import quantize
    from fixedpoint.spec import PYNQ_Z2, FORMATS, HardwareParams, default_lanes
    from model.un0 import OscillatorGenerator

    cfgs = {c.n: c for c in sweep_configs() if c.name.startswith("cifar10")}
    out = {"host": {"cpu": platform.processor() or platform.machine(), "torch_threads": 1,
                    "cpus": os.cpu_count(), "torch": torch.__version__},
           "float": [], "golden": []}
    jobs = [("float", n, mode) for n in float_sizes for mode in ("batch1", "batched")]
    jobs += [("golden", n, mode) for n in golden_sizes for mode in ("batch1", "batched")]
    for kind, n, mode in tqdm(jobs, desc="cpu timing", disable=not progress):
        cfg = cfgs[n]
        w = workload(cfg, cfg.num_steps)
        b = 1 if mode == "batch1" else max(4, batch * 1024 // max(n, 1024) // (4 if n >= 2048 else 1))
        if kind == "float":
            model = OscillatorGenerator(cfg).eval()
            cls = torch.zeros(b, dtype=torch.long)
            with torch.no_grad():
                theta0 = model.initial_phases(b)
                th = model.integrate(cls, theta0)
                t_dyn = _min_time(lambda: model.integrate(cls, theta0), repeats)
                t_dec = _min_time(lambda: model.decode(model.features(th)), repeats)
            out["float"].append({"config": cfg.name, "n": n, "mode": mode, "batch": b,
                                 "dyn_s_per_image": t_dyn / b, "dec_s_per_image": t_dec / b,
                                 "dyn_mac": w.dyn_mac, "dec_mac": w.dec_mac})
        else:
            model = OscillatorGenerator(cfg)
            eff = {k: v.detach().numpy().astype(np.float64) for k, v in model.effective_params().items()}
            params = PYNQ_Z2 if n == PYNQ_Z2.n else HardwareParams(
                n, cfg.n_cond, default_lanes(n, cfg.n_cond, FORMATS["default"]), FORMATS["default"])
            img = quantize(eff, params, cfg.dt, cfg.num_steps, cfg.to_dict())
            gm = GoldenModel(img)
            ph = initial_phases(0, b, params.n_total, params.spec)
            cls = np.zeros(b, dtype=np.int64)
            t = _min_time(lambda: gm.run(cls, ph), repeats)
            out["golden"].append({"config": cfg.name, "n": n, "mode": mode, "batch": b,
                                  "format": "pynq-z2-n1024" if params is PYNQ_Z2 else "default",
                                  "s_per_image": t / b, "dyn_mac": w.dyn_mac})
    return out
