"""Smoke test of the whole core in Amaranth's simulator on a tiny build: a run equals fixedpoint.golden bit for bit."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import words_to_phases
from fixedpoint.spec import FORMATS, HardwareParams
from rtl import regs
from rtl.core import OscillatorCore
from sim.images import load_sequence, random_image
from sim.pysim_bus import axil_read, axil_write, run_and_read_back, stream_in


@pytest.mark.parametrize("n,m,lanes,steps,fmt,lut", [
    (8, 2, 4, 3, "default", 0), (4, 3, 4, 2, "default", 0),
    # ragged last group (10 = 2*4 + 2), a packed DSP pair, a single DSP lane and a LUT lane, 4 drive digits
    (10, 3, 4, 2, "pynq-z2-n1024", 1)])
def test_core_pysim_matches_golden(n, m, lanes, steps, fmt, lut):
    from rtl.resources import cycle_accounting

    params = HardwareParams(n, m, lanes, FORMATS[fmt], lut_lanes=lut)
    image = random_image(params, seed=n * 10 + m, num_steps=steps)
    phases0 = initial_phases(7, 1, params.n_total, params.spec)[0]
    expect = GoldenModel(image).run(1, phases0[None], steps=steps)
    dut = OscillatorCore(params)
    got = {}

    async def tb(ctx):
        assert await axil_read(ctx, dut, regs.offset("ID")) == regs.CORE_ID
        for target, words in load_sequence(image, 1, phases0):
            await axil_write(ctx, dut, regs.offset("LOAD_TARGET"), target)
            await stream_in(ctx, dut, words)
            assert await axil_read(ctx, dut, regs.offset("LOAD_COUNT")) == len(words)
        got.update(await run_and_read_back(ctx, dut, steps, image.gain_shift))
        got["phases"] = words_to_phases(got["words"], params)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert not got["status"] & regs.bits("STATUS", "LOAD_ERROR")
    assert bool(got["status"] & regs.bits("STATUS", "OVERFLOW")) == bool(expect.overflow[0])
    np.testing.assert_array_equal(got["phases"], expect.phases[0])
    assert params.mac_cycles_per_step < got["step_cycles"] <= cycle_accounting(params)["step_model"]
