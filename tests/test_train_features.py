"""Feature extractors (offline weights, frozen, differentiable) and evaluation metric primitives."""
import numpy as np
import pytest
import torch

from model.evaluate import frechet_distance, inception_path, kernel_inception_distance, preprocess_299
from model.features import FeatureLayout, PixelExtractor, build_extractor, dino_views


def test_effnet_views_are_frozen_normalised_and_pass_gradients():
    ex = build_extractor("effnet", 32, effnet_resize=64)
    names = [g[0] for g in ex.groups]
    assert names == ["effnet_s3", "effnet_s5", "effnet_s7", "effnet_head", "pixel"]
    assert dict((n, (v, d)) for n, v, d in ex.groups)["effnet_s3"] == (16, 40)
    assert not any(p.requires_grad for p in ex.parameters())
    ex.train()  # must stay in eval mode (frozen BatchNorm statistics)
    assert not any(m.training for m in ex.modules())
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    f = ex(x)
    assert torch.allclose(f["effnet_head"].norm(dim=-1), torch.ones(2, 1), atol=1e-4)
    assert (f["effnet_s3"].norm(dim=-1) <= 1 + 1e-4).all()  # mean of unit vectors
    sum(v.square().sum() for v in f.values()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    flat = ex.layout.flatten(f)
    assert flat.shape == (2, ex.layout.total)
    back = ex.layout.unflatten(flat)
    assert all(torch.equal(back[k], f[k]) for k in f)
    # different images -> different features (the weights really loaded: outputs depend on the input)
    assert not torch.allclose(f["effnet_head"][0], f["effnet_head"][1])


def test_pixel_and_dino_view_shapes():
    assert PixelExtractor(32)(torch.zeros(3, 3, 32, 32))["pixel"].shape == (3, 1, 3072)
    layers = [(torch.randn(2, 256, 384), torch.randn(2, 384)) for _ in range(4)]
    v = dino_views(layers)["dino"]
    assert v.shape == (2, 68, 384)  # Un-0: 4 layers x (16 pooled patch views + CLS)
    assert torch.allclose(v[:, 16].norm(dim=-1), torch.ones(2), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        build_extractor("dinov2:/nonexistent/dinov2_vits14.pth", 32)
    with pytest.raises(ValueError, match="unknown extractor"):
        build_extractor("clip", 32)
    assert FeatureLayout((("a", 2, 3), ("b", 1, 4))).total == 10


def test_frechet_and_kid_behave():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    c = rng.normal(loc=1.0, size=(400, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, c) == pytest.approx(8.0, rel=0.25)  # ||mu||^2 = 8
    assert frechet_distance(a, b) < 0.5
    kid_same, _ = kernel_inception_distance(a, b, num_subsets=20, subset_size=200)
    kid_diff, _ = kernel_inception_distance(a, c, num_subsets=20, subset_size=200)
    assert abs(kid_same) < 0.05 and kid_diff > 1.0


def test_inception_preprocessing():
    assert inception_path().stat().st_size > 80_000_000
    u = np.full((1, 3, 32, 32), 128, dtype=np.uint8)
    x = preprocess_299(u)
    assert x.shape == (1, 3, 299, 299) and torch.allclose(x, torch.zeros_like(x), atol=1e-6)
    u[0, 0] = 255
    assert preprocess_299(u)[0, 0].max().item() == pytest.approx(127 / 128, abs=1e-5)
