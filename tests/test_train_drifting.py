"""Drifting loss and queue: behaviour checks (un0-model.md §9-§10)."""

import pytest
import torch

from model.drifting import (ClassQueue, class_drifting_loss, drift_field, drifting_loss, grouped_drifting_loss,
                            num_other_negatives)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mixture(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[3.0, 3.0], [-3.0, 3.0], [0.0, -3.0]])
    idx = torch.randint(0, 3, (n,), generator=g)
    return centers[idx] + 0.3 * torch.randn(n, 2, generator=g), centers


def _chamfer(a, b):
    return torch.cdist(a, b).min(dim=1).values.mean().item()


def test_following_drift_moves_points_onto_the_data():
    data, centers = _mixture(600, 0)
    gen = torch.randn(150, 2, generator=torch.Generator().manual_seed(1)) * 0.5
    before = _chamfer(gen, data)
    for _ in range(150):
        v = sum(drift_field(gen[:, None], data[:, None]))[:, 0]
        gen = gen + 0.05 * v
    after = _chamfer(gen, data)
    assert before > 2.0 and after < 0.3, (before, after)
    # every mode gets some generated points (the negative term spreads them out instead of collapsing)
    nearest = torch.cdist(gen, centers).argmin(dim=1)
    assert set(nearest.tolist()) == {0, 1, 2}


def test_gradient_descent_on_the_loss_is_the_drift():
    data, _ = _mixture(200, 2)
    gen = torch.randn(40, 1, 2, requires_grad=True)
    loss = class_drifting_loss(gen, data[:, None], None)
    loss.backward()
    v = sum(drift_field(gen.detach(), data[:, None]))
    # dL/dG = -2 V / (n_g D) summed over temperatures
    assert torch.allclose(gen.grad, -2 * v / (40 * 2), atol=1e-6)


def test_drift_is_unit_mean_norm_and_self_is_masked():
    g = torch.randn(16, 3, 8)
    p = torch.randn(32, 3, 8)
    for v in drift_field(g, p, torch.randn(4, 3, 8)):
        assert v.shape == g.shape
        assert torch.allclose(v.norm(dim=2).mean(dim=0), torch.ones(3), atol=1e-5)
    # a gen placed exactly on the only positive, with everything else far away, gets no push from itself
    gen = torch.tensor([[[0.0, 0.0]], [[10.0, 10.0]]])
    v = drift_field(gen, torch.tensor([[[0.0, 0.0]]]), None, temperatures=(0.05,))[0]
    assert torch.isfinite(v).all()


def test_other_class_negative_count():
    assert num_other_negatives(205, 1000) == 51  # Un-0 CIFAR: gamma 0.2 -> ~51 per class
    assert num_other_negatives(205, 10) == 10
    assert num_other_negatives(32, 100) == 8


def test_loss_skips_classes_without_positives_and_stays_connected():
    gen = torch.randn(8, 2, 4, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss, valid = drifting_loss(gen, labels, {}, torch.randn(8, 2, 4), labels)
    assert valid == 0 and loss.item() == 0.0
    loss.backward()
    assert gen.grad is not None and torch.count_nonzero(gen.grad) == 0
    loss, valid = drifting_loss(gen, labels, {1: torch.randn(5, 2, 4)}, torch.randn(8, 2, 4), labels)
    assert valid == 1 and loss.item() > 0


def test_grouped_loss_weights_groups():
    torch.manual_seed(0)
    labels = torch.tensor([0] * 6 + [1] * 6)
    gen = {"a": torch.randn(12, 2, 3), "b": torch.randn(12, 1, 5)}
    real = {"a": torch.randn(12, 2, 3), "b": torch.randn(12, 1, 5)}
    pos = {c: {"a": torch.randn(7, 2, 3), "b": torch.randn(7, 1, 5)} for c in (0, 1)}
    l1, per, valid = grouped_drifting_loss(gen, labels, pos, real, labels, {"a": 1.0, "b": 0.0},
                                           generator=torch.Generator().manual_seed(0))
    l2, _, _ = grouped_drifting_loss(gen, labels, pos, real, labels, {"a": 1.0, "b": 1.0},
                                     generator=torch.Generator().manual_seed(0))
    assert valid == 2 and set(per) == {"loss/a", "loss/b", "drift/a", "drift/b"}
    assert l2.item() == pytest.approx(l1.item() + per["loss/b"], rel=1e-5)


def test_queue_fifo_overwrite_and_class_separation():
    q = ClassQueue(num_classes=3, capacity=4, feature_shape=(1,))
    feats = torch.arange(10, dtype=torch.float32)[:, None]
    labels = torch.tensor([0, 1, 0, 0, 0, 0, 1, 2, 0, 0])
    q.push(feats, labels)
    # class 0 got 0,2,3,4,5,8,9 -> ring of 4 keeps the newest four: 4,5,8,9
    assert sorted(q.data[0, :, 0].tolist()) == [4.0, 5.0, 8.0, 9.0]
    assert q.filled(0) == 4 and q.filled(1) == 2 and q.filled(2) == 1
    assert sorted(q.sample(1, 10)[:, 0].tolist()) == [1.0, 6.0]
    assert q.sample(2, 5)[:, 0].tolist() == [7.0]
    q.push(torch.tensor([[100.0]]), torch.tensor([0]))  # overwrites the oldest (4)
    assert sorted(q.data[0, :, 0].tolist()) == [5.0, 8.0, 9.0, 100.0]


def test_queue_samples_without_replacement():
    q = ClassQueue(num_classes=1, capacity=64, feature_shape=(1,))
    q.push(torch.arange(64, dtype=torch.float32)[:, None], torch.zeros(64, dtype=torch.long))
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        s = q.sample(0, 64, g)[:, 0]
        assert len(set(s.tolist())) == 64
    pos = q.positives([0], 65)
    assert pos == {}  # fewer than k filled -> class not valid
    with pytest.raises(ValueError, match="labels must be in"):
        q.push(torch.zeros(1, 1), torch.tensor([3]))
    with pytest.raises(ValueError, match="shape"):
        q.push(torch.zeros(1, 2), torch.tensor([0]))
