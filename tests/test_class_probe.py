"""The class probe: how much of the class a linear readout can see in the settled phases."""
import json

import pytest
import torch

from model.checkpoint import save_checkpoint
from model.class_probe import circular_features, class_probe, main
from model.config import get_config
from model.un0 import OscillatorGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(**changes):
    torch.manual_seed(0)
    return OscillatorGenerator(get_config("digits-n64").replace(**changes)).eval()


def test_probe_sees_the_drive_and_only_the_drive():
    strong = class_probe(_model())  # digits-n64: ref_oscillator, 5x drive
    assert strong["readout"] > 0.5 and strong["circular"] > 0.5, strong
    blind = class_probe(_model(init_drive_scale=0.0))  # no drive: the class cannot reach the phases
    assert blind["readout"] < 0.16 and blind["circular"] < 0.16, blind  # chance 0.10, 667 held out


def test_mean_relative_readout_hides_a_class_pattern_that_is_there():
    """The arithmetic mean of unwrapped phases leaves a random global rotation: the same phases, probed
    rotation-invariantly, show the class far better than the decoder's own features do."""
    res = class_probe(_model(relativization="mean_relative"))
    assert res["circular"] > 0.5 and res["readout"] < res["circular"] - 0.25, res


def test_circular_features_are_rotation_and_winding_invariant():
    theta = torch.rand(4, 64, dtype=torch.float64) * 6.28 - 3.14
    shifted = theta + 0.7 + 2 * torch.pi * torch.randint(-2, 3, theta.shape, dtype=torch.float64)
    assert torch.allclose(circular_features(theta), circular_features(shifted), atol=1e-9)


def test_cli(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    save_checkpoint(str(path), _model())
    assert main(["--checkpoint", str(path), "--per-class", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["samples"] == 500 and out["relativization"] == "ref_oscillator" and out["readout"] > 0.3
    for argv, msg in ((["--checkpoint", str(tmp_path / "missing.safetensors")], "missing.safetensors"),
                      (["--checkpoint", str(path), "--per-class", "2"], "--per-class: must be an integer between 3")):
        with pytest.raises(SystemExit) as e:  # refused by the parser: one line, exit 2
            main(argv)
        assert e.value.code == 2 and msg in capsys.readouterr().err


def test_oscillator_subset_keeps_sin_and_cos_columns():
    from model.class_probe import _first_oscillators

    feats = torch.arange(2 * 6).reshape(1, 12)  # sin block 0..5, cos block 6..11
    assert _first_oscillators(feats, 6, 2).tolist() == [[0, 1, 6, 7]]
    assert _first_oscillators(feats[:, :6], 6, 3).tolist() == [[0, 1, 2]]  # 'sin' encoding: one block
    assert class_probe(_model(), per_class=30, max_oscillators=16)["oscillators"] == 16
