"""cocotb regression of the streamed-K core (K read from DDR over AXI4) against fixedpoint.golden, bit for bit.

The DDR is one memory served by a cocotbext-axi AxiRamRead per K read master (HP port), holding
fixedpoint.layout.k_ddr_planes at K_BASE + q * PLANE_GAP; every AR and R channel stalls at random (pause
generators), so results must not depend on when K arrives. Build parameters come from
OSC_PARAMS, options from OSC_OPTS (tests/test_sim_streamed.py sets both). The register, load-error and
reset/abort tests of sim/tb_core.py run on this build too (imported below).
"""
from __future__ import annotations

import random

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiRamRead, AxiReadBus

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import k_ddr_planes, request_streams
from rtl import regs
from rtl.resources import cycle_accounting
from sim.bfm import CoreDriver
from sim.images import random_image
from sim.tb_core import _count, _opts, _params, _record, check, load_model, run_request
from sim.tb_core import test_load_errors, test_registers  # noqa: F401  (run on the streamed build too)

#: Where K plane 0 sits in the simulated DDR (4 KiB aligned, not 0, so address bits are exercised); plane q
#: at K_BASE + q * PLANE_GAP.
K_BASE = 0x3000
PLANE_GAP = 0x4_0000


class DdrWindow(AxiRamRead):
    """cocotbext-axi's AXI RAM that answers SLVERR beyond `limit` (where the board's DDR would decode-error)."""

    def __init__(self, *args, limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit = limit

    async def _read(self, address, length):
        if address + length > self.limit:
            raise ValueError(f"read of {length} bytes at {address:#x} beyond {self.limit:#x}")
        return await super()._read(address, length)


def ddr(dut, p, rng: random.Random | None, limit: int | None = None, r_pause: dict | None = None) -> list[AxiRamRead]:
    """One AXI RAM slave per read port, all on the same memory (the board's DDR). R beats pause with probability
    r_pause["p"] (read at every beat, so a test can slow the memory between runs; default 0.3)."""
    r_pause = r_pause if r_pause is not None else {"p": 0.3}
    size = K_BASE + p.k_ports * PLANE_GAP
    assert p.k_plane_bytes <= PLANE_GAP, "test build too large for the simulated memory map"
    rams = []
    for q in range(p.k_ports):
        ram = DdrWindow(AxiReadBus.from_prefix(dut, f"m_axi{q}"), dut.clk, dut.rst, size=size,
                        mem=rams[0].mem if rams else None, limit=limit or size)
        ram.log.setLevel("WARNING")
        if rng is not None:
            ram.ar_channel.set_pause_generator(iter(lambda: rng.random() < 0.4, None))
            ram.r_channel.set_pause_generator(iter(lambda: rng.random() < r_pause["p"], None))
        rams.append(ram)
    return rams


async def load_k(drv: CoreDriver, rams: list[AxiRamRead], image):
    for q, plane in enumerate(k_ddr_planes(image)):
        rams[0].write(K_BASE + q * PLANE_GAP, plane.astype("<u4").tobytes())
        await drv.write(f"K_ADDR{q}", K_BASE + q * PLANE_GAP)


@cocotb.test()
async def test_streamed_golden_runs(dut):
    """Random images (n_cond and classes from the build options), B samples of mixed classes per run, 10 steps,
    the DDR stalling at random: every phase of every sample equals the golden model. Cycles: STEP_CYCLES minus
    K_WAIT_CYCLES (the last step's clocks the lanes waited for K) is the same in every run however the DDR
    stalls, above the MAC bound and at most the stall-free step of rtl.resources.cycle_accounting. Each image's first
    run reads K from a memory too slow for the lanes: K_WAIT_CYCLES is then non-zero and below STEP_CYCLES (one
    step's waits)."""
    p, o = _params(), _opts()
    start, computes = _count["comparisons"], set()
    rng = random.Random(o.get("seed", 1))
    drv = CoreDriver(dut)
    r_pause = {"p": 0.3}
    rams = ddr(dut, p, rng if o.get("stalls", True) else None, r_pause=r_pause)
    await drv.reset()
    for img_k in range(o.get("images", 1)):
        classes = o.get("classes", 4)
        image = random_image(p, seed=rng.randrange(1 << 30), num_classes=classes, num_steps=10,
                             k_scale=rng.choice([0.5, 1.0, 3.0]))
        await load_model(drv, image)
        await load_k(drv, rams, image)
        golden = GoldenModel(image)
        for run_k in range(o.get("runs", 2)):
            # The first run of each image reads K from a slow memory (R paused 85 % of the clocks), so the lanes
            # wait in every step of it: K_WAIT_CYCLES must count one step's waits, not the run's.
            r_pause["p"] = 0.85 if run_k == 0 and o.get("stalls", True) else 0.3
            ids = np.array([rng.randrange(classes) for _ in range(p.batch)])
            steps = 10 if run_k == 0 else rng.randint(0, 10)
            phases0 = initial_phases(rng.randrange(1 << 30), p.batch, p.n_total, p.spec)
            got, status = await run_request(drv, image, ids, phases0, steps)
            exp = golden.run(ids, phases0, steps=steps)
            assert not status & regs.bits("STATUS", "AXI_ERROR"), "AXI read error"
            check(got, exp.phases.reshape(-1), status, exp.overflow.any(),
                  f"image {img_k} run {run_k} classes {ids.tolist()} steps {steps}")
            assert await drv.read("STEP_COUNT") == steps
            if steps:
                step_cycles = await drv.read("STEP_CYCLES")
                wait = await drv.read("K_WAIT_CYCLES")
                assert p.mac_cycles_per_step < step_cycles and wait < step_cycles
                if r_pause["p"] > 0.5:
                    # The slow memory: the lanes waited in every step; a K_WAIT_CYCLES that kept counting over the
                    # run's 10 steps would exceed the last step's STEP_CYCLES. (The step also waits for the padding
                    # beats after the last column, which K_WAIT_CYCLES does not count, so the check below skips it.)
                    assert wait > 0, "the slow memory never made the lanes wait"
                    continue
                # Stalls only lengthen the waits: the clocks the lanes compute are the same for every step.
                computes.add(step_cycles - wait)
                assert len(computes) == 1, f"STEP_CYCLES - K_WAIT_CYCLES varies with the DDR's stalls: {computes}"
                model = cycle_accounting(p)["step_model"]
                assert p.mac_cycles_per_step < step_cycles - wait <= model, (step_cycles, wait, model)
    _record("test_streamed_golden_runs", o, _count["comparisons"] - start)


@cocotb.test()
async def test_abort_with_reads_in_flight(dut):
    """ABORT while K bursts are in flight, then START at once: the stale beats are dropped, the run is exact."""
    p, o = _params(), _opts()
    start = _count["comparisons"]
    rng = random.Random(o.get("seed", 1) + 11)
    drv = CoreDriver(dut)
    rams = ddr(dut, p, rng)
    await drv.reset()
    image = random_image(p, seed=21, num_classes=3, num_steps=3)
    await load_model(drv, image)
    await load_k(drv, rams, image)
    golden = GoldenModel(image)
    ids = np.arange(p.batch) % 3
    for delay in (p.state_words + 40, p.state_words + 40 + p.mac_cycles_per_step // 2):
        phases0 = initial_phases(rng.randrange(1000), p.batch, p.n_total, p.spec)
        for name, words in request_streams(image, ids, phases0).items():
            await drv.load(name, words)
        await drv.write("STEPS", 3)
        await drv.write("GAIN_SHIFT", image.gain_shift)
        await drv.write("CTRL", regs.bits("CTRL", "START"))
        await ClockCycles(dut.clk, delay)
        await drv.write("CTRL", regs.bits("CTRL", "ABORT"))
        got, status = await run_request(drv, image, ids, phases0, 3)
        exp = golden.run(ids, phases0, steps=3)
        check(got, exp.phases.reshape(-1), status, exp.overflow.any(), f"restart after abort at {delay}")
    _record("test_abort_with_reads_in_flight", o, _count["comparisons"] - start)


@cocotb.test()
async def test_axi_error(dut):
    """A K address outside the memory answers SLVERR: STATUS.AXI_ERROR is set (and cleared by CTRL.CLEAR)."""
    p = _params()
    drv = CoreDriver(dut)
    ddr(dut, p, None, limit=K_BASE + 128)  # all but the first burst of the K image lie beyond the memory
    await drv.reset()
    image = random_image(p, seed=3, num_steps=1)
    await load_model(drv, image)
    for q in range(p.k_ports):
        await drv.write(f"K_ADDR{q}", K_BASE + q * PLANE_GAP)
    phases0 = initial_phases(1, p.batch, p.n_total, p.spec)
    _, status = await run_request(drv, image, 0, phases0, 1)
    assert status & regs.bits("STATUS", "AXI_ERROR") and status & regs.bits("STATUS", "DONE")
    await drv.write("CTRL", regs.bits("CTRL", "CLEAR"))
    assert not await drv.read("STATUS") & regs.bits("STATUS", "AXI_ERROR")
