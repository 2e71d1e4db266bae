"""cocotb measurement of the streamed-K core against a DDR model at the PYNQ-Z2 planning rate (benchmarks/
bench_streamed.py runs it; not part of the regression).

The memory is cocotbext-axi's AxiRamRead on every K read port with two hooks: its R channel's pause generator
lets beats through at `port_beats_per_cycle` (a fixed pattern, e.g. 0.906 beats/clock = 0.725 GB/s per port at
100 MHz, half of hardware.md §8's 1.45 GB/s for two HP ports), and a read that follows an idle gap waits
`latency_cycles` first (DDR latency; bursts already in flight are pipelined, as the HP ports' 8 outstanding
reads allow). OSC_OPTS: port_beats_per_cycle, latency_cycles, steps, samples (runs), out (JSON path).
Every run's phases are compared with fixedpoint.golden bit for bit.
"""
from __future__ import annotations

import json

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiRamRead, AxiReadBus

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import k_ddr_planes
from rtl import regs
from sim.bfm import CLOCK_NS, CoreDriver
from sim.images import random_image
from sim.tb_core import _opts, _params, load_model, run_request

K_BASE = 0x10_0000
#: A read after this many idle clocks pays the latency again.
IDLE_CLOCKS = 16


def rate_pattern(rate: float):
    """Pause pattern for a channel that may move `rate` beats per clock (False = may transfer)."""
    acc = 0.0
    while True:
        acc += rate
        if acc >= 1.0:
            acc -= 1.0
            yield False
        else:
            yield True


class PlanningDdr(AxiRamRead):
    """AXI RAM with a first-access latency after idle gaps (see the module docstring)."""

    def __init__(self, *args, latency_cycles: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.latency_cycles = latency_cycles
        self._last_ns = -1e18

    async def _read(self, address, length):
        now = get_sim_time("ns")
        if now - self._last_ns > IDLE_CLOCKS * CLOCK_NS and self.latency_cycles:
            await ClockCycles(self.clock, self.latency_cycles)
        self._last_ns = get_sim_time("ns")
        return await super()._read(address, length)


@cocotb.test()
async def measure_step_cycles(dut):
    p, o = _params(), _opts()
    drv = CoreDriver(dut)
    plane = p.k_plane_bytes + (-p.k_plane_bytes) % 4096
    rams = []
    for q in range(p.k_ports):
        ram = PlanningDdr(AxiReadBus.from_prefix(dut, f"m_axi{q}"), dut.clk, dut.rst, size=K_BASE + p.k_ports * plane,
                          mem=rams[0].mem if rams else None, latency_cycles=o["latency_cycles"])
        ram.log.setLevel("WARNING")
        ram.r_channel.set_pause_generator(rate_pattern(o["port_beats_per_cycle"]))
        rams.append(ram)
    await drv.reset()
    image = random_image(p, seed=17, num_classes=1000 if p.n_cond == 1 else 10, num_steps=o["steps"])
    await load_model(drv, image)
    for q, words in enumerate(k_ddr_planes(image)):
        rams[0].write(K_BASE + q * plane, words.astype("<u4").tobytes())
        await drv.write(f"K_ADDR{q}", K_BASE + q * plane)
    golden = GoldenModel(image)
    runs = []
    for k in range(o.get("samples", 1)):
        ids = (np.arange(p.batch) * 37 + k) % image.num_classes
        phases0 = initial_phases(100 + k, p.batch, p.n_total, p.spec)
        got, status = await run_request(drv, image, ids, phases0, o["steps"])
        exp = golden.run(ids, phases0, steps=o["steps"])
        runs.append({
            "bit_exact": bool(np.array_equal(got, exp.phases.reshape(-1))),
            "overflow_matches": bool(status & regs.bits("STATUS", "OVERFLOW")) == bool(exp.overflow.any()),
            "axi_error": bool(status & regs.bits("STATUS", "AXI_ERROR")),
            "run_cycles": (await drv.read("CYCLES_LO")) | ((await drv.read("CYCLES_HI")) << 32),
            "step_cycles": await drv.read("STEP_CYCLES"),
            "k_wait_cycles": await drv.read("K_WAIT_CYCLES"),
        })
    with open(o["out"], "w") as f:
        json.dump(runs, f)
    assert all(r["bit_exact"] and r["overflow_matches"] and not r["axi_error"] for r in runs), runs
