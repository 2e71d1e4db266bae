"""The analog board behind the board interface: host.run --board analog, the Python API, errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fixedpoint.golden import initial_phases  # noqa: E402
from model.hardware_image import image_from_checkpoint  # noqa: E402
from fixedpoint.readout import phases_to_radians  # noqa: E402
from host.boards import ImageMismatch, open_board  # noqa: E402
from host.run import main  # noqa: E402
from host.testing import random_checkpoint  # noqa: E402
from model.analog import AnalogParams  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


def _board(ckpt, **kw):
    b = open_board("analog", checkpoint=ckpt, analog=AnalogParams(**kw) if kw else None)
    img = image_from_checkpoint(ckpt)
    b.load_image(img)
    return b, img


def test_ideal_board_matches_float_model_from_the_same_words(ckpt, one_torch_thread):
    from model.checkpoint import load_checkpoint

    board, img = _board(ckpt)
    spec = img.params.spec
    p0 = initial_phases(0, 2, img.params.n_total, spec)
    model = load_checkpoint(ckpt).double()
    for i, c in enumerate((3, 7)):
        res = board.run(c, p0[i])
        assert res.phases.dtype == np.int64 and res.phases.shape == (img.params.n_total,)
        ref = model.integrate(torch.tensor([c]), torch.from_numpy(phases_to_radians(p0[i:i + 1], spec))).detach()
        got = phases_to_radians(res.phases, spec)
        assert np.abs(got - ref[0].numpy()).max() < 1e-6  # one phase-word LSB is 3.7e-7 rad
    assert board.info()["analog"]["integrator"] == "euler"


def test_board_noise_is_seeded_and_advances(ckpt, one_torch_thread):
    b1, img = _board(ckpt, phase_noise=0.1, noise_seed=4)
    b2, _ = _board(ckpt, phase_noise=0.1, noise_seed=4)
    p0 = initial_phases(1, 1, img.params.n_total, img.params.spec)[0]
    r1, r2 = b1.run(2, p0), b2.run(2, p0)
    assert np.array_equal(r1.phases, r2.phases)
    assert not np.array_equal(b1.run(2, p0).phases, r1.phases)  # the next run draws new noise


def test_board_trajectory_and_ode(ckpt, one_torch_thread):
    board, img = _board(ckpt, integrator="ode")
    p0 = initial_phases(2, 1, img.params.n_total, img.params.spec)[0]
    res = board.run_trajectory(1, p0)
    assert res.trajectory.shape == (img.num_steps + 1, img.params.n_total)
    whole = board.run(1, p0)
    # chained readouts of a noiseless continuous-time chip equal one run to the solver tolerance
    diff = phases_to_radians(res.phases - whole.phases, img.params.spec)
    assert np.abs(diff).max() < 1e-4


def test_image_from_another_model_is_refused(ckpt, tmp_path):
    other = random_checkpoint(str(tmp_path / "n256.safetensors"), "cifar10-n256")
    board = open_board("analog", checkpoint=ckpt)
    with pytest.raises(ImageMismatch, match="not made from the analog board's checkpoint"):
        board.load_image(image_from_checkpoint(other))


def test_open_board_needs_checkpoint():
    with pytest.raises(ValueError, match="needs the float checkpoint"):
        open_board("analog")


def test_cli_analog_board(ckpt, tmp_path, capsys):
    out = tmp_path / "a.png"
    assert main(["--board", "analog", "--class", "cat", "--checkpoint", ckpt, "--out", str(out), "--n", "2",
                 "--analog", "freq_mismatch=0.001", "--analog", "adc_bits=6"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "board analog" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [(["--board", "golden", "--analog", "adc_bits=4"], "need --board analog"),
                                      (["--board", "analog", "--analog", "bogus=1"], "bad analog setting"),
                                      (["--board", "analog", "--analog", "adc_bits=4", "--analog", "adc-bits=6"],
                                       "analog setting adc_bits is given twice (--analog adc_bits=...)")])
def test_cli_analog_errors_exit_2(ckpt, argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--class", "cat", "--checkpoint", ckpt])
    assert e.value.code == 2
    assert msg in capsys.readouterr().err


def test_python_api_analog_board(ckpt, one_torch_thread):
    import host.api as api

    with api.open("analog", ckpt, analog=AnalogParams(adc_bits=4), progress=False) as osc:
        s = osc.generate("cat", n=2, seed=0)
    ideal = api.open("analog", ckpt, progress=False)
    try:
        ref = ideal.generate("cat", n=2, seed=0)
    finally:
        ideal.close()
    lsb = 2 * np.pi / 16
    assert s.images.shape == ref.images.shape and s.board == "analog"
    assert np.abs(s.radians - ref.radians).max() <= lsb / 2 + 1e-6  # the 4-bit readout ADC, nothing else
    assert np.abs(s.radians - ref.radians).max() > 0.01
    with pytest.raises(ValueError, match="need board 'analog'"):
        api.open("golden", ckpt, analog=AnalogParams(), progress=False)


def test_analog_board_says_ideal_and_takes_weights_beyond_fixed_point(ckpt, tmp_path, one_torch_thread):
    """The analog board describes its non-idealities (not a digital build), and a K entry no fixed-point build can
    hold (golden refuses it with the gain-shift limit) still programs the float chip: no fixed-point limit."""
    import json

    from safetensors.torch import load_file, save_file

    import host.api as api
    from model.checkpoint import FORMAT, load_config_and_tensors

    cfg, _ = load_config_and_tensors(ckpt)
    tensors = load_file(ckpt)
    key = next(k for k in tensors if k.endswith("K") or k.endswith(".K"))
    tensors[key].view(-1)[1] = 1e25
    huge = str(tmp_path / "huge-k.safetensors")
    save_file(tensors, huge, metadata={"format": FORMAT, "config": json.dumps(cfg.to_dict())})
    with pytest.raises(ValueError, match="gain shift"):
        api.open("golden", huge, progress=False)
    with api.open("analog", huge, progress=False) as osc:
        line = osc.describe()
        assert "ideal" in line and "lanes" not in line and "-bit" not in line
    with api.open("analog", ckpt, analog=AnalogParams(adc_bits=6, freq_mismatch=0.01), progress=False) as osc:
        assert "freq_mismatch=0.01 adc_bits=6" in osc.describe()
        assert osc.generate("cat", seed=1).images.shape == (1, 3, 32, 32)
