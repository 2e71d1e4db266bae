"""Output destinations (issue 12, item 10): checked before the long work; a late failure saves the result
elsewhere and says where; nothing is lost silently."""
import os
import shutil
import sys
import tempfile

import numpy as np
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


# ---- formats: a file's contents match its name (newcomer report: PNG bytes in README.md, GIF bytes in .png) ----
def test_check_output_refuses_an_extension_the_writer_does_not_write(tmp_path):
    for bad, named in (("README.md", "extension '.md'"), ("LICENSE", "no extension")):
        with pytest.raises(ValueError, match=named) as e:
            check_output(str(tmp_path / bad), "--out", formats=(".png", ".jpg"))
        assert ".png, .jpg" in str(e.value) and len(str(e.value).splitlines()) == 1
    assert check_output(str(tmp_path / "x.PNG"), "--out", formats=(".png",)).endswith("x.PNG")
    # the directory hint names a file of the option's own format
    with pytest.raises(ValueError, match=r"e\.g\. .*out\.npz\)"):
        check_output(str(tmp_path), "--phases", formats=(".npz",))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_every_image_and_figure_format_writes_what_its_name_says(tmp_path):
    from PIL import Image

    from fixedpoint import cli
    from model.plots import order_figure, save_figure, save_image

    img = Image.new("RGB", (8, 8), (200, 30, 30))
    pillow = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
    assert set(cli.IMAGE_FORMATS) == set(pillow)
    for ext in cli.IMAGE_FORMATS:
        p = str(tmp_path / f"x{ext}")
        save_image(img, p)
        with Image.open(p) as back:
            assert back.format == pillow[ext]
    fig = order_figure([("cat", np.arange(3) * 0.1, np.full((2, 3), 0.5))], 64)
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}
    assert set(cli.FIGURE_FORMATS) == set(magic)
    for ext in cli.FIGURE_FORMATS:
        p = tmp_path / f"r{ext}"
        save_figure(fig, str(p))
        assert p.read_bytes().startswith(magic[ext])
    for bad in ("x.txt", "x.gif", "x"):  # the library functions refuse too, before writing anything
        with pytest.raises(ValueError, match="written as"):
            save_image(img, str(tmp_path / bad))
        with pytest.raises(ValueError, match="written as"):
            save_figure(fig, str(tmp_path / bad))
    assert not any((tmp_path / bad).exists() for bad in ("x.txt", "x.gif", "x"))


def test_host_run_writes_each_format_and_leaves_a_wrong_name_alone(ckpt, tmp_path, capsys):
    import zipfile

    from PIL import Image

    import host.run as run

    base = ["--board", "golden", "--class", "cat", "--checkpoint", ckpt]
    doc = tmp_path / "notes.md"
    doc.write_text("# a doc\n")
    for flag in ("--out", "--strip", "--gif", "--order-plot", "--phases"):
        assert _rc(run.main, base + [flag, str(doc)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and flag in err and "'.md'" in err, err
    assert doc.read_text() == "# a doc\n" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]
    outs = {"--out": "a.jpg", "--strip": "s.bmp", "--gif": "g.gif", "--order-plot": "r.svg", "--phases": "p.npz"}
    argv = base + [a for flag, name in outs.items() for a in (flag, str(tmp_path / name))]
    assert run.main(argv) == 0
    with Image.open(tmp_path / "a.jpg") as a, Image.open(tmp_path / "s.bmp") as s, Image.open(tmp_path / "g.gif") as g:
        assert (a.format, s.format, g.format) == ("JPEG", "BMP", "GIF")
    assert (tmp_path / "r.svg").read_bytes().startswith(b"<?xml")
    assert zipfile.is_zipfile(tmp_path / "p.npz")


def test_help_states_the_formats_of_every_output_option(capsys):
    from fixedpoint import cli
    from host.run import build_parser

    helps = {a.option_strings[0]: a.help for a in build_parser()._actions if a.option_strings}
    for flag, formats in (("--out", cli.IMAGE_FORMATS), ("--strip", cli.IMAGE_FORMATS), ("--gif", cli.GIF_FORMATS),
                          ("--order-plot", cli.FIGURE_FORMATS), ("--phases", cli.NPZ_FORMATS)):
        assert cli.formats_text(formats) in helps[flag], (flag, helps[flag])
    import model.analog_sweep as sweep

    with pytest.raises(SystemExit):
        sweep.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "writes docs/analog" not in text and "--out docs/analog" not in text and "default out/analog" in text


def test_files_of_the_repository_are_never_a_destination():
    """README.md (a tracked file outside out/, docs/, benchmarks/results/) is refused even with a matching
    extension; the generated docs and new files are fine (generators rewrite docs/*.md)."""
    from pathlib import Path

    from fixedpoint.files import check_output

    repo = Path(__file__).resolve().parent.parent
    with pytest.raises(ValueError, match="file of the repository"):
        check_output(repo / "README.md", "--out", "file", (".md",))
    with pytest.raises(ValueError, match="file of the repository"):
        check_output(repo / "fixedpoint" / "spec.py", "--out", "file", (".py",))
    assert check_output(repo / "docs" / "resources.md", "--out", "file", (".md",)).endswith("resources.md")
    assert check_output(repo / "out" / "new.md", "--out", "file", (".md",)).endswith("new.md")
