"""Sample images from a checkpoint (or a randomly initialised config) and visualise the dynamics.

    python -m model.sample --checkpoint checkpoints/cifar10-n1024.safetensors --class cat --n 16 \
        --seed 0 --out grid.png [--steps-strip strip.png] [--gif traj.gif] [--order-plot r.png]
    python -m model.sample --config cifar10-n64 --n 8 --out random_init.png     # untrained weights

--checkpoint accepts our .safetensors files and Un-0 .pt files (loaded with torch's safe unpickler).
--class takes a name (any synonym, any case), an index, a comma-separated list, or is omitted to
cycle through every class. Initial phases for all N images are drawn up front from one seeded
stream (fixedpoint.golden.initial_radians), so the images do not depend on --batch-size and a seed
gives the float model exactly the initial phases it gives every board (host.run --seed).
"""

from __future__ import annotations

import os
import sys

import torch
from tqdm import tqdm

from fixedpoint import cli
from fixedpoint.files import RescuingSaver

from .classes import resolve_class
from .config import get_config
from .un0 import OscillatorGenerator, order_parameter, to_unit_range

MAX_TRAJECTORY_SAMPLES = 8  # strip / GIF / order plot use at most this many samples
MAX_SAMPLES = 100_000  # images one run may ask for (kept in memory for the grid)


def load_model(checkpoint: str | None, config: str | None, seed: int = 0) -> OscillatorGenerator:
    if (checkpoint is None) == (config is None):
        raise ValueError("give exactly one of --checkpoint PATH or --config NAME")
    if checkpoint is not None:
        from .checkpoint import import_un0, load_checkpoint

        if checkpoint.endswith((".pt", ".pth")):
            return import_un0(checkpoint)
        return load_checkpoint(checkpoint)
    torch.manual_seed(seed)
    return OscillatorGenerator(get_config(config)).eval()


def parse_classes(spec: str | None, model: OscillatorGenerator, n: int) -> torch.Tensor:
    cfg = model.cfg
    if spec is None or spec.strip().lower() == "all":
        ids = [i % cfg.num_classes for i in range(n)]
    else:
        names = [s for s in spec.split(",") if s.strip()] if "," in spec else [spec]
        resolved = [resolve_class(s.strip(), cfg.dataset, cfg.num_classes) for s in names]
        ids = [resolved[i % len(resolved)] for i in range(n)]
    return torch.tensor(ids, dtype=torch.long)


def seeded_phases(seed: int, n: int, state_size: int) -> torch.Tensor:
    """(n, state_size) float64 initial phases in [-pi, pi): the boards' seeded draw (initial_radians), in radians."""
    from fixedpoint.golden import initial_radians

    return torch.from_numpy(initial_radians(seed, n, state_size))


@torch.no_grad()
def generate(model: OscillatorGenerator, class_ids: torch.Tensor, seed: int = 0, batch_size: int = 64,
             progress: bool = True) -> torch.Tensor:
    """Images in [0, 1], (N, 3, H, W); deterministic for a seed whatever the batch size."""
    theta0 = seeded_phases(seed, len(class_ids), model.cfg.state_size)  # on CPU: same for any device
    dev = model.dynamics.K.device
    out = []
    starts = range(0, len(class_ids), batch_size)
    for s in tqdm(starts, desc="sampling", unit="batch", disable=not progress):
        th = theta0[s: s + batch_size].to(dev, model.dynamics.K.dtype)
        out.append(to_unit_range(model(class_ids[s: s + batch_size].to(dev), th)).cpu())
    return torch.cat(out) if out else torch.empty(0, 3, model.cfg.image_size, model.cfg.image_size)


@torch.no_grad()
def float_phases(model: OscillatorGenerator, class_ids, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The float reference from the boards' seeded start: settled phases (N, n + n_cond) in radians (float64,
    unwrapped) and images (N, 3, H, W) in [-1, 1]. Row i starts from row i of seed's draw, as on a board."""
    class_ids = torch.as_tensor(class_ids, dtype=torch.long)
    theta0 = seeded_phases(seed, len(class_ids), model.cfg.state_size)
    dev, dtype = model.dynamics.K.device, model.dynamics.K.dtype
    theta = model.integrate(class_ids.to(dev), theta0.to(dev, dtype))
    return theta.double().cpu(), model.decode(model.features(theta)).double().cpu()


@torch.no_grad()
def trajectory(model: OscillatorGenerator, class_ids: torch.Tensor, seed: int = 0):
    """Per-step decoded images (steps+1, S, 3, H, W) in [0, 1] and order parameter r (steps+1, S)."""
    theta0 = seeded_phases(seed, len(class_ids), model.cfg.state_size)  # on CPU: same for any device
    s = min(len(class_ids), MAX_TRAJECTORY_SAMPLES)
    dev = model.dynamics.K.device
    traj = model.integrate(class_ids[:s].to(dev), theta0[:s].to(dev, model.dynamics.K.dtype), return_trajectory=True)
    frames = torch.stack([to_unit_range(model.decode(model.features(x))) for x in traj]).cpu()
    r = order_parameter(traj[..., : model.cfg.n]).cpu()
    return frames, r


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m model.sample", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=cli.existing_file, help="our .safetensors checkpoint or an Un-0 .pt file")
    src.add_argument("--config", help="config name (random initialisation), e.g. cifar10-n64")
    ap.add_argument("--class", dest="cls", default=None,
                    help="class name/index, comma-separated list, or 'all' (default: cycle all classes)")
    ap.add_argument("--n", type=cli.int_range(1, MAX_SAMPLES), default=16, help="number of images (default 16)")
    ap.add_argument("--seed", type=cli.seed, default=0,
                    help="initial-phase seed; host.run --seed gives a board the same start")
    ap.add_argument("--out", type=cli.output_file(cli.IMAGE_FORMATS), required=True,
                    help=f"image grid, {cli.formats_text(cli.IMAGE_FORMATS)}")
    ap.add_argument("--nrow", type=cli.int_range(1, MAX_SAMPLES), default=None,
                    help="images per grid row (default ~sqrt(n))")
    ap.add_argument("--scale", type=cli.int_range(1, 16), default=2, help="pixel zoom of the saved grid (default 2)")
    ap.add_argument("--batch-size", type=cli.int_range(1, 65536), default=64,
                    help="images per forward pass (default 64; results do not depend on it)")
    ap.add_argument("--steps-strip", type=cli.output_file(cli.IMAGE_FORMATS), default=None,
                    help=f"decoded image after every solver step, {cli.formats_text(cli.IMAGE_FORMATS)}")
    ap.add_argument("--gif", type=cli.output_file(cli.GIF_FORMATS), default=None,
                    help=".gif of the decoded grid over the solver steps")
    ap.add_argument("--order-plot", type=cli.output_file(cli.FIGURE_FORMATS), default=None,
                    help=f"plot of the order parameter r(t), {cli.formats_text(cli.FIGURE_FORMATS)}")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = ap.parse_args(argv)
    outs = [p for p in (args.out, args.steps_strip, args.gif, args.order_plot) if p]
    if len({os.path.abspath(p) for p in outs}) < len(outs):
        ap.error("two of --out, --steps-strip, --gif, --order-plot name the same file")
    if args.config is not None:
        try:
            get_config(args.config)
        except ValueError as e:
            ap.error(str(e))
    try:
        torch.empty(0, device=args.device)
    except (RuntimeError, ValueError) as e:
        ap.error(f"--device {args.device!r} is not usable here ({str(e).splitlines()[0]})")

    from .checkpoint import CheckpointError
    from .plots import save_gif, save_grid, save_order_plot, save_strip

    try:
        model = load_model(args.checkpoint, args.config, args.seed).to(args.device)
        class_ids = parse_classes(args.cls, model, args.n)
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save = RescuingSaver()  # a destination that fails after the work: the result goes to a rescue file

    images = generate(model, class_ids, args.seed, args.batch_size)
    out = save(args.out, lambda p: save_grid(images, p, nrow=args.nrow, scale=args.scale), "--out")
    print(f"wrote {out} ({cli.counted(args.n, 'image')}, {model.cfg.name}, seed {args.seed})")
    if args.steps_strip or args.gif or args.order_plot:
        frames, r = trajectory(model, class_ids, args.seed)
        cfg = model.cfg
        what = f"{cfg.name} float · seed {args.seed}"
        if args.steps_strip:
            out = save(args.steps_strip, lambda p: save_strip(frames, p, scale=args.scale, dt=cfg.dt, title=what),
                       "--steps-strip")
            print(f"wrote {out} (rows: samples, columns: steps 0..{model.cfg.num_steps})")
        if args.gif:
            out = save(args.gif, lambda p: save_gif(frames, p, scale=args.scale, dt=cfg.dt, title=what), "--gif")
            print(f"wrote {out}")
        if args.order_plot:
            times = [k * cfg.dt for k in range(cfg.num_steps + 1)]
            from .classes import class_names

            names = class_names(cfg.dataset)
            labels = [names[int(c)] if int(c) < len(names) else str(int(c)) for c in class_ids[: r.shape[1]]]
            out = save(args.order_plot, lambda p: save_order_plot(
                times, r.numpy(), p, title=f"{what}: Kuramoto order parameter, main oscillators", labels=labels,
                n_main=cfg.n), "--order-plot")
            print(f"wrote {out}")
    return int(save.rescued)


if __name__ == "__main__":
    sys.exit(main())
