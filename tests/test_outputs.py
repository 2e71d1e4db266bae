"""Output destinations (issue 12, item 10): checked before the long work; a late failure saves the result
elsewhere and says where; nothing is lost silently."""
import os
import shutil
import sys
import tempfile

import pytest

from fixedpoint.files import RESCUE_DIR_NAME, check_output, save_with_rescue, write_atomic


def _make_unwritable(d):
    """Make directory `d` refuse new files: read-only for a normal user; root ignores modes, so for root the
    directory is replaced by a plain file (writes below it fail with NotADirectoryError)."""
    if os.geteuid() != 0:
        os.chmod(d, 0o500)
    else:
        shutil.rmtree(d)
        with open(d, "w") as f:
            f.write("not a directory any more")


@pytest.fixture
def rescue_tmp(tmp_path, monkeypatch):
    t = tmp_path / "systmp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    return t / RESCUE_DIR_NAME


def test_check_output_refuses_what_cannot_be_written(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="is a directory"):
        check_output(str(tmp_path), "--out")
    with pytest.raises(ValueError, match="not a directory"):
        check_output(str(tmp_path / "afile" / "x.png"), "--out")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        check_output(str(tmp_path / "afile"), "--out", "dir")
    if sys.platform.startswith("linux"):
        with pytest.raises(ValueError, match="cannot write in /proc"):
            check_output("/proc/x.png", "--out")
    deep = tmp_path / "a" / "b" / "x.png"
    assert check_output(str(deep)) == str(deep)
    assert not (tmp_path / "a").exists()  # checking creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_save_with_rescue_writes_elsewhere_and_says_where(tmp_path, rescue_tmp, capsys):
    d = tmp_path / "dest"
    d.mkdir()
    target = str(d / "r.json")
    _make_unwritable(d)
    got = save_with_rescue(target, lambda p: write_atomic(p, "result"), "--out-json")
    assert got != target and os.path.dirname(got) == str(rescue_tmp)
    assert open(got).read() == "result"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and target in err and got in err
    ok = str(tmp_path / "ok.json")
    assert save_with_rescue(ok, lambda p: write_atomic(p, "fine")) == ok and capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from host.testing import random_checkpoint

    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


def _rc(main, argv):
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("entry", ["host.run", "model.sample", "model.evaluate", "bitstreams.measure"])
def test_unusable_destinations_are_refused_before_the_work(entry, ckpt, tmp_path, capsys):
    import importlib

    main = importlib.import_module(entry).main
    (tmp_path / "afile").write_text("x")
    flag, kind = {"host.run": ("--out", "file"), "model.sample": ("--out", "file"),
                  "model.evaluate": ("--out-json", "file"), "bitstreams.measure": ("--out", "dir")}[entry]
    base = {"host.run": ["--board", "golden", "--class", "cat", "--checkpoint", ckpt],
            "model.sample": ["--checkpoint", ckpt, "--n", "2"],
            "model.evaluate": ["--checkpoint", ckpt], "bitstreams.measure": ["--checkpoint", ckpt]}[entry]
    bad = [str(tmp_path / "afile")] if kind == "dir" else [str(tmp_path), str(tmp_path / "afile" / "x.png")]
    for dest in bad:
        assert _rc(main, base + [flag, dest]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and flag in err and dest in err, err


def test_host_run_directory_made_unwritable_during_the_run(ckpt, tmp_path, rescue_tmp, capsys, monkeypatch):
    import host.api as api
    import host.run as run

    good = tmp_path / "good.png"
    assert run.main(["--board", "golden", "--class", "cat", "--checkpoint", ckpt, "--out", str(good)]) == 0
    d = tmp_path / "dest"
    d.mkdir()
    real = api.Session.generate

    def generate_then_lose_the_directory(self, *a, **k):
        gen = real(self, *a, **k)
        _make_unwritable(d)
        return gen

    monkeypatch.setattr(api.Session, "generate", generate_then_lose_the_directory)
    capsys.readouterr()
    assert run.main(["--board", "golden", "--class", "cat", "--checkpoint", ckpt, "--out", str(d / "x.png")]) == 1
    out, err = capsys.readouterr()
    rescued = [p for p in rescue_tmp.iterdir()]
    assert len(rescued) == 1 and rescued[0].read_bytes() == good.read_bytes()
    assert f"saved it to {rescued[0]} instead" in err and str(d / "x.png") in err
    assert f"wrote {rescued[0]}" in out


def test_model_sample_directory_made_unwritable_during_the_run(tmp_path, rescue_tmp, capsys, monkeypatch):
    import model.sample as sample

    good = tmp_path / "good.png"
    assert sample.main(["--config", "cifar10-n64", "--n", "2", "--out", str(good)]) == 0
    d = tmp_path / "dest"
    d.mkdir()
    real = sample.generate

    def generate_then_lose_the_directory(*a, **k):
        images = real(*a, **k)
        _make_unwritable(d)
        return images

    monkeypatch.setattr(sample, "generate", generate_then_lose_the_directory)
    assert sample.main(["--config", "cifar10-n64", "--n", "2", "--out", str(d / "x.png")]) == 1
    rescued = list(rescue_tmp.iterdir())
    assert len(rescued) == 1 and rescued[0].read_bytes() == good.read_bytes()
    assert "saved it to" in capsys.readouterr().err


def test_measure_directory_made_unwritable_during_the_run(tmp_path, rescue_tmp, capsys, monkeypatch):
    import bitstreams.measure as measure

    d = tmp_path / "dest"
    real = measure.try_pynq_rails

    def rails_then_lose_the_directory():  # called once the board is open and the model loaded
        _make_unwritable(d)
        return real()

    d.mkdir()
    monkeypatch.setattr(measure, "try_pynq_rails", rails_then_lose_the_directory)
    assert measure.main(["--board", "golden", "--n", "64", "--images", "1", "--out", str(d)]) == 1
    rescued = list(rescue_tmp.iterdir())
    assert len(rescued) == 1 and sorted(p.name for p in rescued[0].iterdir()) == ["measure.json", "measure.md"]
    assert f"saved it to {rescued[0]} instead" in capsys.readouterr().err
