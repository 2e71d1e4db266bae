"""Interrupted long runs keep what they finished: model.train checkpoints the last step, model.evaluate keeps
its finished stages in its output files (a KeyboardInterrupt raised mid-run, as Ctrl-C does)."""
import json

import pytest
import torch

import model.evaluate as evaluate
import model.train as train_mod
from host.testing import random_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_interrupted_keeps_a_resumable_checkpoint(tmp_path, monkeypatch, capsys):
    real = train_mod.grouped_drifting_loss
    calls = []

    def loss_then_interrupt(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "grouped_drifting_loss", loss_then_interrupt)
    args = ["--config", "digits-n64", "--data", "digits", "--extractor", "pixel", "--batch-size", "50",
            "--queue-size", "64", "--num-pos", "16", "--out-dir", str(tmp_path), "--no-progress", "--steps", "50",
            "--ckpt-every", "1000"]
    assert train_mod.main(args) == 130
    assert "interrupted at step 3" in capsys.readouterr().err
    st = torch.load(tmp_path / "digits-n64.safetensors.train-state.pt", weights_only=True)
    assert st["step"] == 3
    monkeypatch.setattr(train_mod, "grouped_drifting_loss", real)
    res = train_mod.train(train_mod.build_parser().parse_args(args[:-4] + ["--steps", "5", "--resume"]))
    assert res["steps"] == 5 and len(res["losses"]) == 2 and not res["interrupted"]


def test_evaluate_interrupted_keeps_finished_stages(tmp_path, monkeypatch, capsys):
    ckpt = random_checkpoint(str(tmp_path / "d.safetensors"), "digits-n64")

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "train_classifier", interrupt)  # Ctrl-C in the classifier stage
    out = tmp_path / "e.json"
    rc = evaluate.main(["--checkpoint", ckpt, "--data", "digits", "--metrics", "kid,acc", "--num-samples", "10",
                        "--cache-dir", str(tmp_path / "cache"), "--out-json", str(out), "--out-md",
                        str(tmp_path / "e.md"), "--no-progress", "--threads", "1"])
    assert rc == 130
    assert "finished stages (samples, inception)" in capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["partial"] is True and r["stages_done"] == ["samples", "inception"]
    assert "kid" in r["inception"] and "classifier" not in r
    assert "Partial result" in (tmp_path / "e.md").read_text()
