"""End-to-end: a short drifting-loss run on sklearn digits improves the generator (CPU, seconds)."""
import json

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from model.data import load_digits
from model.drifting import ClassQueue, grouped_drifting_loss
from model.train import DecoupledAdamW, build_parser, lr_lambda, train
from model.un0 import OscillatorGenerator


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pooled(images):
    """(N, 3, 32, 32) in [-1, 1] -> (N, 64): grey 8x8, the digits' native resolution."""
    x = torch.as_tensor(images).float().mean(1, keepdim=True)
    return torch.nn.functional.avg_pool2d(x, 4).reshape(len(x), -1).numpy().astype(np.float64)


def _class_mmd(gen, gen_labels, real, real_labels):
    """Mean over classes of the squared MMD (Gaussian kernel, median-distance bandwidth) between the class's
    samples and its real digits: zero only when every class's distribution matches."""
    d2 = ((real[:, None] - real[None]) ** 2).sum(-1)
    h = np.median(d2[d2 > 0])
    k = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / h)
    out = []
    for c in range(10):
        g, r = gen[gen_labels == c], real[real_labels == c]
        out.append(k(g, g).mean() + k(r, r).mean() - 2 * k(g, r).mean())
    return float(np.mean(out))


def _sample_metrics(model, real, real_labels, clf, n_per_class=30, seed=0):
    labels = torch.arange(10).repeat_interleave(n_per_class)
    model.eval()
    with torch.no_grad():
        g = _pooled(model(labels, generator=torch.Generator().manual_seed(seed)))
    acc = float((clf.predict(g) == labels.numpy()).mean())
    nearest = float(np.sqrt(((g[:, None] - real[None]) ** 2).sum(-1)).min(1).mean())
    return acc, _class_mmd(g, labels.numpy(), real, real_labels), nearest


def test_short_digits_run_learns_the_classes(tmp_path):
    """200 steps of the real training command on digits (pixel view, ~1 min on one core). The class accuracy of the
    samples, judged by a classifier fitted on real digits, must rise well above chance (0.1), and the class-
    conditional MMD to the real digits (the distance the drifting loss drives to zero) must fall. The drifting loss
    value itself is ~constant by construction (V is normalised to unit mean norm), so it cannot show progress."""
    from sklearn.linear_model import LogisticRegression

    args = build_parser().parse_args([
        "--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--steps", "200",
        "--batch-size", "100", "--lr", "5e-3", "--queue-size", "128", "--num-pos", "32", "--threads", "1",
        "--out-dir", str(tmp_path / "run"), "--log-every", "20", "--probe-every", "100", "--no-progress", "--seed", "0"])
    res = train(args)
    model = res["model"]
    assert res["steps"] == 200 and len(res["losses"]) == 200 and all(np.isfinite(res["losses"]))
    torch.manual_seed(0)  # train() seeds with --seed before building the model
    init = OscillatorGenerator(model.cfg)

    train_ds, test_ds = load_digits("train"), load_digits("test")
    real, real_y = _pooled(train_ds.batch(np.arange(len(train_ds)))[0]), train_ds.labels
    clf = LogisticRegression(max_iter=3000).fit(real, real_y)
    assert clf.score(_pooled(test_ds.batch(np.arange(len(test_ds)))[0]), test_ds.labels) > 0.9  # a fair judge
    acc0, mmd0, near0 = _sample_metrics(init, real, real_y, clf)
    acc, mmd, near = _sample_metrics(model, real, real_y, clf)
    assert acc0 < 0.2 and acc > 0.3, (acc0, acc)  # 300 samples: chance is 0.10 +- 0.017
    assert mmd < 0.5 * mmd0, (mmd, mmd0)
    assert near < 0.85 * near0, (near, near0)
    # outputs: checkpoint that reloads to the same model, optimizer state, grid, log
    out = tmp_path / "run"
    again = load_checkpoint(res["checkpoint"])
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    state = torch.load(out / "digits-n64.safetensors.train-state.pt", weights_only=True)
    assert state["step"] == 200 and "state" in state["optimizer"]
    assert (out / "samples.png").stat().st_size > 0
    recs = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(20, 201, 20)) and recs[-1]["valid_classes"] == 10
    assert all(r["drift"] > 0 for r in recs)
    probes = {r["step"]: r["class_probe"] for r in recs if "class_probe" in r}
    assert sorted(probes) == [100, 200] and all(p["readout"] > 0.35 for p in probes.values()), probes


class _EmbeddingGenerator(torch.nn.Module):
    """Class embedding + noise -> MLP -> image: a generator whose conditioning is easy to learn."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 32)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 3072))

    def forward(self, y):
        return torch.tanh(self.mlp(torch.cat([self.emb(y), torch.randn(len(y), 32)], 1)))


def test_queue_and_grouped_loss_learn_class_conditional_digits():
    """The per-class machinery (queue positives, gamma-negatives, grouped loss) learns classes: with a generator
    whose conditioning is easy, nearest-centroid accuracy of the samples goes from chance to > 80 % in 40 steps."""
    torch.manual_seed(0)
    ds = load_digits("train")
    x_all, y_all = ds.batch(np.arange(len(ds)))
    x_all, y_all = torch.from_numpy(x_all).reshape(len(ds), 1, -1), torch.from_numpy(y_all)
    centroids = torch.stack([x_all[y_all == c, 0].mean(0) for c in range(10)])
    gen, queue = _EmbeddingGenerator(), ClassQueue(10, 128, (1, 3072))
    opt = torch.optim.Adam(gen.parameters(), 1e-3)
    probe = torch.arange(10).repeat_interleave(20)

    def accuracy():
        with torch.no_grad():
            return float((torch.cdist(gen(probe), centroids).argmin(1) == probe).float().mean())

    before = accuracy()
    for _ in range(40):
        idx = torch.randperm(len(ds))[:100]
        x, y = x_all[idx], y_all[idx]
        queue.push(x, y)
        pos = {c: {"pixel": v} for c, v in queue.positives(range(10), 32).items()}
        loss, _, _ = grouped_drifting_loss({"pixel": gen(y)[:, None]}, y, pos, {"pixel": x}, y, {"pixel": 1.0})
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before < 0.3 and accuracy() > 0.8, (before, accuracy())


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
    with pytest.raises(SystemExit, match="--probe-every must be 0 .off. or a multiple of --log-every"):
        train(build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--steps", "1", "--log-every", "10",
                                         "--probe-every", "15", "--out-dir", str(tmp_path), "--extractor", "pixel"]))
    with pytest.raises(ValueError, match="unknown extractor"):
        train(build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--steps", "1",
                                         "--out-dir", str(tmp_path), "--extractor", "clip"]))


def test_init_from_a_different_config_names_the_differing_fields(tmp_path):
    from model.checkpoint import save_checkpoint
    from model.config import get_config

    other = OscillatorGenerator(get_config("digits-n64").replace(init_k_scale=3.0))
    path = tmp_path / "other.safetensors"
    save_checkpoint(str(path), other)
    args = build_parser().parse_args(["--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--steps", "1",
                                      "--init-from", str(path), "--out-dir", str(tmp_path / "run"), "--no-progress"])
    with pytest.raises(SystemExit, match=r"init_k_scale: 3\.0 vs 1\.0"):
        train(args)


def test_scale_drive_strengthens_the_starting_drive(tmp_path):
    from model.checkpoint import save_checkpoint
    from model.config import get_config

    torch.manual_seed(3)
    start = OscillatorGenerator(get_config("digits-n64"))
    path = tmp_path / "start.safetensors"
    save_checkpoint(str(path), start)
    common = ["--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--steps", "1", "--batch-size", "50",
              "--queue-size", "64", "--num-pos", "16", "--lr", "1e-7", "--weight-decay", "0", "--no-progress"]
    res = train(build_parser().parse_args(common + ["--init-from", str(path), "--scale-drive", "3",
                                                    "--out-dir", str(tmp_path / "run")]))
    kd, kd0 = res["model"].dynamics.K_drive.detach(), start.dynamics.K_drive.detach()
    assert torch.allclose(kd, 3 * kd0, atol=1e-5) and not torch.allclose(kd, kd0, atol=1e-2)
    with pytest.raises(SystemExit, match="cannot be combined with --resume"):
        train(build_parser().parse_args(common + ["--resume", "--scale-drive", "2", "--out-dir", str(tmp_path / "run"),
                                                  "--checkpoint", res["checkpoint"]]))
    with pytest.raises(SystemExit) as e:  # refused by the parser (fixedpoint.cli): one line, exit 2
        build_parser().parse_args(common + ["--scale-drive", "-1", "--out-dir", str(tmp_path / "r2")])
    assert e.value.code == 2
