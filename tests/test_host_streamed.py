"""The sim board on a streamed-K build: K planes in pynq buffers (SimDevice.allocate, flushed, K_ADDR<q>), the
simulated DDR behind the core's AXI read ports, a batch build; phases equal golden bit for bit, and a pool too
small for K fails before any transfer with a message that says what to change."""
import numpy as np
import pytest

from fixedpoint.golden import initial_phases
from fixedpoint.spec import FORMATS, HardwareParams
from host.boards import BoardError
from host.boards.golden import GoldenBoard
from sim.images import random_image

pytest.importorskip("pynq")
pytest.importorskip("sim.client", reason="sim.client (RTL simulation server) not available")

# ImageNet-64's shape at small n: n_cond 1, 1000 classes, 4-bit K over two read ports, batch 2.
PARAMS = HardwareParams(16, 1, 8, FORMATS["pynq-z2-n1024"], batch=2, k_source="ddr", k_ports=2)


@pytest.fixture(scope="module")
def board():
    from host.boards.sim import SimBoard

    b = SimBoard(PARAMS, simulator="icarus")
    yield b
    b.close()


def test_streamed_sim_board_matches_golden(board):
    assert board.params == PARAMS  # identified from the core's registers (BUILD: batch, K in DDR, ports)
    g = GoldenBoard()
    p0 = initial_phases(5, 4, PARAMS.n_total, PARAMS.spec)
    for k, seed in enumerate((1, 2)):
        image = random_image(PARAMS, seed=seed, num_classes=1000, num_steps=10, k_scale=2.0)
        board.load_image(image)
        g.load_image(image)
        for i, c in enumerate((999, 3, 3, 512)):
            r, ref = board.run(c, p0[i]), g.run(c, p0[i])
            assert np.array_equal(r.phases, ref.phases), f"image {k} class {c}"
            assert r.overflow == ref.overflow
    assert board.device.stats["words_in"] > 0


def test_a_pool_too_small_for_k_fails_before_any_transfer(board):
    drv = board.driver
    drv._free_k()
    board._digest = None

    def refuse(shape, dtype):
        raise RuntimeError("BO allocation failed")  # what pynq 3.1 raises when CMA is exhausted

    drv._allocate, saved = refuse, drv._allocate
    before = board.device.stats["words_in"]
    try:
        with pytest.raises(BoardError, match=r"cma=\d+M.*Nothing was transferred"):
            board.load_image(random_image(PARAMS, seed=3, num_classes=2))
    finally:
        drv._allocate = saved
    assert board.device.stats["words_in"] == before


def test_volcano_from_an_un0_imagenet_checkpoint_sim_equals_golden(tmp_path):
    """Un-0-layout ImageNet-64 checkpoint (small n) -> import-un0 -> `host.run --class volcano` on golden and on the
    sim board, which simulates the streamed-K PYNQ-Z2 build (K in DDR, batch): identical phases and images (the
    PNGs differ only in the label naming the board)."""
    pytest.importorskip("torch")
    from host.api import board_params, checkpoint_config
    from host.run import main as run_main
    from host.testing import un0_imagenet_file
    from model.checkpoint import main as checkpoint_main

    pt = un0_imagenet_file(str(tmp_path / "imagenet64_n64.pt"), n=64, seed=4)
    ours = tmp_path / "imagenet64-n64.safetensors"
    assert checkpoint_main(["import-un0", pt, str(ours)]) == 0
    params = board_params(checkpoint_config(str(ours))[1])
    assert params.k_streamed and params.n_cond == 1 and params.batch > 1  # the build a PYNQ-Z2 would use
    outs = {}
    for board in ("golden", "sim"):
        outs[board] = tmp_path / f"{board}.npz"
        extra = ["--simulator", "icarus"] if board == "sim" else []
        assert run_main(["--board", board, "--class", "volcano", "--checkpoint", str(ours), "--seed", "3", "--n", "2",
                         "--out", str(tmp_path / f"{board}.png"), "--phases", str(outs[board]), *extra]) == 0
    with np.load(outs["golden"]) as g, np.load(outs["sim"]) as s:
        np.testing.assert_array_equal(g["phases"], s["phases"])
        np.testing.assert_array_equal(g["images"], s["images"])
        assert g["images"].shape[-2:] == (64, 64)


def test_volcano_with_the_cifar_checkpoint_says_how_to_import_imagenet(capsys):
    from host.run import main as run_main

    assert run_main(["--board", "golden", "--class", "volcano"]) == 2
    err = capsys.readouterr().err
    assert "ImageNet-64 class" in err and "import-un0" in err and "--checkpoint" in err


def test_a_core_for_another_model_names_the_build_the_model_needs(board, tmp_path):
    """An ImageNet-64 checkpoint on a core built for another size: one error naming the streamed-K build."""
    pytest.importorskip("torch")
    from host.api import Session
    from host.testing import un0_imagenet_file
    from model.checkpoint import main as checkpoint_main

    pt = un0_imagenet_file(str(tmp_path / "imagenet64_n128.pt"), n=128, seed=1)
    ours = tmp_path / "imagenet64-n128.safetensors"
    assert checkpoint_main(["import-un0", pt, str(ours)]) == 0
    with pytest.raises(BoardError, match=r"n=128, n_cond=1.*streamed-K build.*--k-source ddr --k-ports 2"):
        Session(board, ours, progress=False)


def test_a_batch_of_mixed_classes_equals_its_samples_run_alone_and_golden(board):
    """Issue 11 item 2 at the board interface: one run of the B=2 streamed build holds two samples of different
    classes; each equals golden and the same sample run alone, bit for bit; a one-sample run of a batch build too."""
    g = GoldenBoard()
    image = random_image(PARAMS, seed=9, num_classes=1000, num_steps=10, k_scale=2.0)
    board.load_image(image)
    g.load_image(image)
    assert board.batch == PARAMS.batch == 2 and g.batch == 2
    p0 = initial_phases(11, 2, PARAMS.n_total, PARAMS.spec)
    for ids in ((7, 998), (998, 7), (5, 5)):
        rows = p0 if ids != (998, 7) else p0[::-1]
        batch = board.run_batch(list(ids), rows)
        ref = g.run_batch(list(ids), rows)
        assert len(batch) == 2 and batch[0].timing["samples_in_run"] == 2
        for i, c in enumerate(ids):
            alone = board.run(c, rows[i])
            assert np.array_equal(batch[i].phases, ref[i].phases), (ids, i)
            assert np.array_equal(batch[i].phases, alone.phases), (ids, i)
            assert np.array_equal(g.run(c, rows[i]).phases, ref[i].phases)
    with pytest.raises(ValueError, match="holds 1..2 samples"):
        board.run_batch([1, 2, 3], initial_phases(1, 3, PARAMS.n_total, PARAMS.spec))
    with pytest.raises(ValueError, match="one class per sample"):
        board.run_batch([1], p0)
    with pytest.raises(ValueError, match="outside 0..999"):
        board.run_batch([1, 1000], p0)
