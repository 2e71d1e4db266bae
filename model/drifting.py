"""Drifting loss (Deng et al., arXiv 2602.04770) as Un-0 uses it, and the per-class FIFO queue of real features.

The equations follow the paper and Un-0's use of it (github.com/unconv-ai/Un-0, commit 11628e7) step by step;
the code is our own.

For one class c with generated features G (n_g, V, D), positives P (n_p, V, D) and other-class reals O (n_o, V, D):
negatives N = [G ; O]; Euclidean distances G<->P and G<->N, divided by their mean (self pairs excluded, detached), a
gen's distance to itself + 1e6; for each temperature tau: A = sqrt(softmax_row(-d/tau) * softmax_col(-d/tau)),
split into A_P | A_N, W_P = A_P * rowsum(A_N), W_N = A_N * rowsum(A_P), V = W_P P - W_N N, V /= mean_i ||V_i||;
target = G + V (detached); loss_c = sum_tau mean_views mean (G - target)^2.  Final loss: mean over valid classes.
The gradient of loss_c w.r.t. a generated feature is -2 V / (n_g D) per tau: gradient descent moves G along V.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

#: Un-0's temperatures and gamma (un0-model.md §9).
TEMPERATURES = (0.02, 0.05, 0.2)
GAMMA = 0.2
SELF_MASK = 1e6
EPS = 1e-12


def drift_field(gen: torch.Tensor, pos: torch.Tensor, other: torch.Tensor | None = None,
                temperatures=TEMPERATURES, return_raw_norm: bool = False):
    """Normalized drift V per temperature for one class.

    gen (n_g, V, D), pos (n_p, V, D), other (n_o, V, D) or None; all treated as constants (no gradient).
    Returns one (n_g, V, D) tensor per temperature, each with mean L2 norm over the gens equal to 1 (per view).
    Distances are scaled per view (views live in different feature spaces).
    With ``return_raw_norm`` also returns the mean ||V|| before normalisation divided by the distance scale,
    averaged over temperatures and views: a scale-free measure of how far the gens are from equilibrium
    (V = 0 when the generated and real distributions coincide), which the loss value itself hides."""
    g = gen.detach().float().transpose(0, 1)  # (V, n_g, D)
    p = pos.detach().float().transpose(0, 1)  # (V, n_p, D)
    n_g, n_p = g.shape[1], p.shape[1]
    neg = g if other is None or other.shape[0] == 0 else torch.cat([g, other.detach().float().transpose(0, 1)], 1)
    d_pos = torch.cdist(g, p)  # (V, n_g, n_p)
    d_neg = torch.cdist(g, neg)  # (V, n_g, n_g + n_o)
    # mean of all distances except the n_g self pairs (their distance is 0 up to rounding)
    eye = torch.zeros_like(d_neg)
    eye[:, torch.arange(n_g), torch.arange(n_g)] = 1.0
    total = d_pos.sum(dim=(1, 2)) + (d_neg * (1 - eye)).sum(dim=(1, 2))
    count = d_pos.shape[1] * d_pos.shape[2] + d_neg.shape[1] * d_neg.shape[2] - n_g
    scale = (total / max(count, 1)).clamp_min(EPS)[:, None, None]
    d = torch.cat([d_pos, d_neg], dim=2) / scale
    d = d + SELF_MASK * torch.cat([torch.zeros_like(d_pos), eye], dim=2)
    out, raw = [], []
    for tau in temperatures:
        logits = -d / tau
        a = torch.sqrt((torch.softmax(logits, dim=2) * torch.softmax(logits, dim=1)).clamp_min(EPS))
        a_p, a_n = a[:, :, :n_p], a[:, :, n_p:]
        w_p = a_p * a_n.sum(dim=2, keepdim=True)
        w_n = a_n * a_p.sum(dim=2, keepdim=True)
        v = w_p @ p - w_n @ neg  # (V, n_g, D)
        norm = v.norm(dim=2).mean(dim=1)  # (V,)
        raw.append((norm / scale[:, 0, 0]).mean())
        v = v / norm.clamp_min(EPS)[:, None, None]
        out.append(v.transpose(0, 1))
    if return_raw_norm:
        return out, torch.stack(raw).mean()
    return out


def class_drifting_loss(gen: torch.Tensor, pos: torch.Tensor, other: torch.Tensor | None = None,
                        temperatures=TEMPERATURES, return_raw_norm: bool = False):
    """Loss for one class: sum over tau of mean over views of mean over (gens, dims) of (G - sg(G + V))^2.

    With ``return_raw_norm``: (loss, relative raw drift norm) (see :func:`drift_field`)."""
    fields, raw = drift_field(gen, pos, other, temperatures, return_raw_norm=True)
    g = gen.float()
    loss = g.new_zeros(())
    for v in fields:
        target = (g.detach() + v).detach()
        loss = loss + ((g - target) ** 2).mean(dim=(0, 2)).mean()
    return (loss, raw) if return_raw_norm else loss


def num_other_negatives(n_g: int, available: int, gamma: float = GAMMA) -> int:
    """n_o = min(round(n_g * gamma / (1 - gamma)), available) (mixture (1-gamma) q(.|c) + gamma p_data)."""
    return int(min(round(n_g * gamma / (1.0 - gamma)), available))


def drifting_loss(gen_feats: torch.Tensor, gen_labels: torch.Tensor, positives: dict[int, torch.Tensor],
                  real_feats: torch.Tensor, real_labels: torch.Tensor, gamma: float = GAMMA,
                  temperatures=TEMPERATURES, generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
    """Per-class drifting loss averaged over valid classes.

    gen_feats (B, V, D) live generated features; gen_labels (B,); positives: class -> (n_p, V, D) real features
    (classes missing or with 0 positives are skipped); real_feats/real_labels: the current real batch, the pool of
    gamma-negatives (other-class reals). Returns (loss, number of valid classes); the loss is a graph-connected zero
    when no class is valid."""
    losses = []
    for c in torch.unique(gen_labels).tolist():
        pos = positives.get(int(c))
        if pos is None or pos.shape[0] == 0:
            continue
        g = gen_feats[gen_labels == c]
        others = real_feats[real_labels != c]
        n_o = num_other_negatives(g.shape[0], others.shape[0], gamma)
        if n_o > 0:
            pick = torch.randperm(others.shape[0], generator=generator, device="cpu")[:n_o].to(others.device)
            o = others[pick]
        else:
            o = None
        losses.append(class_drifting_loss(g, pos, o, temperatures))
    if not losses:
        return gen_feats.sum() * 0.0, 0
    return torch.stack(losses).mean(), len(losses)


@dataclass
class ClassQueue:
    """Per-class FIFO ring buffer of real features (Un-0 CIFAR: 2048 slots per class, 64 positives drawn).

    ``push`` writes a batch (oldest slots are overwritten once a class is full); ``sample`` draws without
    replacement among the filled slots of one class. Features are stored in ``dtype`` (fp32 by default)."""

    num_classes: int
    capacity: int
    feature_shape: tuple
    dtype: torch.dtype = torch.float32
    device: str | torch.device = "cpu"

    def __post_init__(self):
        if self.num_classes < 1 or self.capacity < 1:
            raise ValueError(f"num_classes and capacity must be >= 1, got {self.num_classes}, {self.capacity}")
        self.feature_shape = tuple(self.feature_shape)
        self.data = torch.zeros((self.num_classes, self.capacity) + self.feature_shape, dtype=self.dtype,
                                device=self.device)
        self.ptr = torch.zeros(self.num_classes, dtype=torch.long)
        self.count = torch.zeros(self.num_classes, dtype=torch.long)

    @torch.no_grad()
    def push(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        if tuple(feats.shape[1:]) != self.feature_shape:
            raise ValueError(f"queue holds features of shape {self.feature_shape}, got {tuple(feats.shape[1:])}")
        labels = labels.detach().cpu().long()
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got range [{labels.min()}, {labels.max()}]")
        for c in torch.unique(labels).tolist():
            rows = feats[(labels == c).to(feats.device)].detach().to(self.device, self.dtype)
            rows = rows[-self.capacity:]  # only the newest `capacity` can survive
            k = rows.shape[0]
            slots = (self.ptr[c] + torch.arange(k)) % self.capacity
            self.data[c, slots.to(self.device)] = rows
            self.ptr[c] = (self.ptr[c] + k) % self.capacity
            self.count[c] = min(int(self.count[c]) + k, self.capacity)

    def filled(self, c: int) -> int:
        return int(self.count[c])

    def sample(self, c: int, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """k distinct filled slots of class c (fewer if fewer are filled), as float32."""
        n = self.filled(c)
        idx = torch.randperm(n, generator=generator)[:k]
        return self.data[c, idx.to(self.device)].float()

    def positives(self, classes, k: int, generator: torch.Generator | None = None, min_count: int | None = None
                  ) -> dict[int, torch.Tensor]:
        """Positives for each class that has at least ``min_count`` (default k) filled slots."""
        need = k if min_count is None else min_count
        return {int(c): self.sample(int(c), k, generator) for c in classes if self.filled(int(c)) >= need}


def grouped_drifting_loss(gen: dict, gen_labels: torch.Tensor, positives: dict, real: dict, real_labels: torch.Tensor,
                          weights: dict, gamma: float = GAMMA, temperatures=TEMPERATURES,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict, int]:
    """Drifting loss over several feature groups (each (B, V_g, D_g), e.g. pixel view and extractor layers).

    Per class the same positives (queue rows) and the same gamma-negatives (other-class reals of the current batch)
    are used for every group; loss_c = sum_g weights[g] * class_drifting_loss(group g); final = mean over valid
    classes. ``positives``: class -> {group: (n_p, V_g, D_g)}. Returns (loss, stats, valid classes) with stats
    {"loss/<group>": mean loss, "drift/<group>": mean relative raw drift norm} over the valid classes."""
    total, per_group, drift, valid = [], {g: [] for g in weights}, {g: [] for g in weights}, 0
    any_feat = next(iter(gen.values()))
    for c in torch.unique(gen_labels).tolist():
        pos = positives.get(int(c))
        if pos is None:
            continue
        gmask = gen_labels == c
        other_idx = torch.nonzero(real_labels != c).flatten()
        n_o = num_other_negatives(int(gmask.sum()), int(other_idx.numel()), gamma)
        pick = other_idx[torch.randperm(other_idx.numel(), generator=generator, device="cpu")[:n_o].to(other_idx.device)]
        loss_c = any_feat.new_zeros((), dtype=torch.float32)
        for g, w in weights.items():
            o = real[g][pick] if n_o > 0 else None
            lg, raw = class_drifting_loss(gen[g][gmask], pos[g], o, temperatures, return_raw_norm=True)
            per_group[g].append(lg.detach())
            drift[g].append(raw)
            loss_c = loss_c + w * lg
        total.append(loss_c)
        valid += 1
    if not total:
        return sum(v.sum() for v in gen.values()) * 0.0, {}, 0
    stats = {f"loss/{g}": float(torch.stack(v).mean()) for g, v in per_group.items() if v}
    stats.update({f"drift/{g}": float(torch.stack(v).mean()) for g, v in drift.items() if v})
    return torch.stack(total).mean(), stats, valid
