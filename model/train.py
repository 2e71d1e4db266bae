"""Train an oscillator generator with the drifting loss (Un-0 recipe, un0-model.md §8-§10).

    python -m model.train --config cifar10-n1024 --data cifar10 --steps 28800 --batch-size 2048   # Un-0 recipe (GPU)
    python -m model.train --config digits-n64 --data digits --extractor pixel --steps 200 --batch-size 100 \
        --lr 5e-3 --queue-size 128 --num-pos 32                  # class-conditional digits in ~1 min (CPU)

Per step: a real batch (x, y) is drawn; its features go into the per-class FIFO queue; gens reuse the labels y
(CIFAR recipe); per class, positives are drawn from the queue and gamma-negatives from the other-class reals of the
batch. Optimiser: DecoupledAdamW (p <- p (1 - lr/initial_lr * wd) before each Adam step), linear warmup then
linear decay to 0, grad-norm clipping. Under torchrun (RANK/WORLD_SIZE set) the model is wrapped in DDP (gloo on
CPU, nccl on CUDA); each rank keeps its own queue, rank 0 writes checkpoints, grids and logs.
Outputs (atomic): checkpoint .safetensors (model/checkpoint.py), <checkpoint>.train-state.pt (optimizer,
scheduler, step; loads with weights_only=True), sample grid PNG, JSONL log.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from fixedpoint.files import atomic_output

from model.checkpoint import load_checkpoint, save_checkpoint, save_torch_atomic
from model.class_probe import class_probe
from model.config import MAX_STEPS, get_config
from model.data import DATASET_NAMES, ImageDataset, load_dataset
from model.drifting import GAMMA, TEMPERATURES, ClassQueue, grouped_drifting_loss
from model.features import DEFAULT_EFFNET_RESIZE, EXTRACTOR_HELP, build_extractor
from model.un0 import OscillatorGenerator

#: Un-0 peak learning rates per released config (un0-model.md §7); others default to DEFAULT_LR.
PEAK_LR = {"cifar10-n1024": 2.683e-3, "cifar10-n2048": 1.389e-3, "cifar10-n4096": 1.3894955e-3,
           "imagenet64-n6656": 1.585e-3, "imagenet64-n10240": 1e-3, "imagenet64-n16384": 1e-3}
DEFAULT_LR = 2e-3
PIXEL_WEIGHT_WITH_FEATURES = 0.004  # Un-0 CIFAR: dino 1.0, pixel 0.004
REFERENCE_VIEW_DIM = 384  # DINOv2 ViT-S/14 token width, the views Un-0's weights were tuned for


class DecoupledAdamW(torch.optim.Adam):
    """Adam (no L2 term) with decoupled weight decay scaled by the schedule: p <- p (1 - lr/initial_lr * wd).

    Equivalent to torch.optim.AdamW with weight_decay = wd / initial_lr (AdamW multiplies by 1 - lr * wd)."""

    def __init__(self, params, lr: float, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=0.0)
        for g in self.param_groups:
            g["decoupled_wd"] = weight_decay
            g.setdefault("initial_lr", lr)

    @torch.no_grad()
    def step(self, closure=None):
        for g in self.param_groups:
            wd = g.get("decoupled_wd", 0.0)
            if wd:
                factor = 1.0 - (g["lr"] / g["initial_lr"]) * wd
                for p in g["params"]:
                    if p.grad is not None:
                        p.mul_(factor)
        return super().step(closure)


def lr_lambda(total_steps: int, warmup_frac: float):
    """Linear warmup over warmup_frac of the steps, then linear decay to 0 at total_steps."""
    warm = max(1, int(round(total_steps * warmup_frac)))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return f


def group_weights(groups, feature_weight: float, pixel_weight: float) -> dict:
    """Loss weight per feature group.

    The pixel view gets ``pixel_weight``. Extractor groups share ``feature_weight`` by view count (Un-0 averages
    over its 68 DINO views) times D_g / 384: the drifting gradient per feature vector is -2V/(n_g D) with |V| ~ 1,
    so this makes every view push as hard as a 384-d DINO view does in Un-0, which keeps the calibrated
    pixel weight (0.004 against 384-d views) meaningful for extractors with other widths."""
    feat_views = sum(v for n, v, _ in groups if n != "pixel")
    return {n: (pixel_weight if n == "pixel" else feature_weight * (v / feat_views) * (d / REFERENCE_VIEW_DIM))
            for n, v, d in groups}


def _config_diff(have, want) -> str:
    """'field: checkpoint value vs requested value' for every field that differs."""
    a, b = have.to_dict(), want.to_dict()
    return "; ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def save_grid(images: torch.Tensor, path: Path, nrow: int, pad: int = 2, scale: int = 2) -> None:
    """images (N, 3, H, W) in [-1, 1] -> PNG grid (nrow per row), written atomically."""
    from PIL import Image

    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    n, _, h, w = x.shape
    rows = math.ceil(n / nrow)
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = x[i].transpose(1, 2, 0)
    im = Image.fromarray(canvas)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    with atomic_output(path) as tmp:
        im.save(tmp, format="PNG")


@torch.no_grad()
def sample_grid(model: torch.nn.Module, num_classes: int, per_class: int = 10, seed: int = 0,
                device="cpu") -> torch.Tensor:
    """per_class samples of each of the first 10 classes, fixed seed (same phases every call), one row per class."""
    classes = list(range(min(num_classes, 10)))
    y = torch.tensor([c for c in classes for _ in range(per_class)], device=device)
    g = torch.Generator(device="cpu").manual_seed(seed)
    theta0 = (torch.rand(len(y), model.cfg.state_size, generator=g) * (2 * math.pi) - math.pi).to(device)
    was = model.training
    model.eval()
    out = model(y, theta0=theta0)
    model.train(was)
    return out


def build_parser() -> argparse.ArgumentParser:
    from fixedpoint import cli

    p = cli.ArgumentParser(prog="python -m model.train", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="model config name (model/config.py CONFIGS)")
    p.add_argument("--data", default=None, choices=DATASET_NAMES, help="dataset (default: the config's dataset)")
    p.add_argument("--data-root", default=None, help="dataset file/folder (default: the dataset's standard location)")
    p.add_argument("--cache-dir", type=cli.output_dir, default=None,
                   help="decoded-dataset cache (default ~/.cache/oscillator-hil)")
    p.add_argument("--steps", type=cli.int_range(1, 10**7), required=True,
                   help="total optimizer steps (the LR schedule spans them)")
    p.add_argument("--batch-size", type=cli.int_range(1, 65536), default=256,
                   help="real batch per rank = generated batch per rank")
    p.add_argument("--lr", type=cli.float_range(0.0, 10.0, lo_open=True), default=None,
                   help="peak LR (default: Un-0's for released configs, else 2e-3)")
    p.add_argument("--warmup-frac", type=cli.probability, default=0.1,
                   help="share of steps with linear LR warm-up (default 0.1)")
    p.add_argument("--weight-decay", type=cli.nonneg_float, default=1e-3, help="AdamW weight decay (default 1e-3)")
    p.add_argument("--betas", type=cli.float_range(0.0, 1.0, hi_open=True), nargs=2, default=(0.9, 0.95),
                   help="AdamW betas (default 0.9 0.95)")
    p.add_argument("--grad-clip", type=cli.positive_float, default=1.0, help="gradient-norm clip (default 1.0)")
    p.add_argument("--extractor", default="effnet", help=EXTRACTOR_HELP)
    p.add_argument("--effnet-resize", type=cli.int_range(32, 1024), default=DEFAULT_EFFNET_RESIZE,
                   help="EfficientNet input side (CPU: 64)")
    p.add_argument("--effnet-stages", type=cli.int_range(0, 8), nargs="+", default=[3, 5, 7],
                   help="EfficientNet-Lite0 stages whose features the drifting loss uses (default 3 5 7)")
    p.add_argument("--grid", type=cli.int_range(1, 64), default=4,
                   help="pooled grid per feature map (views = grid^2 per layer)")
    p.add_argument("--dinov2-repo", default=None, help="local clone of facebookresearch/dinov2 (state-dict weights)")
    p.add_argument("--pixel-weight", type=cli.nonneg_float, default=None,
                   help=f"pixel-view weight (default {PIXEL_WEIGHT_WITH_FEATURES} with an extractor, 1.0 for 'pixel')")
    p.add_argument("--feature-weight", type=cli.nonneg_float, default=1.0,
                   help="weight of the extractor views (all groups)")
    p.add_argument("--queue-size", type=cli.int_range(1, 1 << 20), default=2048, help="queue slots per class")
    p.add_argument("--num-pos", type=cli.int_range(1, 1 << 20), default=64, help="positives per class per step")
    p.add_argument("--gamma", type=cli.float_range(0.0, 1.0, hi_open=True), default=GAMMA,
                   help=f"share of negatives drawn from other classes (mixture (1-gamma) q(.|c) + gamma p_data; "
                        f"default {GAMMA})")
    p.add_argument("--seed", type=cli.seed, default=42, help="training seed (default 42)")
    p.add_argument("--threads", type=cli.int_range(1, 1024), default=None, help="torch CPU threads")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                   help="bf16 autocast (CUDA only; default bf16 on CUDA)")
    p.add_argument("--out-dir", type=cli.output_dir, default=None, help="default runs/<config>")
    p.add_argument("--checkpoint", type=cli.output_file(cli.SAFETENSORS_FORMATS), default=None,
                   help=".safetensors checkpoint (default <out-dir>/<config>.safetensors)")
    p.add_argument("--train-state", type=cli.output_file(cli.TORCH_FORMATS), default=None,
                   help="optimizer/scheduler state, .pt (default <checkpoint>.train-state.pt)")
    p.add_argument("--samples", type=cli.output_file(cli.IMAGE_FORMATS), default=None,
                   help=f"sample grid, {cli.formats_text(cli.IMAGE_FORMATS)} (default <out-dir>/samples.png)")
    p.add_argument("--log", type=cli.output_file(cli.JSONL_FORMATS), default=None,
                   help=".jsonl log (default <out-dir>/log.jsonl)")
    p.add_argument("--ckpt-every", type=cli.positive_int, default=500, help="checkpoint every N steps")
    p.add_argument("--ckpt-minutes", type=cli.positive_float, default=5.0,
                   help="also checkpoint every M minutes of wall clock")
    p.add_argument("--log-every", type=cli.positive_int, default=10, help="steps between log lines (default 10)")
    p.add_argument("--max-minutes", type=cli.nonneg_float, default=None,
                   help="stop (and checkpoint) after this wall time")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint and its .train-state.pt")
    p.add_argument("--init-from", type=cli.existing_file, default=None,
                   help="start from these weights (fresh optimizer/schedule)")
    p.add_argument("--scale-drive", type=cli.positive_float, default=1.0,
                   help="multiply the starting K_drive (fresh or --init-from) by this: a stronger class drive lets "
                        "class conditioning emerge sooner (docs/training.md); not with --resume")
    p.add_argument("--num-steps", type=cli.int_range(1, MAX_STEPS), default=None,
                   help="Euler steps per run (default: the config's); a finer step at the same T (docs/analog.md)")
    p.add_argument("--probe-every", type=cli.nonneg_int, default=0,
                   help="every N steps (a multiple of --log-every) log the class probe of the settled phases "
                        "(model.class_probe, 50 starts per class): the loss value cannot show class progress")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def check_args(p: argparse.ArgumentParser, args) -> None:
    """Combinations that make no sense: one line and exit 2 (p.error) before any data is loaded."""
    from fixedpoint.files import check_output

    try:
        cfg = get_config(args.config)
        if args.out_dir is None:  # the default destinations, checked before hours of training
            check_output(str(Path("runs") / cfg.name), "--out-dir (default)", "dir")
    except ValueError as e:
        p.error(str(e))
    if args.num_pos > args.queue_size:
        p.error(f"--num-pos {args.num_pos} exceeds --queue-size {args.queue_size}")
    if args.probe_every and args.probe_every % args.log_every:
        p.error(f"--probe-every must be 0 (off) or a multiple of --log-every ({args.log_every}), got {args.probe_every}")
    if args.resume and (args.scale_drive != 1.0 or args.init_from):
        p.error("--resume continues a run; --scale-drive and --init-from start a new one")
    if args.device is not None:
        try:
            torch.empty(0, device=args.device)
        except (RuntimeError, ValueError) as e:
            p.error(f"--device {args.device!r} is not usable here ({str(e).splitlines()[0]})")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.precision == "bf16" and not device.startswith("cuda"):
        p.error("--precision bf16 is only supported on CUDA; use fp32")


def _dist_setup(device: str):
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Batcher:
    """Epoch-wise shuffled batches without replacement (drop_last), seeded per rank."""

    def __init__(self, ds: ImageDataset, batch: int, seed: int):
        if len(ds) < batch:
            raise ValueError(f"batch size {batch} exceeds the dataset size {len(ds)}")
        self.ds, self.batch, self.rng = ds, batch, np.random.default_rng(seed)
        self.order, self.pos = self.rng.permutation(len(ds)), 0

    def next(self):
        if self.pos + self.batch > len(self.order):
            self.order, self.pos = self.rng.permutation(len(self.ds)), 0
        idx = np.sort(self.order[self.pos:self.pos + self.batch])
        self.pos += self.batch
        x, y = self.ds.batch(idx)
        return torch.from_numpy(x), torch.from_numpy(y)


def train(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    rank, world = _dist_setup(device)
    if device.startswith("cuda") and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    precision = args.precision or ("bf16" if device.startswith("cuda") else "fp32")
    if precision == "bf16" and not device.startswith("cuda"):
        raise SystemExit("--precision bf16 is only supported on CUDA (CPU bf16 autocast is slow and untested); use fp32")
    if args.probe_every < 0 or (args.probe_every and args.probe_every % args.log_every):
        raise SystemExit(f"--probe-every must be 0 (off) or a multiple of --log-every ({args.log_every}), "
                         f"got {args.probe_every}")
    if not (math.isfinite(args.scale_drive) and args.scale_drive > 0):
        raise SystemExit(f"--scale-drive must be a positive number, got {args.scale_drive}")
    if args.scale_drive != 1.0 and args.resume:
        raise SystemExit("--scale-drive changes the starting weights; it cannot be combined with --resume")
    cfg = get_config(args.config)
    if args.num_steps is not None:
        if args.num_steps < 1:
            raise SystemExit(f"--num-steps must be >= 1, got {args.num_steps}")
        cfg = cfg.replace(num_steps=args.num_steps)
    data_name = args.data or cfg.dataset
    out_dir = Path(args.out_dir or Path("runs") / cfg.name)
    ckpt = Path(args.checkpoint or out_dir / f"{cfg.name}.safetensors")
    state_path = Path(args.train_state) if args.train_state else ckpt.with_name(ckpt.name + ".train-state.pt")
    samples_path = Path(args.samples or out_dir / "samples.png")
    log_path = Path(args.log or out_dir / "log.jsonl")
    torch.manual_seed(args.seed + rank)

    ds = load_dataset(data_name, "train", args.data_root, args.cache_dir, progress=rank == 0)
    if ds.image_size != cfg.image_size:
        raise SystemExit(f"dataset {data_name} has {ds.image_size}px images but config {cfg.name} makes "
                         f"{cfg.image_size}px images")
    if ds.num_classes > cfg.num_classes:
        raise SystemExit(f"dataset has {ds.num_classes} classes, config {cfg.name} only {cfg.num_classes}")

    if args.resume:
        if not ckpt.is_file() or not state_path.is_file():
            raise SystemExit(f"--resume needs {ckpt} and {state_path}; start without --resume")
        model = load_checkpoint(str(ckpt))
        if model.cfg != cfg:
            raise SystemExit(f"{ckpt} holds a different config than --config {cfg.name}: {_config_diff(model.cfg, cfg)}")
    elif args.init_from:
        model = load_checkpoint(args.init_from)
        if model.cfg != cfg:
            raise SystemExit(f"--init-from {args.init_from} holds a different config than --config {cfg.name}: "
                             f"{_config_diff(model.cfg, cfg)}")
    else:
        model = OscillatorGenerator(cfg)
    if args.scale_drive != 1.0:
        with torch.no_grad():
            model.dynamics.K_drive.mul_(args.scale_drive)
    model = model.to(device).train()
    lr = args.lr if args.lr is not None else PEAK_LR.get(cfg.name, DEFAULT_LR)
    opt = DecoupledAdamW(model.parameters(), lr=lr, betas=tuple(args.betas), weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.steps, args.warmup_frac))
    step = 0
    if args.resume:
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        step = int(st["step"])
        if int(st.get("total_steps", args.steps)) != args.steps:
            print(f"note: schedule length changed from {st.get('total_steps')} to {args.steps}", file=sys.stderr)
            sched.lr_lambdas[0] = lr_lambda(args.steps, args.warmup_frac)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.startswith("cuda") else None)

    extractor = build_extractor(args.extractor, cfg.image_size, args.effnet_resize, tuple(args.effnet_stages),
                                args.grid, args.dinov2_repo).to(device)
    layout = extractor.layout
    pixel_w = args.pixel_weight if args.pixel_weight is not None else (
        1.0 if args.extractor == "pixel" else PIXEL_WEIGHT_WITH_FEATURES)
    weights = group_weights(layout.groups, args.feature_weight, pixel_w)
    weights = {k: w for k, w in weights.items() if w > 0}
    queue = ClassQueue(cfg.num_classes, args.queue_size, (layout.total,), torch.float32, device)
    batcher = Batcher(ds, args.batch_size, args.seed + 1000 * rank + step)
    gen = torch.Generator().manual_seed(args.seed + 7 * rank + step)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16"
                else torch.autocast("cpu", enabled=False))

    def real_features(x):
        with torch.no_grad(), autocast:
            return {k: v.float() for k, v in extractor(x).items()}

    # fill the queue until every class has num_pos entries (as Un-0's batch 2048 does at step 1)
    classes_present = sorted(set(ds.labels.tolist()))
    for _ in range(1000):
        if all(queue.filled(c) >= args.num_pos for c in classes_present):
            break
        x, y = batcher.next()
        x, y = x.to(device), y.to(device)
        queue.push(layout.flatten(real_features(x)), y)

    meta = {"dataset": data_name, "extractor": args.extractor, "effnet_resize": args.effnet_resize,
            "batch_size": args.batch_size * world, "peak_lr": lr}
    is_main = rank == 0

    def checkpoint(final=False):
        if not is_main:
            return
        save_checkpoint(str(ckpt), model, extra_meta={**meta, "step": step, "total_steps": args.steps})
        save_torch_atomic({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                            "total_steps": args.steps, "args": json.dumps(vars(args), default=str)}, state_path)
        save_grid(sample_grid(model, cfg.num_classes, device=device), samples_path, nrow=10)

    log_path.parent.mkdir(parents=True, exist_ok=True)
    logf = open(log_path, "a") if is_main else None
    bar = None
    if is_main and not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=args.steps, initial=step, desc=f"train {cfg.name}", unit="step", dynamic_ncols=True)
    t0 = last_ckpt = time.time()
    t_log, n_log = time.time(), 0
    history, drift_history = [], []
    interrupted = False
    try:
        while step < args.steps:
            x, y = batcher.next()
            x, y = x.to(device), y.to(device)
            real = real_features(x)
            queue.push(layout.flatten(real), y)
            pos_flat = queue.positives(torch.unique(y).tolist(), args.num_pos, gen)
            positives = {c: layout.unflatten(v) for c, v in pos_flat.items()}
            with autocast:
                imgs = net(y, generator=None)
                fake = extractor(imgs)
            fake = {k: v.float() for k, v in fake.items()}
            loss, stats, valid = grouped_drifting_loss(fake, y, positives, real, y, weights, args.gamma, TEMPERATURES, gen)
            drift = sum(stats.get(f"drift/{g}", 0.0) * w for g, w in weights.items()) / sum(weights.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            opt.step()
            sched.step()
            step += 1
            n_log += args.batch_size * world
            lval = float(loss.detach())
            if not math.isfinite(lval):
                raise RuntimeError(f"loss became {lval} at step {step}; lower --lr")
            history.append(lval)
            drift_history.append(drift)
            if is_main and (step % args.log_every == 0 or step == args.steps):
                now = time.time()
                rec = {"step": step, "loss": lval, "drift": drift, "groups": stats, "valid_classes": valid,
                       "lr": sched.get_last_lr()[0], "grad_norm": float(gnorm), "samples_per_s": n_log / (now - t_log),
                       "elapsed_s": now - t0, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
                if args.probe_every and step % args.probe_every == 0:
                    probe = class_probe(model, per_class=50, seed=args.seed)
                    rec["class_probe"] = {k: probe[k] for k in ("readout", "circular")}
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                if bar is not None:
                    bar.set_postfix(loss=f"{lval:.4f}", drift=f"{drift:.3f}", sps=f"{rec['samples_per_s']:.1f}")
                t_log, n_log = now, 0
            if bar is not None:
                bar.update(1)
            out_of_time = args.max_minutes is not None and time.time() - t0 > args.max_minutes * 60
            if step % args.ckpt_every == 0 or time.time() - last_ckpt > args.ckpt_minutes * 60 or out_of_time:
                checkpoint()
                last_ckpt = time.time()
            if out_of_time:
                break
    except KeyboardInterrupt:  # keep what was trained: checkpoint the last finished step, then stop
        interrupted = True
        if bar is not None:
            bar.close()
            bar = None
        if is_main:
            print(f"interrupted at step {step}: saving the checkpoint ({ckpt}); continue with --resume",
                  file=sys.stderr, flush=True)
    checkpoint(final=True)
    if bar is not None:
        bar.close()
    if logf:
        logf.close()
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()
    return {"steps": step, "losses": history, "drift": drift_history, "checkpoint": str(ckpt), "model": model,
            "interrupted": interrupted}


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    check_args(p, args)
    try:
        res = train(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 130 if res["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
