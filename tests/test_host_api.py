"""host.api (the Python API), the default core build, seeds shared with model.sample, float-vs-board pictures."""
import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pytest

import host
from bitstreams.roadmap_model import aux_bram36, k_bram36
from bitstreams.roadmap_params import ParamSet
from fixedpoint.golden import initial_phases, initial_radians
from fixedpoint.readout import phases_to_radians
from fixedpoint.spec import FORMATS, PYNQ_Z2, default_build
from host.api import Session, board_params, open as open_session
from host.boards.golden import GoldenBoard
from host.testing import agent_process, random_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


def test_api_golden_shapes_units_and_determinism(ckpt):
    with host.open("golden", ckpt, lanes=8, progress=False) as osc:
        s = osc.generate("cat", n=3, seed=4, trajectory=True)
        again = osc.generate(3, n=3, seed=4)
        other = osc.generate("cat", n=1, seed=5)
        p = osc.params
    nt = p.n_total
    assert s.images.shape == (3, 3, 32, 32) and s.images.dtype == np.float64
    assert -1 <= s.images.min() and s.images.max() <= 1
    assert s.phases.shape == (3, nt) and s.phases.dtype == np.int64
    np.testing.assert_array_equal(s.phases0, initial_phases(4, 3, nt, p.spec))
    assert s.trajectory.shape == (3, 11, nt) and s.step_images.shape == (3, 11, 3, 32, 32)
    np.testing.assert_array_equal(s.trajectory[:, 0], s.phases0)
    np.testing.assert_array_equal(s.trajectory[:, -1], s.phases)
    np.testing.assert_allclose(s.step_images[:, -1], s.images, atol=1e-5)  # float32 decoder, other batch
    np.testing.assert_allclose(s.times, np.arange(11) * 0.1)
    np.testing.assert_allclose(s.radians, s.phases * 2 * np.pi / 2**24)
    r = s.order_parameter()
    assert r.shape == (3, 11) and (0 <= r).all() and (r <= 1).all()
    assert set(s.timings) >= {"compute_s", "decode_s", "total_s"} and all(v.shape == (3,) for v in s.timings.values())
    assert s.class_name == "cat" and s.class_id == 3 and s.board == "golden" and s.params["lanes"] == 8
    np.testing.assert_array_equal(again.phases, s.phases)  # class by index, no trajectory: same numbers
    assert not np.array_equal(other.phases[0], s.phases[0])
    # the session's board gives what the golden model computes directly for the same rows
    g = GoldenBoard()
    g.load_image(osc.image)
    np.testing.assert_array_equal(s.phases[1], g.run(3, s.phases0[1]).phases)


def test_api_bad_input_is_one_clear_error(ckpt, tmp_path):
    with pytest.raises(FileNotFoundError, match="import-un0"):
        host.open("golden", tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="unknown board"):
        host.open("gold", ckpt)
    with host.open("golden", ckpt, progress=False) as osc:
        with pytest.raises(ValueError, match="volcano.*cifar10"):
            osc.generate("volcano")
        for bad in ({"n": 0}, {"n": 1.5}, {"seed": -1}):
            with pytest.raises(ValueError, match="n must|seed must"):
                osc.generate("cat", **bad)


def test_a_directory_given_as_checkpoint_or_bitstream_says_so(ckpt, tmp_path, capsys):
    """A directory where a file belongs is not "not found": the error says it is a directory and names the
    files of the expected kind inside it (API, host.run's one line, the pynq-z2 bitfile, the agent key)."""
    from fixedpoint.files import DirectoryGivenError
    from host import run
    from host.auth import KeyFileError, load_key
    from host.boards import open_board

    d = Path(ckpt).parent
    with pytest.raises(DirectoryGivenError, match=f"checkpoint '{d}' is a directory, not a file; give a "
                       rf"\.safetensors file: {d}/n64\.safetensors"):
        host.open("golden", d)
    assert run.main(["--board", "golden", "--checkpoint", str(d), "--class", "cat"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "is a directory" in err and "n64.safetensors" in err
    with pytest.raises(FileNotFoundError, match=r"bitstream .* is a directory.*\.bit file \(there is none in it\)"):
        open_board("pynq-z2", bitfile=str(tmp_path))
    with pytest.raises(KeyFileError, match="is a directory; give the key file itself"):
        load_key(str(tmp_path))


def test_api_arguments_of_the_wrong_type_are_refused(ckpt):
    """trajectory="yes" (truthy) or progress=0 is a TypeError naming the argument, not a silent truth value; so
    are a lanes that is no int, a timeout that is no number and an unknown decoder, before any board opens."""
    for kw, err, says in [({"progress": "no"}, TypeError, "progress must be True or False"),
                          ({"lanes": "8"}, TypeError, "lanes must be an int"),
                          ({"lanes": 8.0}, TypeError, "lanes must be an int"),
                          ({"timeout": "5"}, TypeError, "timeout must be a number"),
                          ({"timeout": float("nan")}, ValueError, "timeout must be between 0 and"),
                          ({"decoder": "bogus"}, ValueError, "decoder must be one of 'auto', 'torch', 'numpy'"),
                          ({"bitfile": 3}, TypeError, "bitfile must be a path"),
                          ({"fmt": 3}, TypeError, "fmt must be a str")]:
        with pytest.raises(err, match=says):
            host.open("golden", ckpt, **kw)
    with host.open("golden", ckpt, progress=np.bool_(False)) as osc:
        for kw, says in [({"trajectory": "yes"}, "trajectory must be True or False"),
                         ({"trajectory": 1}, "trajectory must be True or False"),
                         ({"progress": "no"}, r"progress must be True or False \(or None\)")]:
            with pytest.raises(TypeError, match=says):
                osc.generate("cat", **kw)
        assert osc.generate("cat", trajectory=np.bool_(True), progress=None).trajectory is not None
    with pytest.raises(TypeError, match="progress must be True or False"):
        Session(GoldenBoard(), ckpt, progress="yes")


def test_api_errors_name_the_api_argument_not_the_cli_flag(ckpt):
    with pytest.raises(ValueError, match="needs bitfile=PATH.bit") as e:
        host.open("pynq-z2", ckpt)
    assert "--bitfile" not in str(e.value)


def test_api_same_call_on_a_remote_board(ckpt):
    """The same generate() on golden and on a golden board behind `python -m host.agent` (tcp): same numbers."""
    with host.open("golden", ckpt, progress=False) as local:
        a = local.generate("ship", n=2, seed=1)
    with agent_process("--board", "golden") as (url, _):
        with host.open(url, ckpt, progress=False) as remote:
            b = remote.generate("ship", n=2, seed=1)
            assert remote.name.startswith("tcp://")
    np.testing.assert_array_equal(a.phases, b.phases)
    np.testing.assert_allclose(a.images, b.images)
    assert "link_s" in b.timings or "total_s" in b.timings


def test_default_build_is_the_pynq_z2_build_and_fits_the_chip():
    from model.config import get_config

    cfg = get_config("cifar10-n1024")
    assert board_params(cfg) == default_build(1024, 8) == PYNQ_Z2
    P = ParamSet()
    p = PYNQ_Z2
    used = k_bram36(p.n, p.n_cond, p.lanes, p.spec.coupling_bits) + aux_bram36(p.n, p.n_cond, p.lanes)
    assert used <= P.v("fpga_bram36", "1")
    # the 8-bit "default" format would not fit: that is why it is not the default for n1024
    assert k_bram36(1024, 8, 64, FORMATS["default"].coupling_bits) > P.v("fpga_bram36", "1")
    assert default_build(64, 8) == default_build(64, 8, "default")
    assert default_build(1024, 8, "default").spec == FORMATS["default"]
    assert default_build(1024, 8, lanes=32).lanes == 32
    with pytest.raises(ValueError, match="unknown numerics format"):
        default_build(64, 8, "nope")


def test_host_run_and_measure_share_the_default_build():
    import inspect

    import bitstreams.measure as measure
    import host.api as api

    # one definition: both call fixedpoint.spec.default_build, neither spells a format or lane count
    for mod in (measure, api):
        src = inspect.getsource(mod)
        assert "default_build(" in src and "default_lanes(" not in src and 'FORMATS["' not in src


def test_seed_gives_float_model_and_boards_the_same_start(ckpt):
    torch = pytest.importorskip("torch")
    from model.checkpoint import load_checkpoint
    from model.sample import float_phases, seeded_phases

    for spec in FORMATS.values():  # every named format: the same radians from the same seed
        np.testing.assert_array_equal(phases_to_radians(initial_phases(9, 2, 72, spec), spec), initial_radians(9, 2, 72))
    np.testing.assert_array_equal(seeded_phases(9, 2, 72).numpy(), initial_radians(9, 2, 72))
    model = load_checkpoint(ckpt).double().eval()
    theta, images = float_phases(model, [3, 3], seed=2)
    # ten Euler steps from the same start, float vs the near-float "wide" golden format: close
    with Session(GoldenBoard(default_build(64, 8, "wide")), ckpt, progress=False) as osc:
        s = osc.generate("cat", n=2, seed=2)
    err = np.abs(np.angle(np.exp(1j * (s.radians[:, :64] - theta.numpy()[:, :64]))))
    assert err.max() < 1e-3
    with torch.no_grad():
        ref = model.decode(model.features(model.integrate(torch.tensor([3, 3]), seeded_phases(2, 2, 72)))).numpy()
    np.testing.assert_allclose(images.numpy(), ref)


def test_compare_cli_writes_one_labeled_picture(ckpt, tmp_path, capsys):
    pytest.importorskip("torch")
    from PIL import Image

    from host.compare import main, phase_error, psnr

    out = tmp_path / "cmp.png"
    assert main(["--board", "golden", "--class", "frog", "--checkpoint", ckpt, "--n", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert len(lines) == 2 and all("rad RMS" in ln and "dB" in ln for ln in lines)
    with Image.open(out) as im:
        assert im.size[0] > 2 * 32 * 4 and im.size[1] > 2 * 32 * 4
    assert os.listdir(tmp_path) == ["cmp.png"]
    assert psnr(np.zeros(4), np.zeros(4)) == math.inf
    assert psnr(np.zeros(4), np.full(4, 0.2)) == pytest.approx(10 * math.log10(4 / 0.04))
    assert phase_error(np.array([np.pi - 0.01]), np.array([-np.pi + 0.01])) == pytest.approx(0.02)


def test_compare_marks_a_bit_exact_board(ckpt):
    pytest.importorskip("torch")
    from host.compare import compare, comparison_picture

    with host.open(GoldenBoard(default_build(64, 8)), ckpt, progress=False) as osc:
        osc.board.name = "golden-copy"  # another board object: compared against an in-process golden run
        c = compare(osc, "cat", n=2, seed=0, progress=False)
    assert c.exact.all() and (c.phase_err_board == c.phase_err_golden).all()
    assert c.phase_err_golden.shape == (2,) and (c.psnr_golden > 0).all()
    assert comparison_picture(c, scale=2).size[0] > 3 * 32 * 2  # three columns


def test_labeled_tiles_scale_by_nearest_neighbour():
    from model.plots import PAD, labeled_tiles

    tile = np.random.default_rng(0).integers(0, 256, (1, 1, 5, 7, 3), dtype=np.uint8)
    img = np.asarray(labeled_tiles(tile, scale=3))
    crop = img[PAD:PAD + 15, PAD:PAD + 21]
    np.testing.assert_array_equal(crop, tile[0, 0].repeat(3, axis=0).repeat(3, axis=1))
    titled = labeled_tiles(tile, title="cat · board sim · seed 0", col_labels=["step 0\nt=0.00"], row_labels=["#0"])
    assert titled.size[0] > img.shape[1] and titled.size[1] > img.shape[0]


def test_order_plot_axis_starts_at_zero(ckpt):
    from host.pictures import order_figure

    with host.open("golden", ckpt, progress=False) as osc:
        groups = [osc.generate(c, n=3, seed=0, trajectory=True) for c in ("cat", "dog")]
    fig = order_figure(groups)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert lo == 0 and hi <= 1 and hi >= max(g.order_parameter().max() for g in groups)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("cat" in t for t in labels) and any("dog" in t for t in labels) and any("random" in t for t in labels)
    with pytest.raises(ValueError, match="trajector"):
        order_figure(dataclasses.replace(groups[0], trajectory=None))


def test_api_and_pictures_work_without_torch(ckpt, tmp_path):
    """On the PYNQ-Z2 there is no torch: the API, the PYNQ driver module and the pictures run on numpy alone."""
    import subprocess
    import sys

    code = f"""
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
import host, host.pynq_driver
from host import pictures
with host.open("golden", {str(ckpt)!r}, progress=False) as osc:
    s = osc.generate("cat", n=2, seed=1, trajectory=True)
    assert osc.decoder.kind == "numpy"
pictures.save_samples(s, {str(tmp_path / "g.png")!r})
pictures.save_strip(s, {str(tmp_path / "s.png")!r})
pictures.save_figure(pictures.order_figure(s), {str(tmp_path / "r.png")!r})
assert "torch" not in sys.modules
print("ok", s.images.shape)
"""
    root = str(Path(__file__).resolve().parent.parent)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root,
                         env={**os.environ, "PYTHONPATH": root})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ok (2, 3, 32, 32)" in res.stdout
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("g.png", "s.png", "r.png"))


def test_api_limits_are_the_clis_and_checked_before_work(ckpt):
    """generate() takes the CLI's limits (one source: host.api.check_generate_args, fixedpoint.cli.MAX_SEED):
    too many samples or a seed past 2**32-1 is a ValueError naming the limit, before any allocation; open(None)
    lists the boards; a closed session refuses to generate."""
    from fixedpoint.cli import MAX_SEED
    from host import api, run
    from host.boards import BoardError

    assert run.MAX_SAMPLES is api.MAX_SAMPLES
    with host.open("golden", ckpt, progress=False) as osc:
        with pytest.raises(ValueError, match=f"seed must be an integer between 0 and {MAX_SEED}"):
            osc.generate("cat", seed=2**40)
        with pytest.raises(ValueError, match=f"n must be an integer between 1 and {api.MAX_SAMPLES}"):
            osc.generate("cat", n=10**9)
        assert osc.generate("cat", seed=MAX_SEED).seed == MAX_SEED
    with pytest.raises(BoardError, match="closed.*host.open"):
        osc.generate("cat")
    with pytest.raises(TypeError, match="golden, sim, pynq-z2"):
        host.open(None, ckpt)
    with pytest.raises(SystemExit):  # the CLI's seed check is the same number
        run.main(["--board", "golden", "--checkpoint", str(ckpt), "--class", "cat", "--seed", str(MAX_SEED + 1)])


def test_generate_runs_batches_of_mixed_classes(ckpt):
    """Issue 11 item 2 at the API: a batch build's board runs up to B samples per run, samples of one call (and one
    run) may differ in class, and each sample's phases equal the same sample generated alone."""
    from host.api import Session

    base = board_params(host.api.checkpoint_config(ckpt)[1], lanes=8)
    p3 = dataclasses.replace(base, batch=3, k_source="ddr", k_ports=2)
    board = GoldenBoard(p3)
    runs = []
    real = board._run_batch
    board._run_batch = lambda ids, ph, steps: runs.append(list(ids)) or real(ids, ph, steps)
    with Session(board, ckpt, progress=False) as osc:
        classes = ["cat", "dog", 8, "cat", "frog"]
        s = osc.generate(classes, seed=2)
        assert runs == [[3, 5, 8], [3, 6]]  # 5 samples in runs of at most B = 3, classes mixed within a run
        assert s.class_ids.tolist() == [3, 5, 8, 3, 6] and s.class_id == -1 and s.class_name == "cat+dog+ship+frog"
        assert s.phases.shape == (5, p3.n_total) and s.timings["samples_in_run"].tolist() == [3, 3, 3, 2, 2]
        np.testing.assert_array_equal(s.phases0, initial_phases(2, 5, p3.n_total, p3.spec))
        for i, c in enumerate(s.class_ids):
            alone = GoldenBoard(p3)
            alone.load_image(osc.image)
            np.testing.assert_array_equal(s.phases[i], alone.run(int(c), s.phases0[i]).phases)
        one = osc.generate("cat", seed=2)
        np.testing.assert_array_equal(one.phases[0], s.phases[0])
        assert one.class_id == 3 and one.class_name == "cat" and one.class_ids.tolist() == [3]
        with pytest.raises(ValueError, match="2 classes for n=3"):
            osc.generate(["cat", "dog"], n=3)
        with pytest.raises(ValueError, match="unknown class|not a class|did you mean|volcano"):
            osc.generate(["cat", "volcano"])
