"""Tolerance sweeps of the analog chip model and the Euler question; writes out/analog/ (--out).

    python -m model.analog_sweep [--samples 128] [--kid-samples 96] [--digits CKPT10 CKPT40] [--out out/analog]

Models: the trained ``checkpoints/cifar10-n1024.safetensors`` and a seeded random-init model of the
Un-0 ImageNet-64 layout at n = 256 (n_cond 1, 1000 classes, ref_oscillator, muP; the class path of the released
ImageNet models, untrained: there is no ImageNet data here). For each non-ideality alone (model/analog.py, under
the trained Euler schedule, chip seed 0) it integrates the same seeded initial phase words
(fixedpoint.golden.initial_phases, as every board) and compares with the ideal float run:

* PSNR of the decoded images against the ideal images (range [-1, 1], model.numerics_sweep.psnr);
* class agreement: CIFAR-10, the project's classifier (model.evaluate.SmallCNN on the real train split, as
  model.numerics_sweep --classifier); ImageNet layout, a ridge probe (model.class_probe) of the readout features
  fitted on ideal runs of 10 classes (no ImageNet classifier exists here) - share of samples with the same label;
* KID against the ideal images: in the classifier's feature space for every row, and with Inception-v3
  (model.evaluate) at ``--kid-samples`` for the ideal, each axis's tolerance edge and the Euler question.

The tolerance of an axis is the most severe swept value such that it and every milder value keep PSNR >=
``--psnr-min`` dB and class agreement >= 1 - ``--agree-drop``. The Euler question compares the trained Euler
schedule with continuous-time integration (torchdiffeq dopri5) of the same equations, finer Euler steps, other
run lengths, and (with ``--digits``) digits models trained with 10 and 40 Euler steps.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np
import torch

from fixedpoint.files import atomic_output, check_input, write_atomic
from fixedpoint.golden import initial_phases
from fixedpoint.readout import phases_to_radians
from fixedpoint.spec import FORMATS

from .analog import PARAMETERS, AnalogArray, AnalogParams, RunStats
from .numerics_sweep import psnr

DEFAULT_CHECKPOINT = os.path.join("checkpoints", "cifar10-n1024.safetensors")
PSNR_MIN_DB = 30.0
AGREE_DROP = 0.05
IMAGENET_N = 256
PROBE_CLASSES = tuple(range(0, 1000, 100))

#: (axis = AnalogParams field, swept values, severity): "up" larger is worse, "down" fewer bits is worse,
#: "abs" further from the ideal value (0, or 1 for run_length) is worse, "cat" categorical.
AXES = (
    ("freq_mismatch", (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2), "up"),
    ("phase_noise", (0.01, 0.03, 0.1, 0.2, 0.3, 0.5), "up"),
    ("coupling_bits", (10, 8, 6, 5, 4, 3, 2), "down"),
    ("coupling_mismatch", (0.01, 0.03, 0.1, 0.2, 0.3), "up"),
    ("coupling_gain", (-0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2), "abs"),
    ("coupling_drift", (0.02, 0.05, 0.1, 0.2, 0.5), "up"),
    ("phase_lag", (0.01, 0.03, 0.1, 0.2, 0.3), "up"),
    ("waveform", ("triangle", "square"), "cat"),
    ("run_length", (0.9, 0.95, 0.98, 1.02, 1.05, 1.1), "abs"),
    ("adc_bits", (10, 8, 6, 5, 4, 3), "down"),
    ("readout_jitter", (0.005, 0.01, 0.02, 0.03, 0.06, 0.1), "up"),
)


# ------------------------------------------------------------------------------------------------ models
def imagenet_layout_model(n: int = IMAGENET_N, seed: int = 0):
    """Seeded random-init model with the released ImageNet-64 recipe (model/config.py) at n oscillators."""
    from .config import get_config
    from .un0 import OscillatorGenerator

    cfg = get_config("imagenet64-n6656").replace(name=f"imagenet64-n{n}", n=n, decoder_in_channels=2 * n // 16)
    torch.manual_seed(seed)
    return OscillatorGenerator(cfg).eval()


class Bench:
    """One model with its seeded phases, ideal run and the class judge (classifier or phase probe)."""

    def __init__(self, model, samples: int, seed: int, classifier=None, probe_per_class: int = 60, label: str = "",
                 dtype: torch.dtype = torch.float64):
        self.model, self.cfg = model, model.cfg
        self.dtype = dtype
        self.label = label or self.cfg.name
        self.classifier = classifier
        spec = FORMATS["default"]
        n_total = self.cfg.state_size
        classes = np.arange(self.cfg.num_classes) if classifier is not None else np.array(PROBE_CLASSES)
        self.classes = classes
        self.cls = torch.from_numpy(classes[np.arange(samples) % len(classes)])
        self.x0 = torch.from_numpy(phases_to_radians(initial_phases(seed, samples, n_total, spec), spec))
        self.probe = None
        if classifier is None:  # fit a ridge probe on ideal runs from other phases (seed + 1)
            fit_cls = torch.from_numpy(np.repeat(classes, probe_per_class))
            x_fit = torch.from_numpy(phases_to_radians(initial_phases(seed + 1, len(fit_cls), n_total, spec), spec))
            th = self.chip().run(fit_cls, x_fit)
            self.probe = _RidgeProbe(self.features(th), torch.searchsorted(torch.from_numpy(classes), fit_cls),
                                     len(classes))
        self.ideal_theta = self.chip().run(self.cls, self.x0)
        self.ideal = self.evaluate(self.ideal_theta)
        from .evaluate import kernel_inception_distance

        h = len(self.cls) // 2
        #: KID between the two halves of the ideal set: the judge-feature KID's noise floor
        self.kid_floor = kernel_inception_distance(self.ideal["emb"][:h], self.ideal["emb"][h:], num_subsets=50,
                                                   subset_size=max(2, h // 2))[0]
        if self.probe is None:
            self.accuracy_ideal = float((self.ideal["pred"] == self.cls.numpy()).mean())
        else:
            self.accuracy_ideal = float((self.ideal["pred"] == np.searchsorted(classes, self.cls.numpy())).mean())

    def chip(self, params: AnalogParams | None = None) -> AnalogArray:
        return AnalogArray(self.model, params, dtype=self.dtype)

    def features(self, theta: torch.Tensor) -> torch.Tensor:
        return self.model.features(theta.float()).double()

    @torch.no_grad()
    def evaluate(self, theta: torch.Tensor) -> dict:
        from .data import to_uint8

        feats = self.model.features(theta.float())
        images = self.model.decode(feats).numpy()
        if callable(self.classifier) and not isinstance(self.classifier, torch.nn.Module):
            pred, emb = self.classifier(images)
        elif self.classifier is not None:
            from .evaluate import classify

            pred, emb = classify(self.classifier, to_uint8(images))
        else:
            pred, emb = self.probe.predict(feats.double()), feats.double().numpy()
        return {"images": images, "pred": pred, "emb": emb, "feats": feats.double().numpy()}

    def score(self, theta: torch.Tensor) -> dict:
        from .evaluate import kernel_inception_distance

        r = self.evaluate(theta)
        i = self.ideal
        # unpaired halves: samples i of both sets start from the same phases, and the pairing biases the estimator
        h = len(r["emb"]) // 2
        kid, _ = kernel_inception_distance(r["emb"][:h], i["emb"][h:], num_subsets=50, subset_size=max(2, h // 2))
        return {"psnr_db": min(psnr(r["images"], i["images"]), 99.0),
                "agreement": float((r["pred"] == i["pred"]).mean()),
                "feature_rms": float(np.sqrt(((r["feats"] - i["feats"]) ** 2).mean())),
                "kid_judge": kid, "_images": r["images"]}


class _RidgeProbe:
    """One-hot ridge regression on standardised features (model.class_probe's estimator), with predictions."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int, ridge: float = 1e-3):
        self.mu, self.sd = x.mean(0), x.std(0).clamp_min(1e-9)
        a = self._design(x)
        t = torch.nn.functional.one_hot(y, num_classes).double()
        self.w = torch.linalg.solve(a.T @ a + ridge * len(x) * torch.eye(a.shape[1], dtype=a.dtype), a.T @ t)

    def _design(self, x):
        return torch.cat([(x - self.mu) / self.sd, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        return (self._design(x) @ self.w).argmax(1).numpy()


# ------------------------------------------------------------------------------------------------ sweeps
def _severity(axis, value, kind):
    if kind == "abs":
        return abs(value - getattr(AnalogParams(), axis))
    if kind == "down":
        return -value
    return value


def run_axes(bench: Bench, axes=AXES, progress: bool = True, keep_images=None) -> list[dict]:
    """One row per (axis, value); ``keep_images`` (dict) collects decoded images per row key."""
    from tqdm import tqdm

    jobs = [(a, v, k) for a, vals, k in axes for v in vals]
    rows = []
    for axis, value, kind in tqdm(jobs, desc=f"sweep {bench.label}", unit="setting", disable=not progress):
        p = AnalogParams(**{axis: value})
        t0 = time.perf_counter()
        theta = bench.chip(p).run(bench.cls, bench.x0, torch.Generator().manual_seed(p.noise_seed))
        s = bench.score(theta)
        img = s.pop("_images")
        if keep_images is not None:
            keep_images[(axis, value)] = img
        rows.append({"axis": axis, "value": value, "severity": kind, **s, "seconds": time.perf_counter() - t0})
    return rows


def tolerance_table(rows: list[dict], psnr_min: float = PSNR_MIN_DB, agree_drop: float = AGREE_DROP) -> list[dict]:
    """Per axis: the most severe value with it and every milder one passing, and the first failing value."""
    out = []
    for axis, _, kind in AXES:
        sel = [r for r in rows if r["axis"] == axis]
        if not sel:
            continue

        def ok(r):
            return r["psnr_db"] >= psnr_min and r["agreement"] >= 1 - agree_drop - 1e-12

        if kind == "cat":
            out.append({"axis": axis, "kind": kind, "passing": [r["value"] for r in sel if ok(r)],
                        "failing": [r["value"] for r in sel if not ok(r)],
                        "rows": {str(r["value"]): (r["psnr_db"], r["agreement"]) for r in sel}})
            continue
        sev = sorted({_severity(axis, r["value"], kind) for r in sel})
        tol, tol_rows, first_fail = None, [], None
        for s in sev:
            at = [r for r in sel if _severity(axis, r["value"], kind) == s]
            if all(ok(r) for r in at):
                tol, tol_rows = s, at
            else:
                first_fail = at
                break
        val = None if tol is None else (-tol if kind == "down" else tol)
        out.append({"axis": axis, "kind": kind, "tolerance": val, "tol_values": [r["value"] for r in tol_rows],
                    "psnr_at_tol": min(r["psnr_db"] for r in tol_rows) if tol_rows else None,
                    "agreement_at_tol": min(r["agreement"] for r in tol_rows) if tol_rows else None,
                    "first_fail": None if first_fail is None else [r["value"] for r in first_fail],
                    "psnr_at_fail": None if first_fail is None else min(r["psnr_db"] for r in first_fail),
                    "agreement_at_fail": None if first_fail is None else min(r["agreement"] for r in first_fail),
                    "unit": PARAMETERS[axis][0], "typical": PARAMETERS[axis][1], "source": PARAMETERS[axis][2]})
    return out


# ------------------------------------------------------------------------------------------------ Euler question
EULER_STEPS = (20, 40, 100)
ODE_DURATIONS = (0.5, 0.7, 0.85, 1.0, 1.2, 1.5)


def euler_question(bench: Bench, progress: bool = True, keep_images=None) -> list[dict]:
    """Rows: finer Euler steps at the same T, continuous time (dopri5) at T and at other run lengths."""
    from tqdm import tqdm

    cfg = bench.cfg
    jobs = [("euler", s, cfg.T) for s in EULER_STEPS] + [("ode", None, cfg.T * d) for d in ODE_DURATIONS]
    rows = []
    for kind, steps, dur in tqdm(jobs, desc=f"euler question {bench.label}", unit="run", disable=not progress):
        st = RunStats()
        t0 = time.perf_counter()
        chip = bench.chip(AnalogParams(integrator=kind))
        theta = chip.run(bench.cls, bench.x0, duration=dur, euler_steps=steps if steps else None, stats=st)
        s = bench.score(theta)
        img = s.pop("_images")
        if keep_images is not None:
            keep_images[(kind, steps, dur)] = img
        acc = _accuracy(bench, bench.evaluate(theta)["pred"])
        rows.append({"integrator": kind, "euler_steps": steps, "duration_T": dur / cfg.T, **s,
                     "class_accuracy": acc, "nfe": st.nfe, "seconds": time.perf_counter() - t0,
                     "phase_rms_rad": float(torch.sqrt(((theta - bench.ideal_theta)[:, :cfg.n]
                                                        - (theta - bench.ideal_theta)[:, :cfg.n].mean(1, keepdim=True)
                                                        ).pow(2).mean())),
                     })
    return rows


def _accuracy(bench: Bench, pred: np.ndarray) -> float:
    target = bench.cls.numpy() if bench.probe is None else np.searchsorted(bench.classes, bench.cls.numpy())
    return float((pred == target).mean())


def digits_question(paths: list[str], samples: int, seed: int, progress: bool) -> list[dict]:
    """For digits models trained with different Euler steps: own schedule vs continuous time."""
    from .checkpoint import load_checkpoint
    from .data import load_dataset
    from sklearn.linear_model import LogisticRegression

    train = load_dataset("digits", "train")
    test = load_dataset("digits", "test")

    def pooled(images):  # (N, 3, 32, 32) in [-1, 1] -> grey 8x8, the digits' native resolution
        x = torch.as_tensor(np.asarray(images)).float().mean(1, keepdim=True)
        return torch.nn.functional.avg_pool2d(x, 4).reshape(len(x), -1).numpy().astype(np.float64)

    lr = LogisticRegression(max_iter=3000).fit(pooled(train.batch(np.arange(len(train)))[0]), train.labels)
    real_acc = float(lr.score(pooled(test.batch(np.arange(len(test)))[0]), test.labels))

    def clf(images):
        f = pooled(images)
        return lr.predict(f), f

    rows = []
    for path in paths:
        model = load_checkpoint(path)
        b = Bench(model, samples, seed, classifier=clf, label=os.path.basename(path))
        ode = b.chip(AnalogParams(integrator="ode")).run(b.cls, b.x0)
        s = b.score(ode)
        s.pop("_images")
        rows.append({"checkpoint": os.path.basename(path), "train_euler_steps": model.cfg.num_steps,
                     "judge": "logistic regression on 8x8 grey real digits (as tests/test_train_digits.py)",
                     "judge_real_test_accuracy": real_acc,
                     "class_accuracy_euler": b.accuracy_ideal,
                     "class_accuracy_ode": _accuracy(b, b.evaluate(ode)["pred"]), **s})
    return rows


# ------------------------------------------------------------------------------------------------ Inception KID
def inception_kid(sets: dict, dataset: str, num: int, seed: int, progress: bool) -> dict:
    """KID (Inception-v3, model.evaluate) of each image set against ``num`` class-balanced real train images of
    ``dataset`` (model.evaluate.cached_inception: the reference of model.evaluate); keys as given."""
    from .data import DEFAULT_CACHE_DIR, load_dataset, to_uint8
    from .evaluate import cached_inception, inception_features, kernel_inception_distance

    ref = cached_inception(load_dataset(dataset, "train"), "train", num, seed, DEFAULT_CACHE_DIR, progress)
    out = {}
    for key, imgs in sets.items():
        f = inception_features(to_uint8(imgs), desc=f"inception {key}", progress=progress)
        m = max(2, len(f) // 2)
        out[key] = kernel_inception_distance(f, ref, num_subsets=50, subset_size=m)[0]
    return out


# ------------------------------------------------------------------------------------------------ report
def _grid_figure(rows_imgs: list[tuple[str, np.ndarray]], path: str, title: str, cols: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import to_uint8_hwc

    fig, ax = plt.subplots(len(rows_imgs), 1, figsize=(cols * 0.9 + 1.5, len(rows_imgs) * 1.05 + 0.6))
    for a, (label, imgs) in zip(np.atleast_1d(ax), rows_imgs):
        tiles = to_uint8_hwc(imgs[:cols])
        pad = np.full((tiles.shape[1], 2, 3), 255, np.uint8)
        a.imshow(np.concatenate([np.concatenate([t, pad], 1) for t in tiles], 1))
        a.set_xticks([])
        a.set_yticks([])
        a.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _tolerance_figure(rows: list[dict], path: str, title: str, psnr_min: float, agree_drop: float) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = [a for a, _, k in AXES if k != "cat" and any(r["axis"] == a for r in rows)]
    cols = 5
    fig, ax = plt.subplots(math.ceil(len(axes) / cols), cols, figsize=(3.3 * cols, 2.7 * math.ceil(len(axes) / cols)))
    ax = np.atleast_1d(ax).ravel()
    for a_, axis in zip(ax, axes):
        sel = [r for r in rows if r["axis"] == axis]
        x = [r["value"] for r in sel]
        psnr = [min(r["psnr_db"], 99) for r in sel]
        a_.plot(x, psnr, "o-", color="C0")
        a_.axhline(psnr_min, color="C0", ls=":", lw=0.8)
        a_.set_ylim(0, max(psnr + [psnr_min]) * 1.1)  # from 0: tiny PSNR changes must not fill the panel
        a_.set_ylabel("PSNR vs ideal (dB)", color="C0", fontsize=7)
        b_ = a_.twinx()
        b_.plot(x, [r["agreement"] for r in sel], "s--", color="C3")
        b_.axhline(1 - agree_drop, color="C3", ls=":", lw=0.8)
        b_.set_ylim(0, 1.05)
        b_.set_ylabel("class agreement", color="C3", fontsize=7)
        unit = PARAMETERS[axis][0]
        a_.set_xlabel(f"{axis} [{unit}]", fontsize=7)
        if axis in ("freq_mismatch", "readout_jitter", "coupling_mismatch", "phase_noise", "phase_lag", "coupling_drift"):
            a_.set_xscale("log")
            a_.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        a_.grid(alpha=0.3)
        a_.tick_params(labelsize=7)
        b_.tick_params(labelsize=7)
    for a_ in ax[len(axes):]:
        a_.axis("off")
    fig.suptitle(title + f" (dotted: PSNR {psnr_min:g} dB, agreement {1 - agree_drop:.2f})", fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _fmt(v):
    if v is None:
        return "—"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def render_markdown(res: dict) -> str:
    L = ["# Analog chip model: tolerance sweeps and the Euler question", "",
         f"Generated by `{res['command']}` ({res['machine']}; {res['wall_s']:.0f} s). Do not edit by hand. "
         f"Criteria: PSNR vs the ideal image ≥ {res['psnr_min_db']:g} dB and class agreement ≥ "
         f"{1 - res['agree_drop']:.2f}. Model, parameters and sources: docs/analog.md.", ""]
    for m in res["models"]:
        L += [f"## {m['label']}", "", m["note"], "",
              f"Ideal class accuracy of these {m['samples']} samples: {m['accuracy_ideal']:.3f} (judge: {m['judge']}).",
              "", f"![tolerance](tolerance-{m['key']}.png)", "",
              (f"Inception KID against {m['kid_samples']} real train images (model.evaluate's reference): ideal chip "
               f"{_fmt(m['kid_inception'].get('ideal'))}; the last column gives it at each tolerance (at the first failing "
               "value where none passes; the square waveform for the waveform row)." if m["kid_inception"] else
               "Inception KID: not computed for this model (untrained; see the judge-feature KID in the rows)."), "",
              "| non-ideality | unit | tolerance | PSNR / agreement at it | first failing | PSNR / agreement there | "
              "Inception KID at tolerance |", "|---|---|---|---|---|---|---|"]
        for t in m["tolerances"]:
            if t["kind"] == "cat":
                L.append(f"| {t['axis']} | — | passing: {_fmt(t['passing']) or 'none'} | "
                         + "; ".join(f"{k}: {p:.1f} dB / {a:.2f}" for k, (p, a) in t["rows"].items())
                         + f" | failing: {_fmt(t['failing']) or 'none'} | | {_fmt(m['kid_inception'].get(t['axis']))} |")
                continue
            at = "—" if t["psnr_at_tol"] is None else f"{t['psnr_at_tol']:.1f} dB / {t['agreement_at_tol']:.2f}"
            fail = "—" if t["psnr_at_fail"] is None else f"{t['psnr_at_fail']:.1f} dB / {t['agreement_at_fail']:.2f}"
            L.append(f"| {t['axis']} | {t['unit']} | {_fmt(t['tolerance']) if t['tolerance'] is not None else 'below sweep'}"
                     f" | {at} | {_fmt(t['first_fail'])} | {fail} | {_fmt(m['kid_inception'].get(t['axis']))} |")
        L += ["", "<details><summary>all rows</summary>", "",
              "KID (judge features): the setting's first half against the ideal set's second half (unpaired; the two "
              f"halves of the ideal set give the noise floor, here {m.get('kid_judge_floor', float('nan')):.3g}).", "",
              "| axis | value | PSNR (dB) | agreement | feature RMS | KID (judge features) |", "|---|---|---|---|---|---|"]
        for r in m["rows"]:
            L.append(f"| {r['axis']} | {_fmt(r['value'])} | {r['psnr_db']:.1f} | {r['agreement']:.3f} | "
                     f"{r['feature_rms']:.3g} | {r['kid_judge']:.3g} |")
        L += ["", "</details>", "", f"### Euler question: {m['label']}", "", f"![euler](euler-{m['key']}.png)", "",
              "| integration | steps / nfe | duration (T) | PSNR vs trained Euler (dB) | agreement | class accuracy | "
              "relative phase RMS (rad) | Inception KID vs real |", "|---|---|---|---|---|---|---|---|"]
        for r in m["euler"]:
            key = f"{r['integrator']}-{r['euler_steps']}-{r['duration_T']:g}"
            L.append(f"| {r['integrator']} | {r['euler_steps'] or r['nfe']} | {r['duration_T']:g} | {r['psnr_db']:.1f} | "
                     f"{r['agreement']:.3f} | {r['class_accuracy']:.3f} | {r['phase_rms_rad']:.3f} | "
                     f"{_fmt(m['kid_inception'].get(key))} |")
        L.append("")
    if res.get("parameters"):
        L += ["## Parameters (model/analog_params.py)", "", "| parameter | unit | typical / swept | source |",
              "|---|---|---|---|"]
        for k, d in res["parameters"].items():
            L.append(f"| {k} | {d['unit']} | {d['typical']} | {d['source']} |")
        L.append("")
    if res.get("digits"):
        L += ["## Euler question on digits: does training with a finer step help?", "",
              f"Judge: {res['digits'][0].get('judge', '?')} (real test accuracy "
              f"{_fmt(res['digits'][0].get('judge_real_test_accuracy'))}).",
              "", "| checkpoint | trained Euler steps | class accuracy (own Euler schedule) | class accuracy (continuous "
              "time) | PSNR Euler vs continuous (dB) | agreement |", "|---|---|---|---|---|---|"]
        for r in res["digits"]:
            L.append(f"| {r['checkpoint']} | {r['train_euler_steps']} | {r['class_accuracy_euler']:.3f} | "
                     f"{r['class_accuracy_ode']:.3f} | {r['psnr_db']:.1f} | {r['agreement']:.3f} |")
        L.append("")
    return "\n".join(L)


def run_model(bench: Bench, key: str, note: str, judge: str, out_dir: str, args, progress: bool) -> dict:
    imgs: dict = {}
    rows = run_axes(bench, progress=progress, keep_images=imgs)
    tol = tolerance_table(rows, args.psnr_min, args.agree_drop)
    eimgs: dict = {}
    erows = euler_question(bench, progress, keep_images=eimgs)
    cfg = bench.cfg
    # Inception KID vs the ideal images: each axis at its tolerance edge (first failing if none passes), ODE at T
    kid_sets = {}
    if args.kid_samples > 0 and key in args.kid_models.split(","):
        k = args.kid_samples
        for t in tol:
            if t["kind"] == "cat":
                kid_sets[t["axis"]] = imgs[(t["axis"], "square")][:k]
            else:
                cand = t["tol_values"] or t["first_fail"] or []
                if cand:
                    kid_sets[t["axis"]] = imgs[(t["axis"], cand[-1])][:k]
        ode = next(r for r in erows if r["integrator"] == "ode" and r["duration_T"] == 1.0)
        kid_sets[f"ode-None-{ode['duration_T']:g}"] = eimgs[("ode", None, cfg.T)][:k]
        kid_sets["ideal"] = bench.ideal["images"][:k]
        kid = inception_kid(kid_sets, cfg.dataset, k, args.seed, progress)
    else:
        kid = {}
    nshow = 10
    pick = np.concatenate([np.nonzero(bench.cls.numpy() == c)[0][:1] for c in bench.classes[:nshow]])
    best = max((r for r in erows if r["integrator"] == "ode"), key=lambda r: r["psnr_db"])
    grid = [("Euler 10 (trained)", bench.ideal["images"][pick])]
    grid += [(f"Euler {s}", eimgs[("euler", s, cfg.T)][pick]) for s in EULER_STEPS]
    grid += [("continuous, T", eimgs[("ode", None, cfg.T)][pick])]
    if best["duration_T"] != 1.0:
        grid += [(f"continuous, {best['duration_T']:g} T", eimgs[("ode", None, cfg.T * best["duration_T"])][pick])]
    _grid_figure(grid, os.path.join(out_dir, f"euler-{key}.png"),
                 f"{bench.label}: trained Euler schedule vs finer steps vs continuous time (same initial phases)")
    _tolerance_figure(rows, os.path.join(out_dir, f"tolerance-{key}.png"), f"{bench.label}: one non-ideality at a time",
                      args.psnr_min, args.agree_drop)
    return {"key": key, "label": bench.label, "config": cfg.to_dict(), "samples": len(bench.cls), "note": note,
            "judge": judge, "accuracy_ideal": bench.accuracy_ideal, "kid_judge_floor": bench.kid_floor,
            "rows": rows, "tolerances": tol, "euler": erows,
            "kid_inception": kid, "kid_samples": args.kid_samples}


def main(argv=None) -> int:
    from fixedpoint import cli

    ap = cli.ArgumentParser(prog="python -m model.analog_sweep", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="CIFAR-10 checkpoint (default: the bundled cifar10-n1024)")
    ap.add_argument("--samples", type=cli.int_range(10, 100_000), default=128, help="seeded samples per setting (classes round-robin)")
    ap.add_argument("--kid-samples", type=cli.int_range(0, 100_000), default=64, help="Inception KID sample count (0: skip)")
    ap.add_argument("--kid-models", default="cifar10", help="models that get Inception KID (the ImageNet layout is "
                    "untrained, so its judge-feature KID is reported instead)")
    ap.add_argument("--imagenet-n", type=cli.int_range(16, 16384), default=IMAGENET_N, help="oscillators of the untrained ImageNet-layout model (default %(default)s)")
    ap.add_argument("--digits", nargs="*", default=[], help="digits checkpoints trained with different --num-steps")
    ap.add_argument("--psnr-min", type=cli.float_range(0.0, 200.0), default=PSNR_MIN_DB, help="tolerance criterion: PSNR vs ideal at least this many dB (default %(default)s)")
    ap.add_argument("--agree-drop", type=cli.probability, default=AGREE_DROP, help="tolerance criterion: class agreement at least 1 - this (default %(default)s)")
    ap.add_argument("--seed", type=cli.seed, default=0, help="seed of the initial phases and non-idealities (default 0)")
    ap.add_argument("--models", default="cifar10,imagenet", help="comma list of cifar10, imagenet")
    ap.add_argument("--out", type=cli.output_dir, default=os.path.join("out", "analog"),
                    help="output directory (default out/analog; docs/analog holds the published run)")
    ap.add_argument("--threads", type=cli.int_range(1, 1024), default=None, help="torch threads (default: torch's)")
    ap.add_argument("--float64", action="store_true", help="integrate in float64 (default float32: 2x faster; the "
                    "ideal and every setting share the arithmetic, so differences are the non-ideality's)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--render", metavar="JSON", help="only re-render sweep.md from a results JSON (no runs)")
    args = ap.parse_args(argv)
    if args.render:
        try:
            check_input(args.render, "--render", (".json",))
        except FileNotFoundError as e:
            ap.error(str(e))
        try:
            res = json.loads(open(args.render).read())
            text = render_markdown(res)
        except (OSError, ValueError, KeyError, TypeError) as e:
            ap.error(f"--render {args.render}: not an analog sweep result ({type(e).__name__}: {e})")
        out = os.path.dirname(args.render) or "."
        write_atomic(os.path.join(out, "sweep.md"), text)
        for m in res["models"]:  # the tolerance figures need only the rows; the Euler pictures need a run
            _tolerance_figure(m["rows"], os.path.join(out, f"tolerance-{m['key']}.png"),
                              f"{m['label']}: one non-ideality at a time", res["psnr_min_db"], res["agree_drop"])
        print(f"wrote {os.path.join(os.path.dirname(args.render) or '.', 'sweep.md')}")
        return 0
    if args.samples < 10 or args.kid_samples < 0 or args.kid_samples > args.samples:
        ap.error("--samples must be >= 10 and 0 <= --kid-samples <= --samples")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not set(models) <= {"cifar10", "imagenet"}:
        ap.error("--models takes cifar10 and/or imagenet")
    try:
        if "cifar10" in models:
            check_input(args.checkpoint, "--checkpoint", cli.SAFETENSORS_FORMATS)
        for d in args.digits:
            check_input(d, "--digits checkpoint", cli.SAFETENSORS_FORMATS)
    except FileNotFoundError as e:
        ap.error(str(e))
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    dtype = torch.float64 if args.float64 else torch.float32
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    out_models = []
    if "cifar10" in models:
        from .checkpoint import load_checkpoint
        from .data import load_dataset
        from .evaluate import train_classifier

        clf = train_classifier(load_dataset("cifar10", "train"), epochs=3, progress=progress)
        bench = Bench(load_checkpoint(args.checkpoint), args.samples, args.seed, classifier=clf, dtype=dtype)
        note = (f"Trained checkpoint `{args.checkpoint}`; {args.samples} samples (classes round-robin) from the seeded "
                f"phase words (seed {args.seed}); class judge: the project's SmallCNN classifier (model.evaluate, 3 "
                "epochs on the real CIFAR-10 train split).")
        out_models.append(run_model(bench, "cifar10", note, "SmallCNN classifier", args.out, args, progress))
    if "imagenet" in models:
        bench = Bench(imagenet_layout_model(args.imagenet_n, args.seed), args.samples, args.seed, dtype=dtype)
        note = (f"Random-init Un-0 ImageNet-64 layout at n = {args.imagenet_n} (n_cond 1, 1000 classes, ref_oscillator, "
                f"muP; torch seed {args.seed}; untrained: no ImageNet data here) for the class path; {args.samples} "
                f"samples over classes {list(PROBE_CLASSES)}; class judge: a ridge probe of the readout features "
                "fitted on 60 ideal runs per class from other phases.")
        out_models.append(run_model(bench, "imagenet", note, "ridge probe of the readout features", args.out, args,
                                    progress))
    digits = digits_question(args.digits, args.samples, args.seed, progress) if args.digits else []
    cmd = "python -m model.analog_sweep" + "".join(
        f" --{k} {v}" for k, v in (("samples", args.samples), ("kid-samples", args.kid_samples),
                                   ("imagenet-n", args.imagenet_n), ("out", args.out)))
    if args.digits:
        cmd += " --digits " + " ".join(args.digits)
    res = {"command": cmd, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
           f"torch threads {torch.get_num_threads()}", "wall_s": time.time() - t0, "psnr_min_db": args.psnr_min,
           "agree_drop": args.agree_drop, "models": out_models, "digits": digits, "parameters": {
               k: {"unit": u, "typical": t, "source": s} for k, (u, t, s) in PARAMETERS.items()}}
    write_atomic(os.path.join(args.out, "analog-sweep.json"), json.dumps(res, indent=1))
    write_atomic(os.path.join(args.out, "sweep.md"), render_markdown(res))
    print(f"wrote {args.out}/analog-sweep.json, sweep.md and figures ({time.time() - t0:.0f} s)")
    for m in out_models:
        for t in m["tolerances"]:
            print(f"  {m['key']:>8} {t['axis']:>18}: {t.get('tolerance', t.get('passing'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
