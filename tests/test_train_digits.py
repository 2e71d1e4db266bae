"""End-to-end: a short drifting-loss run on sklearn digits improves the generator (CPU, seconds)."""
import json

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from model.data import load_digits
from model.train import DecoupledAdamW, build_parser, lr_lambda, train


def _nearest_centroid_accuracy(model, ds, n_per_class=30, seed=0):
    x, y = ds.batch(np.arange(len(ds)))
    centroids = np.stack([x[y == c].reshape((y == c).sum(), -1).mean(0) for c in range(10)])
    labels = torch.arange(10).repeat_interleave(n_per_class)
    model.eval()
    with torch.no_grad():
        g = model(labels, generator=torch.Generator().manual_seed(seed)).reshape(len(labels), -1).numpy()
    pred = ((g[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    nearest_real = np.sqrt(((g[:, None, :] - x.reshape(len(x), -1)[None, ::4]) ** 2).sum(-1)).min(1).mean()
    return float((pred == labels.numpy()).mean()), float(nearest_real)


def test_short_digits_run_lowers_loss_and_lifts_accuracy(tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "run"
    args = build_parser().parse_args([
        "--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--steps", "60",
        "--batch-size", "100", "--lr", "1e-2", "--queue-size", "128", "--num-pos", "32", "--threads", "2",
        "--out-dir", str(out), "--log-every", "5", "--no-progress", "--seed", "0"])
    res = train(args)
    model = res["model"]
    losses = res["losses"]
    assert res["steps"] == 60 and len(losses) == 60
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:10]), (losses[:10], losses[-10:])
    ds = load_digits("train")
    acc, dist = _nearest_centroid_accuracy(model, ds)
    init_acc, init_dist = _nearest_centroid_accuracy(type(model)(model.cfg), ds)
    assert acc > 0.5 and acc > init_acc + 0.2, (acc, init_acc)
    assert dist < 0.8 * init_dist, (dist, init_dist)
    # outputs: checkpoint that reloads to the same model, optimizer state, grid, log
    again = load_checkpoint(res["checkpoint"])
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    state = torch.load(out / "digits-n64.safetensors.train-state.pt", weights_only=True)
    assert state["step"] == 60 and "state" in state["optimizer"]
    assert (out / "samples.png").stat().st_size > 0
    recs = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(5, 61, 5)) and recs[-1]["valid_classes"] == 10


def test_resume_continues_step_and_schedule(tmp_path):
    common = ["--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--batch-size", "50",
              "--queue-size", "64", "--num-pos", "16", "--out-dir", str(tmp_path), "--no-progress", "--steps", "6"]
    train(build_parser().parse_args(common + ["--max-minutes", "0"]))  # stops (and checkpoints) after 1 step
    st = torch.load(tmp_path / "digits-n64.safetensors.train-state.pt", weights_only=True)
    assert st["step"] == 1
    res = train(build_parser().parse_args(common + ["--resume"]))
    assert res["steps"] == 6 and len(res["losses"]) == 5
    st = torch.load(tmp_path / "digits-n64.safetensors.train-state.pt", weights_only=True)
    assert st["step"] == 6 and st["scheduler"]["last_epoch"] == 6


def test_decoupled_weight_decay_and_schedule():
    p = torch.nn.Parameter(torch.ones(3))
    opt = DecoupledAdamW([p], lr=0.1, weight_decay=0.5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(10, 0.2))
    assert [round(f, 3) for f in map(lr_lambda(10, 0.2), range(11))] == [
        0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0]
    p.grad = torch.zeros(3)  # zero gradient: only the decay acts; Adam's update is 0
    opt.step()
    sched.step()
    # step 0 ran at lr = 0.05 = initial_lr/2 -> p *= 1 - 0.5 * 0.5
    assert torch.allclose(p.detach(), torch.full((3,), 0.75))


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="resume needs"):
        train(build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--steps", "1",
                                         "--out-dir", str(tmp_path), "--resume", "--extractor", "pixel"]))
    with pytest.raises(SystemExit, match="bf16"):
        train(build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--steps", "1", "--device",
                                         "cpu", "--precision", "bf16", "--out-dir", str(tmp_path)]))
    with pytest.raises(ValueError, match="unknown extractor"):
        train(build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--steps", "1",
                                         "--out-dir", str(tmp_path), "--extractor", "clip"]))
