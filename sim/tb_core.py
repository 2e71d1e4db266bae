"""cocotb regression of the oscillator core against fixedpoint.golden (bit for bit).

Each test reads its build parameters from OSC_PARAMS (HardwareParams JSON) and options from OSC_OPTS (JSON:
seed, images, runs, backpressure): sim/regression.py sets both. Every random choice comes from
random.Random(seed) (or a seed drawn from it), so a run replays exactly from its seed. Each test appends
{"test", "comparisons", "seed"} to the JSON-lines file OSC_STATS when set (the regression's comparison count).
Structure: reference model (fixedpoint.golden), driver (sim/bfm.CoreDriver: cocotbext-axi AXI-Lite master,
AXI-Stream source/sink), checker (exact compare of every phase word and of the OVERFLOW flag).
"""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import LOAD_TARGETS, model_streams, request_streams, stream_lengths, words_to_phases
from fixedpoint.spec import HardwareParams
from rtl import regs
from rtl.resources import cycle_accounting
from sim.bfm import CoreDriver, cycle_bound
from sim.images import edge_phases, extreme_image, random_image, wide_phases

#: Step counts of the random runs: the product's 10, beyond it, and short runs (0 = init pass only).
STEP_CHOICES = (0, 1, 2, 3, 5, 7, 10, 10, 11, 12, 14)
_count = {"comparisons": 0}


def _params() -> HardwareParams:
    return HardwareParams.from_dict(json.loads(os.environ["OSC_PARAMS"]))


def _opts() -> dict:
    return json.loads(os.environ.get("OSC_OPTS", "{}"))


def _seed(o: dict, salt: int = 0) -> int:
    return int(o.get("seed", 1)) * 1_000_003 + salt


def _record(test: str, o: dict, comparisons: int) -> None:
    """Append this test's comparison count to OSC_STATS (read back by sim.regression)."""
    path = os.environ.get("OSC_STATS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": test, "comparisons": comparisons, "seed": o.get("seed")}) + "\n")


async def load_model(drv: CoreDriver, image):
    for name, words in model_streams(image).items():
        await drv.load(name, words)
        assert await drv.read("LOAD_COUNT") == len(words)


async def run_request(drv: CoreDriver, image, class_id: int, phases0: np.ndarray, steps: int):
    """Load a request, run it, read the phases back; returns (phases, status)."""
    p = image.params
    for name, words in request_streams(image, class_id, phases0).items():
        await drv.load(name, words)
    status = await drv.run(steps, image.gain_shift, cycle_bound(p, steps))
    words = await drv.readback(p.state_words)
    return words_to_phases(words, p), status


def check(got, expect_phases, status, expect_overflow, what=""):
    """One bit-exact comparison: every phase word and the OVERFLOW flag equal golden's."""
    _count["comparisons"] += 1
    assert not status & regs.bits("STATUS", "LOAD_ERROR"), f"{what}: load error"
    assert status & regs.bits("STATUS", "DONE"), f"{what}: not done"
    diff = np.nonzero(got != expect_phases)[0]
    assert diff.size == 0, (f"{what}: {diff.size} phases differ from golden, first rows {diff[:8].tolist()}: "
                            f"got {got[diff[:4]].tolist()} expected {expect_phases[diff[:4]].tolist()}")
    assert bool(status & regs.bits("STATUS", "OVERFLOW")) == bool(expect_overflow), f"{what}: overflow flag"


@cocotb.test()
async def test_golden_runs(dut):
    """Random images, classes, start phases and step counts up to 14 (the product runs 10); every phase of every
    run equals the golden model. Start phases are either the product's [-1/2, 1/2) turn or anywhere in the word."""
    p, o = _params(), _opts()
    rng = random.Random(_seed(o))
    dut._log.info(f"test_golden_runs seed {o.get('seed')}")
    start = _count["comparisons"]
    drv = CoreDriver(dut)
    if o.get("backpressure"):
        drv.src.set_pause_generator(iter(lambda: rng.random() < 0.3, None))
        drv.sink.set_pause_generator(iter(lambda: rng.random() < 0.5, None))
    await drv.reset()
    for img_k in range(o.get("images", 2)):
        classes = rng.randint(1, 4)
        image_seed = rng.randrange(1 << 30)
        image = random_image(p, seed=image_seed, num_classes=classes, num_steps=rng.choice([10, 12, rng.randint(1, 14)]),
                             k_scale=rng.choice([0.5, 1.0, 3.0]))
        await load_model(drv, image)
        golden = GoldenModel(image)
        for run_k in range(o.get("runs", 2)):
            c = rng.randrange(classes)
            steps = rng.choice(STEP_CHOICES)
            ph_seed = rng.randrange(1 << 30)
            if rng.random() < 0.3:
                phases0 = wide_phases(ph_seed, p)
            else:
                phases0 = initial_phases(ph_seed, 1, p.n_total, p.spec)[0]
            got, status = await run_request(drv, image, c, phases0, steps)
            exp = golden.run(c, phases0[None], steps=steps)
            check(got, exp.phases[0], status, exp.overflow[0],
                  f"image {img_k} (seed {image_seed}) run {run_k} class {c} steps {steps} phases seed {ph_seed}")
            assert await drv.read("STEP_COUNT") == steps
            cycles = await drv.read("CYCLES_LO") | (await drv.read("CYCLES_HI") << 32)
            assert 0 < cycles <= cycle_bound(p, steps)
            if steps:
                step_cycles = await drv.read("STEP_CYCLES")
                assert p.mac_cycles_per_step < step_cycles <= cycle_accounting(p)["step_model"], step_cycles
    _record("test_golden_runs", o, _count["comparisons"] - start)


@cocotb.test()
async def test_worst_cases(dut):
    """Directed worst cases, each compared with golden bit for bit:
    * every K, drive and conditioning weight at +max or -max and every gain at its maximum, with one target row at
      phase 0 and all others at +1/4 turn: that row's accumulator reaches its largest reachable magnitude
      A*((n-1)*coupling_max + M*drive_max) (diagonals are zero) and u = c*accS its largest; one target per lane in
      the first and last group and per conditioning row, both signs, GAIN_SHIFT at 1, mid and 62;
    * mixed extremes (random signs, gains 0 / 1 / max) from start phases at the wrap edges (+-2**(P-1), +-64 turns,
      quarter turns) for 1, 2 and 10 steps;
    * overflow after exactly 1 step upwards and downwards, and edge phases that stay inside (no overflow)."""
    p, o = _params(), _opts()
    rng = random.Random(_seed(o, 17))
    start = _count["comparisons"]
    drv = CoreDriver(dut)
    await drv.reset()
    s, n, M, L = p.spec, p.n, p.n_cond, p.lanes
    quarter = 1 << (s.phase_frac_bits - 2)
    targets = sorted({*range(min(L, n)), *range(max(0, n - L), n), *range(n, n + M)})
    for sign in (1, -1):
        image = extreme_image(p, k_sign=sign, drive_sign=sign, gain="max", gain_shift=1)
        await load_model(drv, image)
        for t_k, target in enumerate(targets):
            image.gain_shift = (1, 1 + rng.randrange(61), 62)[t_k % 3]
            golden = GoldenModel(image)
            phases0 = np.full(p.n_total, quarter, dtype=np.int64)
            phases0[target] = 0
            c = 0 if sign > 0 else 1  # class 1's drive has the opposite sign: exercise it too
            got, status = await run_request(drv, image, c, phases0, 1)
            exp = golden.run(c, phases0[None], steps=1)
            check(got, exp.phases[0], status, exp.overflow[0],
                  f"extreme weights sign {sign}, target row {target}, R {image.gain_shift}")
    for k in range(6):
        image = extreme_image(p, k_sign=0, drive_sign=0, gain="mixed", gain_shift=rng.choice([1, 20, 40, 62]),
                              seed=rng.randrange(1 << 30), omega="edge")
        await load_model(drv, image)
        golden = GoldenModel(image)
        for steps in (1, 2, 10):
            phases0 = edge_phases(rng.randrange(1 << 30), p)
            c = rng.randrange(image.num_classes)
            got, status = await run_request(drv, image, c, phases0, steps)
            exp = golden.run(c, phases0[None], steps=steps)
            check(got, exp.phases[0], status, exp.overflow[0], f"mixed extremes {k}, steps {steps}, R {image.gain_shift}")
    # Zero coupling: only omega moves the phases (d = 0). Overflow after exactly one step, upwards and downwards;
    # then the edges themselves kept or crossed without overflow: +-2**(P-1), just inside and across +-64 turns
    # (2**(P-2): a core that wrapped at +-64 turns instead of +-128 fails here), exact quarter turns.
    lim, t64 = 1 << (s.phase_bits - 1), 1 << (s.phase_bits - 2)
    image = extreme_image(p, k_sign=None, drive_sign=None, gain="max", gain_shift=1)
    for omega, pattern, expect_ovf in ((1, [lim - 1], True), (-1, [-lim], True),
                                       (0, [lim - 1, -lim, t64 - 1, -t64, quarter, -quarter], False),
                                       (1, [lim - 2, t64 - 1, -t64 - 1, t64, -lim], False),
                                       (-1, [-lim + 1, -t64, t64, t64 + 1, lim - 1], False)):
        image.omega_inc[:] = omega
        await load_model(drv, image)
        phases0 = np.resize(np.array(pattern, dtype=np.int64), p.n_total)
        got, status = await run_request(drv, image, 0, phases0, 1)
        exp = GoldenModel(image).run(0, phases0[None], steps=1)
        assert bool(exp.overflow[0]) == expect_ovf
        check(got, exp.phases[0], status, expect_ovf, f"edge phases {pattern} omega {omega}")
    _record("test_worst_cases", o, _count["comparisons"] - start)


@cocotb.test()
async def test_overflow_flag(dut):
    """A phase driven past the word's range wraps exactly as golden and raises the sticky OVERFLOW flag."""
    p = _params()
    drv = CoreDriver(dut)
    await drv.reset()
    image = random_image(p, seed=5, num_steps=2)
    lim = 1 << (p.spec.phase_bits - 1)
    image.omega_inc[:] = lim // 2 - 1 + np.arange(p.n_total) % 3  # two steps from near the top overflow
    await load_model(drv, image)
    phases0 = initial_phases(3, 1, p.n_total, p.spec)[0]
    phases0[:] = lim - 1 - np.arange(p.n_total)
    got, status = await run_request(drv, image, 0, phases0, 2)
    exp = GoldenModel(image).run(0, phases0[None], steps=2)
    assert exp.overflow[0]
    check(got, exp.phases[0], status, True, "overflow")
    await drv.write("CTRL", regs.bits("CTRL", "CLEAR"))
    assert not await drv.read("STATUS") & regs.bits("STATUS", "OVERFLOW")
    _record("test_overflow_flag", _opts(), 1)


@cocotb.test()
async def test_registers(dut):
    """ID, version, build parameters, RW registers, W1C interrupt status, SLVERR on bad accesses."""
    p = _params()
    drv = CoreDriver(dut)
    await drv.reset()
    assert await drv.read("ID") == regs.CORE_ID
    assert await drv.read("VERSION") == regs.CORE_VERSION
    values = {}
    for name, want in regs.param_registers(p).items():
        values[name] = await drv.read(name)
        assert values[name] == want, f"{name}: {values[name]:#x} != {want:#x}"
    assert regs.params_from_registers(values) == p
    for r in regs.REGISTERS:  # reset values
        if r.access in ("RW",):
            assert await drv.read(r.name) == r.reset, r.name
    for name, value in (("SCRATCH", 0xDEADBEEF), ("STEPS", 0x1234), ("GAIN_SHIFT", 37), ("IRQ_ENABLE", 1),
                        ("LOAD_TARGET", LOAD_TARGETS["omega"])):
        await drv.write(name, value)
        assert await drv.read(name) == value, name
    await drv.write("GAIN_SHIFT", 0xFFFFFFFF)
    assert await drv.read("GAIN_SHIFT") == 63  # 6-bit field
    await drv.write("ID", 0)  # RO: ignored
    assert await drv.read("ID") == regs.CORE_ID
    assert await drv.read("CTRL") == 0
    # Unmapped address and a partial write answer SLVERR and change nothing.
    assert await drv.read_reg(0xFFC, expect_ok=False) == 0
    assert (await drv.axil.read(0xFFC, 4)).resp != 0
    resp = await drv.axil.write(regs.offset("SCRATCH"), b"\x11")
    assert resp.resp != 0
    assert await drv.read("SCRATCH") == 0xDEADBEEF
    # W1C: a zero-step run sets IRQ_STATUS.DONE and irq; writing 0 keeps it, writing 1 clears it.
    await drv.write("STEPS", 0)
    await drv.write("IRQ_ENABLE", 0)
    await drv.write("CTRL", regs.bits("CTRL", "START"))
    await ClockCycles(dut.clk, p.state_words + 100)
    assert await drv.read("IRQ_STATUS") == 1
    assert int(dut.irq.value) == 0  # masked
    await drv.write("IRQ_ENABLE", 1)
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 1
    await drv.write("IRQ_STATUS", 0)
    assert await drv.read("IRQ_STATUS") == 1
    await drv.write("IRQ_STATUS", 1)
    assert await drv.read("IRQ_STATUS") == 0
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 0
    st = await drv.read("STATUS")
    assert st & regs.bits("STATUS", "DONE") and not st & regs.bits("STATUS", "BUSY")


@cocotb.test()
async def test_load_errors(dut):
    """Short packets, long packets and packets without a target set LOAD_ERROR; CTRL.CLEAR clears it."""
    p = _params()
    drv = CoreDriver(dut)
    await drv.reset()
    n = stream_lengths(p)["gain"]
    await drv.load("gain", np.arange(n - 1, dtype=np.uint32))  # tlast one word early
    assert await drv.read("STATUS") & regs.bits("STATUS", "LOAD_ERROR")
    await drv.write("CTRL", regs.bits("CTRL", "CLEAR"))
    assert not await drv.read("STATUS") & regs.bits("STATUS", "LOAD_ERROR")
    await drv.load("gain", np.arange(n, dtype=np.uint32))  # exact: no error
    assert not await drv.read("STATUS") & regs.bits("STATUS", "LOAD_ERROR")
    assert await drv.read("LOAD_COUNT") == n
    await drv.load("gain", np.arange(n + 3, dtype=np.uint32))  # too long: extra words dropped
    assert await drv.read("STATUS") & regs.bits("STATUS", "LOAD_ERROR")
    assert await drv.read("LOAD_COUNT") == n
    await drv.write("CTRL", regs.bits("CTRL", "CLEAR"))
    await drv.load(0xF, np.arange(4, dtype=np.uint32))  # no such target
    assert await drv.read("STATUS") & regs.bits("STATUS", "LOAD_ERROR")


@cocotb.test()
async def test_reset_and_abort_mid_run(dut):
    """rst (and CTRL.ABORT) in the middle of a run, then a correct run afterwards."""
    p, o = _params(), _opts()
    rng = random.Random(o.get("seed", 1) + 7)
    drv = CoreDriver(dut)
    await drv.reset()
    image = random_image(p, seed=11, num_classes=2, num_steps=3)
    golden = GoldenModel(image)
    for how in ("rst", "abort"):
        await load_model(drv, image)
        phases0 = initial_phases(rng.randrange(1000), 1, p.n_total, p.spec)[0]
        for name, words in request_streams(image, 1, phases0).items():
            await drv.load(name, words)
        await drv.write("STEPS", 3)
        await drv.write("GAIN_SHIFT", image.gain_shift)
        await drv.write("CTRL", regs.bits("CTRL", "START"))
        await ClockCycles(dut.clk, rng.randint(5, p.mac_cycles_per_step * 2))
        assert await drv.read("STATUS") & regs.bits("STATUS", "BUSY")
        if how == "rst":
            await drv.reset()
            assert await drv.read("STEPS") == regs.BY_NAME["STEPS"].reset
            await load_model(drv, image)
        else:
            # Abort, then restart at once (only the request reloaded): no stale row may survive in the pipelines.
            await drv.write("CTRL", regs.bits("CTRL", "ABORT"))
            assert not await drv.read("STATUS") & regs.bits("STATUS", "BUSY")
        phases0 = initial_phases(rng.randrange(1000), 1, p.n_total, p.spec)[0]
        got, status = await run_request(drv, image, 1, phases0, 3)
        exp = golden.run(1, phases0[None], steps=3)
        check(got, exp.phases[0], status, exp.overflow[0], f"after {how}")
    # ABORT during the init pass (no phase written yet), then START at once: rows of the aborted pass are still in
    # the pipelines unless ABORT flushed them; the restarted run must equal golden from the same phases.
    phases0 = initial_phases(rng.randrange(1000), 1, p.n_total, p.spec)[0]
    for name, words in request_streams(image, 0, phases0).items():
        await drv.load(name, words)
    await drv.write("IRQ_ENABLE", 1)
    await drv.write("CTRL", regs.bits("CTRL", "START"))
    await drv.write("CTRL", regs.bits("CTRL", "ABORT"))
    await drv.write("CTRL", regs.bits("CTRL", "START"))
    await drv.wait_irq(cycle_bound(p, 3))
    await drv.write("IRQ_STATUS", 1)
    got = words_to_phases(await drv.readback(p.state_words), p)
    exp = golden.run(0, phases0[None], steps=3)
    check(got, exp.phases[0], await drv.read("STATUS"), exp.overflow[0], "abort in init, immediate restart")
    _record("test_reset_and_abort_mid_run", o, 3)
    # Loads are refused (tready low) while busy.
    await drv.write("STEPS", 2)
    await drv.write("IRQ_ENABLE", 1)
    await drv.write("CTRL", regs.bits("CTRL", "START"))
    await ClockCycles(dut.clk, 3)
    assert int(dut.s_axis_tready.value) == 0
    await drv.wait_irq(cycle_bound(p, 2))
    assert not await drv.read("STATUS") & regs.bits("STATUS", "BUSY")
    assert int(dut.s_axis_tready.value) == 1
