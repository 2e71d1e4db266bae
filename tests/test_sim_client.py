"""SimClient (the host's sim board transport): a full request through the socket equals the golden model;
timeouts and a dead simulator raise clear errors instead of hanging."""
import os
import signal

import numpy as np
import pytest

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import words_to_phases
from fixedpoint.spec import HardwareParams
from rtl import regs
from sim.client import SimClient
from sim.images import load_sequence, random_image

PARAMS = HardwareParams(8, 2, 4)  # tests/test_sim_core.py's small case (here in the server's clocked build)


def test_client_run_matches_golden():
    image = random_image(PARAMS, seed=99, num_classes=2, num_steps=5)
    phases0 = initial_phases(5, 1, PARAMS.n_total, PARAMS.spec)[0]
    expect = GoldenModel(image).run(1, phases0[None], steps=5)
    with SimClient(PARAMS) as sim:
        assert sim.read_reg(regs.offset("ID")) == regs.CORE_ID
        assert sim.read_reg(regs.offset("BUILD_HASH")) == regs.build_hash(PARAMS)
        for target, words in load_sequence(image, 1, phases0):
            sim.write_reg(regs.offset("LOAD_TARGET"), target)
            sim.stream_in(words)
        assert not sim.read_reg(regs.offset("STATUS")) & regs.bits("STATUS", "LOAD_ERROR")
        sim.write_reg(regs.offset("STEPS"), 5)
        sim.write_reg(regs.offset("GAIN_SHIFT"), image.gain_shift)
        sim.write_reg(regs.offset("IRQ_ENABLE"), 1)
        t0 = sim.cycles()
        sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "START"))
        waited = sim.wait_irq(100_000)
        assert waited >= 5 * PARAMS.mac_cycles_per_step
        assert sim.cycles() >= t0 + waited
        sim.write_reg(regs.offset("IRQ_STATUS"), 1)
        sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "READBACK"))
        got = words_to_phases(sim.stream_out(PARAMS.n_total), PARAMS)
        np.testing.assert_array_equal(got, expect.phases[0])
        # No irq pending: the simulated timeout surfaces as TimeoutError and the client stays usable.
        with pytest.raises(TimeoutError):
            sim.wait_irq(500)
        with pytest.raises(TimeoutError):
            sim.stream_out(3, timeout_cycles=200)
        assert sim.read_reg(regs.offset("SCRATCH")) == 0
        with pytest.raises(ValueError):
            sim.stream_in(np.array([-1]))


def test_client_dead_simulator_raises_connection_error():
    sim = SimClient(PARAMS)
    try:
        os.killpg(sim._proc.pid, signal.SIGKILL)
        sim._proc.wait()
        with pytest.raises(ConnectionError):
            sim.read_reg(0)
        with pytest.raises(ConnectionError):
            sim.write_reg(regs.offset("SCRATCH"), 1)
    finally:
        sim.close()
