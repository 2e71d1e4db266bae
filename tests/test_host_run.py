"""host.run end to end on the golden board, the numpy decoder against torch, and the clear-error paths."""
import json
import os
import zlib

import numpy as np
import pytest

from fixedpoint.golden import initial_phases
from model.hardware_image import image_from_checkpoint
from fixedpoint.readout import phase_features
from fixedpoint.spec import HardwareParams, NumericsSpec
from host.boards import ImageMismatch
from host.boards.golden import GoldenBoard
from host.imageio import png_bytes
from host.run import main
from host.testing import random_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


@pytest.fixture(scope="module")
def imagenet_ckpt(tmp_path_factory):
    """A tiny model with the imagenet64 recipe (1000 classes, n_cond 1, ref_oscillator, mup)."""
    torch = pytest.importorskip("torch")
    from model.checkpoint import save_checkpoint
    from model.config import ModelConfig
    from model.un0 import OscillatorGenerator

    cfg = ModelConfig(name="imagenet64-tiny", n=64, n_cond=1, num_classes=1000, image_size=8, decoder_in_channels=8,
                      dataset="imagenet64", relativization="ref_oscillator", parameterization="mup")
    torch.manual_seed(1)
    path = str(tmp_path_factory.mktemp("ck") / "in64.safetensors")
    save_checkpoint(path, OscillatorGenerator(cfg))
    return path


def _png_size(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return w, h


@pytest.mark.parametrize("name", ["cifar10-n64", "cifar10-n256"])
def test_numpy_decoder_matches_torch(tmp_path, name):
    torch = pytest.importorskip("torch")
    from model.checkpoint import load_checkpoint
    from model.decoder_np import NumpyDecoder

    path = random_checkpoint(str(tmp_path / f"{name}.safetensors"), name, seed=3)
    model = load_checkpoint(path)
    dec = NumpyDecoder.from_checkpoint(path)
    image = image_from_checkpoint(path)
    g = GoldenBoard()
    g.load_image(image)
    p0 = initial_phases(0, 2, image.params.n_total, image.params.spec)
    phases = np.stack([g.run(3, p).phases for p in p0])
    feats = phase_features(phases, image.params.n, image.params.spec, image.model_config)
    with torch.no_grad():
        ref = model.decode(torch.from_numpy(feats.astype(np.float32))).numpy()
    out = dec(feats)
    assert out.shape == ref.shape == (2, 3, 32, 32)
    assert np.abs(out - ref).max() < 1e-5
    assert np.abs(out).max() > 1e-3  # not a trivially zero image


def test_cli_golden_writes_pictures_and_phases(ckpt, tmp_path, capsys):
    out, strip, gif, r, npz = (tmp_path / f for f in ("img.png", "strip.png", "s.gif", "r.png", "p.npz"))
    rc = main(["--board", "golden", "--class", "cat", "--checkpoint", ckpt, "--seed", "5", "--n", "2",
               "--lanes", "8", "--out", str(out), "--strip", str(strip), "--gif", str(gif), "--order-plot", str(r),
               "--phases", str(npz), "--scale", "3"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "class cat (3)" in text and "compute time" in text and "decode" in text
    w, h = _png_size(out)
    assert w >= 2 * 32 * 3 and h >= 32 * 3  # scaled up, plus labels
    sw, sh = _png_size(strip)
    assert sw >= 11 * 32 * 3 and sh >= 2 * 32 * 3  # steps 0..10, one row per sample
    assert gif.read_bytes()[:6] == b"GIF89a" and _png_size(r)[0] > 0
    assert sorted(os.listdir(tmp_path)) == ["img.png", "p.npz", "r.png", "s.gif", "strip.png"]  # no temp files
    # the .npz holds what the golden board computes for seeded rows 0..1, loadable without pickle
    with np.load(npz, allow_pickle=False) as z:
        image = image_from_checkpoint(ckpt, lanes=8)
        g = GoldenBoard()
        g.load_image(image)
        p0 = initial_phases(5, 2, image.params.n_total, image.params.spec)
        np.testing.assert_array_equal(z["phases0"], p0)
        np.testing.assert_array_equal(z["phases"], np.stack([g.run(3, p).phases for p in p0]))
        assert z["trajectory"].shape == (2, 11, image.params.n_total)
        np.testing.assert_array_equal(z["trajectory"][:, -1], z["phases"])
        assert z["images"].shape == (2, 3, 32, 32) and z["timing_decode_s"].shape == (2,)
        meta = json.loads(str(z["meta"]))
        assert meta["class_name"] == "cat" and meta["seed"] == 5 and meta["params"]["lanes"] == 8


def test_cli_is_deterministic_and_seed_sensitive(ckpt, tmp_path):
    paths = []
    for i, seed in enumerate((1, 1, 2)):
        paths.append(tmp_path / f"{i}.png")
        assert main(["--board", "golden", "--class", "2", "--checkpoint", ckpt, "--seed", str(seed),
                     "--out", str(paths[-1])]) == 0
    b = [p.read_bytes() for p in paths]
    assert b[0] == b[1] and b[0] != b[2]


def test_cli_imagenet_checkpoint_accepts_volcano(imagenet_ckpt, tmp_path, capsys):
    out = tmp_path / "v.png"
    assert main(["--board", "golden", "--class", "volcano", "--checkpoint", imagenet_ckpt, "--out", str(out)]) == 0
    assert "class volcano (980)" in capsys.readouterr().out
    w, h = _png_size(out)
    assert w >= 8 * 4 and h >= 8 * 4  # an 8-pixel image, 4x, labeled


def test_cli_unknown_class_lists_the_checkpoints_classes(ckpt, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["--board", "golden", "--class", "volcano", "--checkpoint", ckpt, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "volcano" in err and "airplane" in err and "truck" in err and "cifar10" in err
    assert not out.exists()


def test_cli_missing_checkpoint_says_how_to_get_one(tmp_path, capsys):
    assert main(["--board", "golden", "--class", "cat", "--checkpoint", str(tmp_path / "none.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "import-un0" in err


def test_cli_dead_board_leaves_no_output(ckpt, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["--board", "tcp://127.0.0.1:1", "--class", "cat", "--checkpoint", ckpt, "--out", str(out)]) == 2
    assert "cannot reach the agent" in capsys.readouterr().err
    assert not out.exists() and os.listdir(tmp_path) == []


def test_image_for_another_build_is_refused(ckpt):
    image = image_from_checkpoint(ckpt, lanes=8)
    other = GoldenBoard(HardwareParams(64, 8, 16))
    with pytest.raises(ImageMismatch, match="lanes=8"):
        other.load_image(image)
    with pytest.raises(ValueError, match="does not fit the hardware build"):
        image_from_checkpoint(ckpt, params=HardwareParams(128, 8, 8, NumericsSpec()))


def test_png_writer_roundtrip():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    data = png_bytes(rgb)
    i = data.index(b"IDAT")
    n = int.from_bytes(data[i - 4:i], "big")
    raw = np.frombuffer(zlib.decompress(data[i + 4:i + 4 + n]), np.uint8).reshape(5, 1 + 7 * 3)
    assert (raw[:, 0] == 0).all()
    np.testing.assert_array_equal(raw[:, 1:].reshape(5, 7, 3), rgb)
