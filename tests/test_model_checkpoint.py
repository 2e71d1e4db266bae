"""Checkpoint round trips, malformed files, Un-0 import and refusal of code-running pickles."""

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from model.checkpoint import (
    FORMAT,
    CheckpointError,
    import_un0,
    load_checkpoint,
    load_config_and_tensors,
    main as checkpoint_cli,
    read_metadata,
    save_checkpoint,
)
from model.config import get_config
from model.un0 import OscillatorGenerator

CFG = get_config("cifar10-n64")


@pytest.fixture
def model():
    torch.manual_seed(0)
    return OscillatorGenerator(CFG).eval()


def _sample(m, seed=0):
    cls = torch.arange(10)
    th0 = m.initial_phases(10, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return m(cls, th0)


def test_round_trip_bit_exact(model, tmp_path):
    p = tmp_path / "m.safetensors"
    save_checkpoint(str(p), model, extra_meta={"step": 12, "note": "hi"})
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]  # atomic temp removed
    m2 = load_checkpoint(str(p))
    assert m2.cfg == CFG and not m2.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert torch.equal(_sample(model), _sample(m2))
    meta = read_metadata(str(p))
    assert meta["format"] == FORMAT and json.loads(meta["step"]) == 12 and meta["note"] == "hi"
    cfg, arrays = load_config_and_tensors(str(p))
    assert cfg == CFG
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    np.testing.assert_array_equal(arrays["dynamics.K"], model.dynamics.K.detach().numpy())


def _write(path, tensors, meta):
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)


def _good_meta(cfg=CFG):
    return {"format": FORMAT, "config": json.dumps(cfg.to_dict())}


def test_malformed_checkpoints_rejected(model, tmp_path):
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    cases = {
        "missing": ({k: v for k, v in sd.items() if k != "dynamics.K_cond"}, _good_meta(), "dynamics.K_cond"),
        "extra": ({**sd, "dynamics.bogus": torch.zeros(2)}, _good_meta(), "dynamics.bogus"),
        "shape": ({**sd, "dynamics.K": torch.zeros(63, 64)}, _good_meta(), "dynamics.K"),
        "unknown_cfg_key": (sd, {"format": FORMAT, "config": json.dumps({**CFG.to_dict(), "zap": 1})}, "zap"),
        "bad_json": (sd, {"format": FORMAT, "config": "{not json"}, "not valid JSON"),
        "no_format": (sd, {"config": json.dumps(CFG.to_dict())}, "format"),
        "wrong_format": (sd, {"format": "other/9", "config": json.dumps(CFG.to_dict())}, "other/9"),
    }
    for name, (tensors, meta, msg) in cases.items():
        p = tmp_path / f"{name}.safetensors"
        _write(p, tensors, meta)
        with pytest.raises(CheckpointError, match=msg):
            load_checkpoint(str(p))
        with pytest.raises(CheckpointError, match=msg):
            load_config_and_tensors(str(p))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(str(garbage))
    good = tmp_path / "good.safetensors"
    save_checkpoint(str(good), model)
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(CheckpointError):
        load_checkpoint(str(trunc))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(str(tmp_path / "absent.safetensors"))


# ------------------------------------------------------------------ Un-0 .pt files
def _un0_file(model, path, config):
    """Write a checkpoint in Un-0's layout: compiled-module key prefixes and training state."""
    sd = {}
    for k, v in model.state_dict().items():
        top, rest = k.split(".", 1)
        sd[f"{top}._orig_mod.{rest}"] = v.detach().clone()
    torch.save({
        "model": sd,
        "optimizer": {"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.zeros(3)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.95), "params": [0]}]},
        "scheduler": {"last_epoch": 5, "_step_count": 6},
        "epoch": 3,
        "global_step": 72,
        "config": config,
    }, path)


def test_import_un0_layout(model, tmp_path):
    p = tmp_path / "cifar10_n64.pt"
    un0_cfg = {"dataset": "cifar10", "n_oscillators": 64, "n_conditional_oscillators": 8,
               "class_dropout_prob": 0.1, "num_steps": 10, "decoder_in_channels": 8,
               "parameterization": "standard", "relativization": "mean_relative", "encoding": "sin_cos",
               "solver": "euler", "lr": 2.683e-3, "batch_size": 2048, "weight_decay": 1e-3}
    _un0_file(model, p, un0_cfg)
    m2 = import_un0(str(p))
    assert m2.cfg.to_dict() == {**CFG.to_dict(), "name": "cifar10-n64"}
    assert torch.equal(_sample(model), _sample(m2))
    # and the converter CLI produces one of our checkpoints with the same outputs
    out = tmp_path / "conv.safetensors"
    assert checkpoint_cli(["import-un0", str(p), str(out)]) == 0
    assert torch.equal(_sample(load_checkpoint(str(out))), _sample(model))


def test_import_un0_missing_arch_keys_uses_builder_defaults(model, tmp_path):
    p = tmp_path / "old.pt"
    _un0_file(model, p, {"lr": 1e-3})  # no arch keys at all (like the early n16384 file)
    m2 = import_un0(str(p))
    c = m2.cfg
    assert (c.n, c.n_cond, c.num_classes, c.image_size, c.dataset) == (64, 8, 10, 32, "cifar10")
    assert (c.solver, c.num_steps, c.relativization, c.parameterization) == ("rk4", 25, "ref_oscillator", "standard")


def test_import_un0_rejects_bad_structure(model, tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"state_dict": {}}, p)
    with pytest.raises(CheckpointError, match="'model' and 'config'"):
        import_un0(str(p))
    sd = {k: v for k, v in model.state_dict().items() if "to_output" not in k}
    torch.save({"model": sd, "config": {}}, p)
    with pytest.raises(CheckpointError, match="decoder.to_output"):
        import_un0(str(p))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("container", ["torch_zip", "raw_pickle"])
def test_code_running_pickle_is_refused(model, tmp_path, container):
    import pickle

    marker = tmp_path / "PWNED"
    p = tmp_path / "evil.pt"
    payload = {"model": model.state_dict(), "config": {}, "extra": _Evil(marker)}
    if container == "torch_zip":
        torch.save(payload, p)
    else:
        with open(p, "wb") as f:
            pickle.dump(payload, f)
    with pytest.raises(CheckpointError, match="refused to load"):
        import_un0(str(p))
    assert not marker.exists()
