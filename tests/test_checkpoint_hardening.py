"""Damaged checkpoints and images (issue 12, items 6-8): non-finite values, odd dtypes, tensors that expand.

Every loader (our safetensors, the Un-0 .pt import, hardware images, the LOAD_IMAGE path via
HardwareImage.from_fields) refuses what it cannot use, with one line naming the tensor.
"""
import json
import os

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file

from fixedpoint.quantize import HardwareImage, quantize
from model.hardware_image import effective_params, image_from_checkpoint
from fixedpoint.spec import HardwareParams, NumericsSpec
from model.checkpoint import (FORMAT, CheckpointError, import_un0, load_checkpoint, load_config_and_tensors,
                              save_checkpoint)
from model.config import MAX_CLASSES, MAX_N, MAX_STEPS, ModelConfig, get_config
from model.un0 import OscillatorGenerator

CFG = get_config("cifar10-n64")
DECODER_W = "decoder.cascade.0.net.1.weight"


@pytest.fixture(scope="module")
def sd():
    torch.manual_seed(0)
    return {k: v.detach().clone() for k, v in OscillatorGenerator(CFG).state_dict().items()}


def _write(path, tensors, cfg=CFG):
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata={"format": FORMAT, "config": json.dumps(cfg.to_dict())})
    return str(path)


def _un0(path, tensors, config=None):
    model = {f"{k.split('.', 1)[0]}._orig_mod.{k.split('.', 1)[1]}": v for k, v in tensors.items()}
    torch.save({"model": model, "config": config or {"dataset": "cifar10", "num_steps": 10}}, str(path))
    return str(path)


def _with(sd, key, index, value):
    t = {k: v.clone() for k, v in sd.items()}
    t[key].view(-1)[index] = value
    return t


# ------------------------------------------------------------------ item 6: non-finite values
@pytest.mark.parametrize("key,value", [("dynamics.K", float("nan")), ("dynamics.omega", float("nan")),
                                       ("dynamics.K_drive", float("inf")), (DECODER_W, float("nan")),
                                       ("dynamics.omega_cond", float("-inf"))])
def test_non_finite_values_are_refused_by_every_loader(sd, tmp_path, key, value):
    bad = _with(sd, key, 5, value)
    path = _write(tmp_path / "bad.safetensors", bad)
    for load in (load_config_and_tensors, load_checkpoint, image_from_checkpoint):
        with pytest.raises(CheckpointError, match=rf"tensor '{key}' holds 1 non-finite"):
            load(path)
    with pytest.raises(CheckpointError, match=rf"tensor '{key}' holds 1 non-finite"):
        import_un0(_un0(tmp_path / "bad.pt", bad))


def test_host_run_and_sample_refuse_a_nan_checkpoint_and_write_nothing(sd, tmp_path, capsys):
    from host.run import main as run_main
    from model.sample import main as sample_main

    path = _write(tmp_path / "nan.safetensors", _with(sd, "dynamics.K", 3, float("nan")))
    out = tmp_path / "x.png"
    assert run_main(["--board", "golden", "--class", "cat", "--checkpoint", path, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "dynamics.K" in err and "non-finite" in err and len(err.splitlines()) == 1
    path = _write(tmp_path / "nand.safetensors", _with(sd, DECODER_W, 0, float("nan")))
    assert run_main(["--board", "golden", "--class", "cat", "--checkpoint", path, "--out", str(out)]) == 2
    assert DECODER_W in capsys.readouterr().err
    assert sample_main(["--checkpoint", path, "--n", "2", "--out", str(out)]) == 2
    assert DECODER_W in capsys.readouterr().err
    assert not out.exists()


def test_quantize_refuses_nan_instead_of_wrapping_to_int64_min():
    """Root cause: NaN rounded to int64 became -2**63, whose abs() is negative and passed the range check."""
    rng = np.random.default_rng(0)
    params = HardwareParams(16, 2, 8, NumericsSpec())
    eff = {"K": rng.normal(size=(16, 16)) * 0.1, "K_cond": rng.normal(size=(2, 2)) * 0.1,
           "K_drive": rng.normal(size=(3, 16, 2)) * 0.1, "omega": rng.normal(size=16),
           "omega_cond": rng.normal(size=2)}
    img = quantize(eff, params, dt=0.1, num_steps=4)
    for key in eff:
        bad = {k: v.copy() for k, v in eff.items()}
        bad[key].reshape(-1)[1] = np.nan
        with pytest.raises(ValueError, match=f"tensor '{key}' holds 1 non-finite"):
            quantize(bad, params, dt=0.1, num_steps=4)
    with pytest.raises(ValueError, match="dt must be a finite"):
        quantize(eff, params, dt=float("nan"), num_steps=4)
    # an image that already holds the int64 minimum (a NaN cast elsewhere) fails validation
    for name in ("k", "drive", "kcond", "omega_inc"):
        arr = getattr(img, name).copy()
        arr.reshape(-1)[1] = np.iinfo(np.int64).min
        broken = HardwareImage(**{**img.__dict__, name: arr})
        with pytest.raises(ValueError, match=name):
            broken.validate()


def test_image_from_fields_refuses_float_arrays_and_bad_fields():
    """The validator a LOAD_IMAGE handler (host.agent) or an image file uses: no float -> int64 casts."""
    rng = np.random.default_rng(1)
    params = HardwareParams(16, 2, 8, NumericsSpec())
    eff = {"K": rng.normal(size=(16, 16)) * 0.1, "K_cond": rng.normal(size=(2, 2)) * 0.1,
           "K_drive": rng.normal(size=(3, 16, 2)) * 0.1, "omega": rng.normal(size=16),
           "omega_cond": rng.normal(size=2)}
    img = quantize(eff, params, dt=0.1, num_steps=4)
    meta = img._meta()
    arrays = {n: getattr(img, n) for n in ("k", "drive", "kcond", "gain", "omega_inc")}
    assert HardwareImage.from_fields(meta, arrays).digest() == img.digest()
    with pytest.raises(ValueError, match="'k' has dtype float64"):
        HardwareImage.from_fields(meta, {**arrays, "k": np.full((16, 16), np.nan)})
    with pytest.raises(ValueError, match="'gain' has dtype bool"):
        HardwareImage.from_fields(meta, {**arrays, "gain": arrays["gain"].astype(bool)})
    with pytest.raises(ValueError, match="dt must be a finite"):
        HardwareImage.from_fields({**meta, "dt": float("inf")}, arrays)
    with pytest.raises(ValueError, match=f"num_steps {10 ** 7} outside 1..{MAX_STEPS}"):
        HardwareImage.from_fields({**meta, "num_steps": 10 ** 7}, arrays)
    with pytest.raises(TypeError, match="num_steps must be an integer"):
        HardwareImage.from_fields({**meta, "num_steps": [4]}, arrays)


def test_image_file_with_float_arrays_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    params = HardwareParams(16, 2, 8, NumericsSpec())
    eff = {"K": rng.normal(size=(16, 16)) * 0.1, "K_cond": rng.normal(size=(2, 2)) * 0.1,
           "K_drive": rng.normal(size=(3, 16, 2)) * 0.1, "omega": rng.normal(size=16),
           "omega_cond": rng.normal(size=2)}
    img = quantize(eff, params, dt=0.1, num_steps=4)
    good = tmp_path / "img.safetensors"
    img.save(str(good))
    assert HardwareImage.load(str(good)).digest() == img.digest()
    tensors = {n: np.ascontiguousarray(getattr(img, n), dtype=np.float32) for n in ("k", "drive", "kcond",
                                                                                     "gain", "omega_inc")}
    tensors["omega_inc"][0] = np.nan
    bad = tmp_path / "bad.safetensors"
    save_np(tensors, str(bad), metadata={"format": "oscillator-hil-image/1", "meta": json.dumps(img._meta())})
    with pytest.raises(ValueError, match="dtype float32"):
        HardwareImage.load(str(bad))


# ------------------------------------------------------------------ item 7: unexpected dtypes
def test_float16_checkpoint_is_converted_losslessly(sd, tmp_path):
    half = {k: v.half() for k, v in sd.items()}
    path = _write(tmp_path / "half.safetensors", half)
    m = load_checkpoint(path)
    for k, v in half.items():
        assert m.state_dict()[k].dtype == torch.float32
        assert torch.equal(m.state_dict()[k], v.float()), k
    _, arrays = load_config_and_tensors(path)
    assert arrays["dynamics.K"].dtype == np.float32
    # Un-0 import: float16 and bfloat16 convert, float64 holding float32 values converts
    mixed = {k: (v.bfloat16() if k.startswith("dynamics") else v.double()) for k, v in sd.items()}
    m = import_un0(_un0(tmp_path / "mixed.pt", mixed))
    assert torch.equal(m.state_dict()["dynamics.K"], sd["dynamics.K"].bfloat16().float())
    assert torch.equal(m.state_dict()[DECODER_W], sd[DECODER_W])


def test_lossy_float64_and_non_float_dtypes_are_refused(sd, tmp_path, capsys):
    from model.checkpoint import main as ckpt_main

    lossy = dict(sd, **{DECODER_W: sd[DECODER_W].double() + 1e-12})
    path = _write(tmp_path / "f64.safetensors", lossy)
    with pytest.raises(CheckpointError, match=rf"tensor '{DECODER_W}' is float64 and \d+ of its values are not"):
        load_checkpoint(path)
    exact = _write(tmp_path / "f64ok.safetensors", dict(sd, **{DECODER_W: sd[DECODER_W].double()}))
    assert torch.equal(load_checkpoint(exact).state_dict()[DECODER_W], sd[DECODER_W])
    boolk = _write(tmp_path / "bool.safetensors", dict(sd, **{"dynamics.K": sd["dynamics.K"] > 0}))
    with pytest.raises(CheckpointError, match="tensor 'dynamics.K' has dtype BOOL"):
        load_checkpoint(boolk)
    assert ckpt_main(["info", boolk]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dynamics.K" in err and "BOOL" in err
    with pytest.raises(CheckpointError, match="tensor 'dynamics.K' has dtype bool"):
        import_un0(_un0(tmp_path / "bool.pt", dict(sd, **{"dynamics.K": sd["dynamics.K"] > 0})))
    with pytest.raises(CheckpointError, match="tensor 'dynamics.omega' has dtype int64"):
        import_un0(_un0(tmp_path / "int.pt", dict(sd, **{"dynamics.omega": sd["dynamics.omega"].long()})))


# ------------------------------------------------------------------ item 8: tiny files that expand
def test_expanded_views_are_refused_before_materialising(sd, tmp_path):
    # K and K_drive for n = MAX_N (within limits): 8 bytes stored, 1 GiB once converted
    n = MAX_N
    big = dict(sd)
    big["dynamics.K"] = torch.zeros(1, 1).expand(n, n)
    big["dynamics.K_drive"] = torch.zeros(1).expand(10, n, 8)
    path = tmp_path / "expanded.pt"
    _un0(path, big)
    assert os.path.getsize(path) < 300_000 < n * n * 4
    with pytest.raises(CheckpointError, match="expanded view"):
        import_un0(str(path))
    # an expanded tensor of the right (small) size is refused too: a real checkpoint stores every element
    small = dict(sd, **{"dynamics.K": torch.zeros(1, 1).expand(64, 64)})
    with pytest.raises(CheckpointError, match="'dynamics.K'.*expanded view"):
        import_un0(_un0(tmp_path / "small.pt", small))


def test_configs_beyond_the_stated_limits_are_refused(sd, tmp_path):
    for field, value in (("n", MAX_N * 2), ("num_classes", MAX_CLASSES + 1), ("num_steps", MAX_STEPS + 1)):
        d = CFG.to_dict()
        d[field] = value
        if field == "n":
            d["decoder_in_channels"] = 2 * value // 16
        with pytest.raises(ValueError, match=f"{field}={value} exceeds the limit"):
            ModelConfig.from_dict(d)
        # in a checkpoint's metadata: refused before any tensor is read
        p = tmp_path / f"{field}.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(p),
                  metadata={"format": FORMAT, "config": json.dumps(d)})
        with pytest.raises(CheckpointError, match="exceeds the limit"):
            load_config_and_tensors(str(p))
    # an Un-0 file whose (real, small) K_drive claims 2000 classes
    many = dict(sd, **{"dynamics.K_drive": torch.zeros(2000, 64, 8)})
    with pytest.raises(CheckpointError, match="num_classes=2000 exceeds the limit"):
        import_un0(_un0(tmp_path / "classes.pt", many, {"dataset": "cifar10"}))


def test_effective_params_names_a_non_finite_tensor(sd):
    arrays = {k: v.numpy().copy() for k, v in sd.items()}
    arrays["dynamics.K_cond"][0, 1] = np.inf
    with pytest.raises(ValueError, match="'dynamics.K_cond' holds 1 non-finite"):
        effective_params(CFG.to_dict(), arrays)


def test_round_trip_still_bit_exact(sd, tmp_path):
    m = OscillatorGenerator(CFG)
    m.load_state_dict(sd)
    p = save_checkpoint(str(tmp_path / "ok.safetensors"), m)
    m2 = load_checkpoint(p)
    for k, v in sd.items():
        assert torch.equal(m2.state_dict()[k], v)


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_refusals_come_without_warnings_first(tmp_path):
    """A huge omega is refused before the int64 cast (no RuntimeWarning), a code-running pickle without torch's
    protocol UserWarning, and random bytes are named as not a torch checkpoint (not as unsafe pickled objects)."""
    import pickle
    import warnings

    rng = np.random.default_rng(0)
    params = HardwareParams(16, 2, 8, NumericsSpec())
    eff = {"K": rng.normal(size=(16, 16)) * 0.1, "K_cond": rng.normal(size=(2, 2)) * 0.1,
           "K_drive": rng.normal(size=(3, 16, 2)) * 0.1, "omega": rng.normal(size=16) * 1e30,
           "omega_cond": rng.normal(size=2)}
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"model": {}, "config": {}, "extra": _RunsCode()}, f)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8).tobytes().replace(b"\x80", b"\x00"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning before the refusal fails the test
        with pytest.raises(ValueError, match="omega increment"):
            quantize(eff, params, dt=0.1, num_steps=4)
        with pytest.raises(CheckpointError, match="refused to load"):
            import_un0(str(evil))
        with pytest.raises(CheckpointError, match=r"not a torch checkpoint \(zip/pickle\) file"):
            import_un0(str(noise))
