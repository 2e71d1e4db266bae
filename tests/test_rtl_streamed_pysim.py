"""The streamed-K core in Amaranth's simulator on tiny builds: K read over AXI4 from a memory that stalls at
random, batches with mixed classes; every phase equals fixedpoint.golden bit for bit."""
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import LOAD_TARGETS, k_ddr_planes, model_streams, request_streams, words_to_phases
from fixedpoint.spec import AXI_DATA_BITS, FORMATS, HardwareParams
from rtl import regs
from rtl.core import OscillatorCore
from sim.images import random_image
from sim.pysim_bus import axil_read, axil_write, run_and_read_back, stream_in

K_BASE = 0x1000_0000
PLANE_GAP = 0x10_0000


def axi_memory(dut, q: int, mem_words: np.ndarray, base: int, rng: random.Random, log: list):
    """AXI4 read slave on port m_axi<q> over little-endian 32-bit words at `base`: random AR/R stalls, bursts
    served in order."""
    beat_words = AXI_DATA_BITS // 32

    def sig(name):
        return getattr(dut, f"m_axi{q}_{name}")

    async def run(ctx):
        queue = []
        cur = None
        while True:
            ar_ready = rng.random() < 0.6
            ctx.set(sig("arready"), int(ar_ready))
            if cur is None and queue:
                cur = queue.pop(0)
            r_valid = cur is not None and rng.random() < 0.7
            if r_valid:
                addr, k, length = cur
                w = (addr - base) // 4 + k * beat_words
                data = int(mem_words[w]) | (int(mem_words[w + 1]) << 32)
                ctx.set(sig("rdata"), data)
                ctx.set(sig("rlast"), int(k == length - 1))
                ctx.set(sig("rresp"), 0)
            ctx.set(sig("rvalid"), int(r_valid))
            arv, araddr, arlen, rready = (ctx.get(sig("arvalid")), ctx.get(sig("araddr")),
                                          ctx.get(sig("arlen")), ctx.get(sig("rready")))
            await ctx.tick()
            if ar_ready and arv:
                assert araddr % 128 == 0 and arlen == 15
                queue.append([araddr, 0, arlen + 1])
                log.append(araddr)
            if r_valid and rready:
                cur[1] += 1
                if cur[1] == cur[2]:
                    cur = None
    return run


@pytest.mark.parametrize("n,m,lanes,batch,fmt,ports,lut", [
    (30, 2, 4, 1, "default", 1, 0), (19, 3, 8, 3, "pynq-z2-n1024", 1, 3),  # ragged; packed pairs, DSP and LUT lanes
    (8, 4, 4, 2, "wide", 2, 1), (32, 1, 32, 1, "pynq-z2-n1024", 2, 0)])
def test_streamed_core_matches_golden(n, m, lanes, batch, fmt, ports, lut):
    params = HardwareParams(n, m, lanes, FORMATS[fmt], batch=batch, k_source="ddr", k_ports=ports, lut_lanes=lut)
    steps = 3
    image = random_image(params, seed=n * 10 + m, num_classes=5, num_steps=steps, k_scale=2.0)
    rng = np.random.default_rng(n + batch)
    classes = rng.integers(0, 5, size=batch)
    phases0 = initial_phases(7, batch, params.n_total, params.spec)
    expect = GoldenModel(image).run(classes, phases0, steps=steps)
    dut = OscillatorCore(params)
    got = {}

    async def tb(ctx):
        assert await axil_read(ctx, dut, regs.offset("BUILD")) == regs.pack("BUILD", BATCH=batch, K_IN_DDR=1,
                                                                            K_PORTS=ports, LUT_LANES=lut)
        for name, words in {**model_streams(image), **request_streams(image, classes, phases0)}.items():
            await axil_write(ctx, dut, regs.offset("LOAD_TARGET"), LOAD_TARGETS[name])
            await stream_in(ctx, dut, words)
            assert await axil_read(ctx, dut, regs.offset("LOAD_COUNT")) == len(words)
        for q in range(ports):
            await axil_write(ctx, dut, regs.offset(f"K_ADDR{q}"), K_BASE + q * PLANE_GAP)
        got.update(await run_and_read_back(ctx, dut, steps, image.gain_shift, ("K_WAIT_CYCLES",)))
        got["phases"] = words_to_phases(got["words"], params).reshape(batch, -1)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    planes = k_ddr_planes(image)
    logs = [[] for _ in range(ports)]
    for q in range(ports):
        sim.add_testbench(axi_memory(dut, q, planes[q], K_BASE + q * PLANE_GAP, random.Random(n + q), logs[q]),
                          background=True)
    sim.run()
    assert not got["status"] & (regs.bits("STATUS", "LOAD_ERROR") | regs.bits("STATUS", "AXI_ERROR"))
    np.testing.assert_array_equal(got["phases"], expect.phases)
    assert bool(got["status"] & regs.bits("STATUS", "OVERFLOW")) == bool(expect.overflow.any())
    for q, log in enumerate(logs):
        assert len(log) == steps * params.k_bursts
        assert log[: params.k_bursts] == [K_BASE + q * PLANE_GAP + 128 * k for k in range(params.k_bursts)]
    assert params.mac_cycles_per_step < got["step_cycles"]
    assert got["K_WAIT_CYCLES"] < got["step_cycles"]
    if batch == 1:
        assert got["K_WAIT_CYCLES"] > 0  # one clock per column cannot hide a memory that stalls at random
