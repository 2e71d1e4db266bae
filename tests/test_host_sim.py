"""The sim board (real RTL through pynq's MMIO/DMA/allocate on SimDevice and host.driver) against golden:
same phases bit for bit, same PNG bytes, and every fault a clear error."""
import threading
import time

import numpy as np
import pytest

from fixedpoint.golden import initial_phases
from model.hardware_image import image_from_checkpoint
from fixedpoint.spec import PYNQ_Z2, HardwareParams, get_format
from host.boards import BoardDisconnected, BoardError, BoardTimeout, CoreMismatch, ImageMismatch
from host.boards.golden import GoldenBoard
from host.boards.pynq_z2 import OverlayBoard
from host.run import main
from host.boards.simdevice import DMA_BASE, POLL_CHUNK_CYCLES
from host.testing import random_checkpoint

# As a PYNQ user does before creating an Overlay: registers the user-facing driver (load/generate) for the core's
# VLNV, so the simulated overlays below bind host.pynq_driver.OscillatorCore, as the board's Overlay does.
import host.pynq_driver  # noqa: E402,F401

pytest.importorskip("pynq")
client_mod = pytest.importorskip("sim.client", reason="sim.client (RTL simulation server) not available")

PARAMS = HardwareParams(64, 8, 8)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


@pytest.fixture(scope="module")
def image(ckpt):
    return image_from_checkpoint(ckpt, params=PARAMS)


@pytest.fixture(scope="module")
def sim(image):
    from host.boards.sim import SimBoard

    b = SimBoard(PARAMS)
    b.load_image(image)
    yield b
    b.close()


def _golden(image):
    g = GoldenBoard()
    g.load_image(image)
    return g


def test_sim_matches_golden_bit_for_bit(sim, image):
    from fixedpoint.layout import stream_lengths

    g = _golden(image)
    lengths = stream_lengths(PARAMS)
    p0 = initial_phases(11, 5, PARAMS.n_total, PARAMS.spec)
    for i, c in enumerate((0, 3, 3, 9, 3)):
        before = sim.device.stats["words_in"]
        r, ref = sim.run(c, p0[i]), g.run(c, p0[i])
        # the drive rows are resent only when the class changes (the core keeps them between runs)
        sent = sim.device.stats["words_in"] - before
        assert sent == lengths["phase"] + (0 if i == 2 else lengths["drive"])
        np.testing.assert_array_equal(r.phases, ref.phases)
        assert r.overflow == ref.overflow
        assert r.timing["compute_cycles"] > PARAMS.mac_cycles_per_step * image.num_steps
        assert r.timing["compute_s"] == pytest.approx(r.timing["compute_cycles"] / 100e6)
    assert sim.device.stats["words_in"] > 0 and sim.device.stats["words_out"] == 5 * PARAMS.n_total


def test_sim_trajectory_equals_one_long_run_and_golden(sim, image):
    g = _golden(image)
    p0 = initial_phases(3, 1, PARAMS.n_total, PARAMS.spec)[0]
    traj = sim.run_trajectory(5, p0)
    np.testing.assert_array_equal(traj.trajectory, g.run_trajectory(5, p0).trajectory)
    np.testing.assert_array_equal(traj.trajectory[-1], sim.run(5, p0).phases)
    # the golden trajectory itself: GoldenModel's native per-step record
    from fixedpoint.golden import GoldenModel

    native = GoldenModel(image).run(np.array([5]), p0[None], trajectory=True).trajectory[:, 0]
    np.testing.assert_array_equal(traj.trajectory, native)


def test_sim_image_cache_and_reload(sim, image, ckpt):
    assert sim.load_image(image) is False  # same digest: nothing sent
    before = sim.device.stats["words_in"]
    other = image_from_checkpoint(ckpt, params=PARAMS)
    other.omega_inc = other.omega_inc.copy()
    other.omega_inc[0] += 1
    assert sim.load_image(other) is True and sim.device.stats["words_in"] > before
    p0 = initial_phases(0, 1, PARAMS.n_total, PARAMS.spec)[0]
    np.testing.assert_array_equal(sim.run(1, p0).phases, _golden(other).run(1, p0).phases)
    sim.load_image(image)


def test_wrong_build_image_is_refused(sim, ckpt):
    with pytest.raises(ImageMismatch, match="lanes=16"):
        sim.load_image(image_from_checkpoint(ckpt, params=HardwareParams(64, 8, 16)))


def test_core_identity_checks(sim):
    from host.boards.simdevice import SimOverlay

    dev = sim.device
    with pytest.raises(CoreMismatch, match="build hash"):
        OverlayBoard(SimOverlay(dev).osc_core_0, expect_build_hash=0x12345678)
    moved = {k: dict(v) for k, v in dev.ip_dict.items()}
    moved["osc_core_0"]["phys_addr"] = DMA_BASE  # the DMA's registers where the core should be
    with pytest.raises(CoreMismatch, match="no oscillator core"):
        OverlayBoard(SimOverlay(dev, moved).osc_core_0)

    class OtherVersion(type(dev)):
        def _read(self, address):
            v = super()._read(address)
            return v + (1 << 16) if address == self.ip_dict["osc_core_0"]["phys_addr"] + 4 else v

    fake = OtherVersion.__new__(OtherVersion)
    fake.__dict__.update(dev.__dict__)
    with pytest.raises(CoreMismatch, match="version"):
        OverlayBoard(SimOverlay(fake).osc_core_0)


def test_core_load_error_is_reported(sim, image):
    drv = sim.driver
    want = drv.lengths["gain"]
    drv.lengths["gain"] = want + 1  # the host now sends one word too many; the core must flag it
    try:
        with pytest.raises(BoardError, match="rejected the gain load"):
            drv.stream("gain", np.zeros(want + 1, np.uint32))
    finally:
        drv.lengths["gain"] = want
    sim._digest = None  # the gain memory may be damaged: force a reload
    sim.load_image(image)
    p0 = initial_phases(1, 1, PARAMS.n_total, PARAMS.spec)[0]
    np.testing.assert_array_equal(sim.run(2, p0).phases, _golden(image).run(2, p0).phases)


def test_run_timeout_aborts_and_board_recovers(sim, image):
    drv = sim.driver
    drv.run_timeout_s = 0.0
    sim.device.poll_chunk_cycles = 20_000  # simulated time per busy poll: the run outlasts the first poll
    p0 = initial_phases(2, 1, PARAMS.n_total, PARAMS.spec)[0]
    try:
        with pytest.raises(BoardTimeout, match="aborted"):
            sim.run(0, p0, steps=60000)
    finally:
        drv.run_timeout_s = 600.0
        sim.device.poll_chunk_cycles = POLL_CHUNK_CYCLES
    np.testing.assert_array_equal(sim.run(0, p0).phases, _golden(image).run(0, p0).phases)


def test_cli_sim_and_golden_write_identical_phases_and_images(ckpt, tmp_path):
    outs = []
    for board in ("golden", "sim"):
        outs.append(tmp_path / f"{board}.npz")
        assert main(["--board", board, "--class", "frog", "--checkpoint", ckpt, "--lanes", "8", "--seed", "4",
                     "--n", "2", "--out", str(tmp_path / f"{board}.png"), "--phases", str(outs[-1])]) == 0
    with np.load(outs[0]) as g, np.load(outs[1]) as s:
        np.testing.assert_array_equal(g["phases"], s["phases"])
        np.testing.assert_array_equal(g["images"], s["images"])


def test_simulated_overlay_binds_the_pynq_driver(sim, ckpt, image):
    """SimOverlay binds its IP through pynq's own VLNV binding: after `import host.pynq_driver` the core is
    host.pynq_driver.OscillatorCore (the driver the PYNQ-Z2 overlay gets), the DMA pynq's DMA driver; the driver's
    load/generate run on the RTL. Without that import the boards bind the IP class below it (host.boards.pynq_ip)."""
    from pynq.lib.dma import DMA

    from host.pynq_driver import OscillatorCore

    core = sim.overlay.osc_core_0
    assert isinstance(core, OscillatorCore) and core is sim.core and core.board() is sim
    assert isinstance(sim.overlay.axi_dma_0, DMA)
    assert core.info()["params"] == PARAMS.to_dict()
    core.load(ckpt, progress=False)
    s = core.generate("frog", n=2, seed=3)
    g = _golden(image)
    np.testing.assert_array_equal(s.phases, np.stack([g.run(6, p).phases for p in s.phases0]))
    assert s.board == "sim" and (s.timings["compute_cycles"] > 0).all()


def test_killed_simulation_mid_run_is_a_clear_error(image):
    import psutil

    from host.boards.sim import SimBoard

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    b = SimBoard(PARAMS)
    try:
        b.load_image(image)
        procs = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert procs, "SimClient started no process"
        p0 = initial_phases(5, 1, PARAMS.n_total, PARAMS.spec)[0]
        err = []

        def work():
            try:
                b.run(1, p0, steps=60000)
            except Exception as e:  # noqa: BLE001
                err.append(e)

        th = threading.Thread(target=work)
        th.start()
        time.sleep(1.0)
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        th.join(60)
        assert not th.is_alive()
        assert err and isinstance(err[0], BoardDisconnected), err
        assert "simulation went away" in str(err[0])
        with pytest.raises(BoardDisconnected):
            b.run(1, p0)
    finally:
        b.close()


def test_pynq_z2_core_at_n256(tmp_path):
    """One run of a PYNQ-Z2-format core at n=256 (64 lanes): sim equals golden bit for bit."""
    from host.boards.sim import SimBoard

    params = HardwareParams(256, 8, PYNQ_Z2.lanes, get_format("pynq-z2-n1024"))
    ck = random_checkpoint(str(tmp_path / "n256.safetensors"), "cifar10-n256")
    img = image_from_checkpoint(ck, params=params)
    p0 = initial_phases(0, 1, params.n_total, params.spec)[0]
    with SimBoard(params) as b:
        b.load_image(img)
        np.testing.assert_array_equal(b.run(7, p0).phases, _golden(img).run(7, p0).phases)
