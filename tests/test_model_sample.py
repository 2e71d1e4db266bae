"""Sampling CLI and plot writers."""

import numpy as np
import pytest
import torch
from PIL import Image

from model.checkpoint import save_checkpoint
from model.config import get_config
from model.plots import make_grid
from model.sample import generate, main, parse_classes, trajectory
from model.un0 import OscillatorGenerator


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return OscillatorGenerator(get_config("cifar10-n64")).eval()


def test_generate_independent_of_batch_size(model):
    ids = parse_classes("cat,dog,3", model, 7)
    assert ids.tolist() == [3, 5, 3, 3, 5, 3, 3]
    a = generate(model, ids, seed=1, batch_size=7, progress=False)
    b = generate(model, ids, seed=1, batch_size=2, progress=False)
    assert a.shape == (7, 3, 32, 32) and a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)  # batched BLAS rounding only
    assert not torch.allclose(a, generate(model, ids, seed=2, batch_size=7, progress=False))


def test_trajectory_ends_at_final_image(model):
    ids = parse_classes(None, model, 12)
    frames, r = trajectory(model, ids, seed=3)
    assert frames.shape == (11, 8, 3, 32, 32) and r.shape == (11, 8)
    # the trajectory follows the first 8 of the 12 seeded initial states
    full = generate(model, ids, seed=3, batch_size=12, progress=False)[:8]
    torch.testing.assert_close(frames[-1], full, rtol=0, atol=1e-5)
    assert torch.all((r >= 0) & (r <= 1 + 1e-6))


def test_cli_end_to_end(model, tmp_path):
    ck = tmp_path / "m.safetensors"
    save_checkpoint(str(ck), model)
    out, strip, gif, rplot = (tmp_path / f for f in ("g.png", "s.png", "t.gif", "r.png"))
    rc = main(["--checkpoint", str(ck), "--class", "Cat", "--n", "6", "--seed", "0", "--out", str(out),
               "--steps-strip", str(strip), "--gif", str(gif), "--order-plot", str(rplot),
               "--batch-size", "4", "--scale", "1", "--nrow", "3"])
    assert rc == 0
    g = np.asarray(Image.open(out))
    assert g.shape == (2 * 34 + 2, 3 * 34 + 2, 3)
    s = Image.open(strip)
    assert s.size[0] >= 11 * 32 and s.size[1] >= 6 * 32  # steps 0..10 x 6 samples, plus labels
    gi = Image.open(gif)
    assert gi.n_frames == 11
    assert Image.open(rplot).size[0] > 100
    # the grid holds exactly what generate() makes
    # (batch 4+2 there, 6 here: float32 GEMMs of another batch size may round differently, which can move a
    # pixel across a uint8 rounding boundary; anything beyond one level is a different image)
    imgs = generate(model, parse_classes("cat", model, 6), seed=0, batch_size=6, progress=False)
    diff = np.abs(g.astype(np.int16) - make_grid(imgs, nrow=3).astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse-level errors
        return e.code


def test_cli_errors(tmp_path, capsys):
    assert main(["--config", "cifar10-n64", "--class", "kat", "--out", str(tmp_path / "x.png")]) == 2
    assert "cat" in capsys.readouterr().err
    assert _exit_code(["--config", "cifar10-n64x", "--out", str(tmp_path / "x.png")]) == 2
    assert _exit_code(["--checkpoint", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()
