"""How much of the class survives in the settled phases? A linear probe, independent of the decoder.

The generator sees the class only through the drive K_drive[c]; the decoder sees only the readout features. If a
linear classifier cannot tell the class from the features, the decoder has to learn a nonlinear (rotation-
invariant) readout first, which costs many training steps. The probe fits ridge regression to one-hot labels on
two feature sets of the same settled phases:

- ``readout``: exactly what the decoder gets (the config's relativization and encoding);
- ``circular``: sin/cos of theta_i minus the circular mean phase arg(sum_j exp(i theta_j)), which is exactly
  invariant to a global rotation. ``mean_relative`` subtracts the arithmetic mean of the *unwrapped* phases; from
  Uniform[-pi, pi) starts the phases' windings differ, so that mean leaves a random global rotation in the
  features, and a class pattern that ``circular`` shows can be invisible to a linear readout.

Usage: ``python -m model.class_probe --checkpoint checkpoints/cifar10-n1024.safetensors``.
"""

from __future__ import annotations

import json
import sys

import torch

from .checkpoint import load_checkpoint
from .un0 import OscillatorGenerator, uniform_phases


def circular_features(theta: torch.Tensor) -> torch.Tensor:
    """[sin ; cos] of theta minus its circular mean phase: invariant to any global rotation and winding."""
    psi = torch.atan2(torch.sin(theta).mean(1, keepdim=True), torch.cos(theta).mean(1, keepdim=True))
    return torch.cat([torch.sin(theta - psi), torch.cos(theta - psi)], dim=1)


def ridge_accuracy(x: torch.Tensor, y: torch.Tensor, num_classes: int, train_fraction: float = 2 / 3,
                   ridge: float = 1e-3) -> float:
    """Held-out accuracy of one-hot ridge regression (float64, standardised features, bias column)."""
    x = x.double()
    n_train = int(len(x) * train_fraction)
    mu, sd = x[:n_train].mean(0), x[:n_train].std(0).clamp_min(1e-9)
    x = torch.cat([(x - mu) / sd, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    t = torch.nn.functional.one_hot(y, num_classes).double()
    a = x[:n_train]
    w = torch.linalg.solve(a.T @ a + ridge * n_train * torch.eye(a.shape[1], dtype=a.dtype), a.T @ t[:n_train])
    return float(((x[n_train:] @ w).argmax(1) == y[n_train:]).double().mean())


def _first_oscillators(feats: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Columns of the first m oscillators from (B, k*n) features laid out in k blocks of n (sin block, cos block)."""
    return torch.cat([feats[:, b * n:b * n + m] for b in range(feats.shape[1] // n)], dim=1)


@torch.no_grad()
def class_probe(model: OscillatorGenerator, per_class: int = 200, seed: int = 0, max_oscillators: int = 1024) -> dict:
    """Settle ``per_class`` random starts per class (full drive) and probe both feature sets.

    Only the first ``max_oscillators`` main oscillators enter the regression, so the solve stays 2m x 2m
    (the readout features keep their sin and cos columns for those oscillators)."""
    cfg = model.cfg
    if per_class < 3:
        raise ValueError(f"per_class must be >= 3 (2/3 of the samples fit the probe, 1/3 score it), got {per_class}")
    if max_oscillators < 1:
        raise ValueError(f"max_oscillators must be >= 1, got {max_oscillators}")
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(cfg.num_classes).repeat(per_class)  # interleaved: every split holds every class
    device, dtype = model.dynamics.K.device, model.dynamics.K.dtype
    theta0 = uniform_phases(len(labels), cfg.state_size, g).to(device, dtype)  # drawn on the CPU: same on any device
    was_training = model.training
    model.eval()  # full drive, no class dropout
    theta = model.integrate(labels.to(device), theta0).double().cpu()
    model.train(was_training)
    m = min(cfg.n, max_oscillators)
    return {
        "samples": len(labels),
        "oscillators": m,
        "chance": 1.0 / cfg.num_classes,
        "readout": ridge_accuracy(_first_oscillators(model.features(theta.to(dtype)), cfg.n, m), labels,
                                  cfg.num_classes),
        "circular": ridge_accuracy(_first_oscillators(circular_features(theta[:, :cfg.n]), cfg.n, m), labels,
                                   cfg.num_classes),
        "relativization": cfg.relativization,
    }


def main(argv=None) -> int:
    from fixedpoint import cli

    from .checkpoint import CheckpointError

    p = cli.ArgumentParser(prog="python -m model.class_probe", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=cli.existing_file, required=True, help="our .safetensors checkpoint")
    p.add_argument("--per-class", type=cli.int_range(3, 100_000), default=200,
                   help="samples per class (2/3 fit, 1/3 scored)")
    p.add_argument("--seed", type=cli.seed, default=0, help="seed of the initial phases and the split (default 0)")
    p.add_argument("--max-oscillators", type=cli.int_range(1, 16384), default=1024,
                   help="probe only the first M main oscillators")
    p.add_argument("--threads", type=cli.int_range(1, 1024), default=None, help="torch threads (default: torch's)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        model = load_checkpoint(a.checkpoint).eval()
        res = class_probe(model, a.per_class, a.seed, a.max_oscillators)
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
