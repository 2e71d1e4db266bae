"""A lean bus driver for the simulation server: the same API as sim.bfm.CoreDriver, but with no coroutine
watching the clock while idle. cocotbext-axi's sinks (the AXI-Lite B/R channels, the AXI-Stream sink) wake
Python on every clock edge, which made a 167k-cycle run cost ~27 us/cycle; with this driver wait_irq lets the
simulator free-run. Handshakes are sampled in the ReadOnly phase (settled values of the current cycle, the same
in Icarus and Verilator) and take effect at the next rising edge.

The AXI-Lite part relies on this core's slave accepting AW and W in the same cycle (it does: awready = wready).
"""
from __future__ import annotations

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from rtl import regs

from .bfm import CLOCK_NS

_FULL_STRB = (1 << (regs.DATA_BITS // 8)) - 1


class DirectDriver:
    def __init__(self, dut, own_clock: bool = False):
        """`own_clock`: the model drives clk itself (sim.env's clocked wrapper); otherwise a cocotb Clock does."""
        self.dut = dut
        if not own_clock:
            Clock(dut.clk, CLOCK_NS, unit="ns").start()
        for name in ("s_axil_awvalid", "s_axil_wvalid", "s_axil_bready", "s_axil_arvalid", "s_axil_rready",
                     "s_axis_tvalid", "s_axis_tlast", "m_axis_tready"):
            getattr(dut, name).value = 0
        dut.s_axil_wstrb.value = _FULL_STRB

    async def _edge(self):
        await RisingEdge(self.dut.clk)

    async def reset(self, cycles: int = 4):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def _wait_for(self, signal, limit: int, what: str):
        for _ in range(limit):
            await ReadOnly()
            if int(signal.value):
                return
            await self._edge()
        raise TimeoutError(f"{what}: no handshake within {limit} cycles")

    async def write_reg(self, offset: int, value: int, expect_ok: bool = True) -> int:
        d = self.dut
        d.s_axil_awaddr.value = int(offset)
        d.s_axil_wdata.value = int(value) & 0xFFFFFFFF
        d.s_axil_awvalid.value = 1
        d.s_axil_wvalid.value = 1
        d.s_axil_bready.value = 1
        await self._wait_for(d.s_axil_awready, 1000, f"AXI-Lite write {offset:#x}")
        await self._edge()
        d.s_axil_awvalid.value = 0
        d.s_axil_wvalid.value = 0
        await self._wait_for(d.s_axil_bvalid, 1000, f"AXI-Lite write response {offset:#x}")
        resp = int(d.s_axil_bresp.value)
        await self._edge()
        d.s_axil_bready.value = 0
        if expect_ok and resp != regs.RESP_OKAY:
            raise RuntimeError(f"AXI-Lite write to {offset:#x} answered resp={resp}")
        return resp

    async def read_reg(self, offset: int, expect_ok: bool = True) -> int:
        d = self.dut
        d.s_axil_araddr.value = int(offset)
        d.s_axil_arvalid.value = 1
        d.s_axil_rready.value = 1
        await self._wait_for(d.s_axil_arready, 1000, f"AXI-Lite read {offset:#x}")
        await self._edge()
        d.s_axil_arvalid.value = 0
        await self._wait_for(d.s_axil_rvalid, 1000, f"AXI-Lite read data {offset:#x}")
        value, resp = int(d.s_axil_rdata.value), int(d.s_axil_rresp.value)
        await self._edge()
        d.s_axil_rready.value = 0
        if expect_ok and resp != regs.RESP_OKAY:
            raise RuntimeError(f"AXI-Lite read of {offset:#x} answered resp={resp}")
        return value

    async def stream_in(self, words: np.ndarray, stall_limit: int = 1_000_000):
        """One packet, tlast on the last word; returns when every word has been accepted.

        Two triggers per clock (ReadOnly, RisingEdge) and one signal write per accepted word (tlast only on the
        last): the loop's Python cost bounds the load rate (benchmarks/results/sim_speed.md)."""
        d = self.dut
        words = np.asarray(words, dtype=np.uint32).tolist()
        n, i, stalled = len(words), 0, 0
        tdata, tready, tlast = d.s_axis_tdata, d.s_axis_tready, d.s_axis_tlast
        settled, edge = ReadOnly(), RisingEdge(d.clk)
        tdata.value = words[0]
        tlast.value = int(n == 1)
        d.s_axis_tvalid.value = 1
        try:
            while i < n:
                await settled
                fire = tready.value
                await edge
                if fire:
                    i, stalled = i + 1, 0
                    if i < n:
                        tdata.value = words[i]
                        if i == n - 1:
                            tlast.value = 1
                else:
                    stalled += 1
                    if stalled > stall_limit:
                        raise TimeoutError(f"s_axis: tready low for {stall_limit} cycles after {i} of {n} words")
        finally:
            d.s_axis_tvalid.value = 0
            tlast.value = 0

    async def stream_out(self, count: int, timeout_cycles: int | None = None) -> np.ndarray:
        d = self.dut
        timeout_cycles = timeout_cycles or 64 * count + 1000
        out, last, cycles = [], False, 0
        tvalid, tdata, tlast = d.m_axis_tvalid, d.m_axis_tdata, d.m_axis_tlast
        settled, edge = ReadOnly(), RisingEdge(d.clk)
        d.m_axis_tready.value = 1
        try:
            while not last:
                await settled
                if tvalid.value:
                    out.append(int(tdata.value))
                    last = bool(tlast.value)
                await edge
                cycles += 1
                if cycles > timeout_cycles and not last:
                    raise TimeoutError(f"no tlast on m_axis within {timeout_cycles} cycles ({len(out)} words seen)")
        finally:
            d.m_axis_tready.value = 0
        if len(out) != count:
            raise ValueError(f"readback packet has {len(out)} words, expected {count}")
        return np.array(out, dtype=np.uint32)

    async def wait_irq(self, timeout_cycles: int) -> int:
        t0 = get_sim_time("ns")
        await ReadOnly()
        if not int(self.dut.irq.value):
            timer = Timer(timeout_cycles * CLOCK_NS, unit="ns")
            if (await First(RisingEdge(self.dut.irq), timer)) is timer:
                await self._edge()
                raise TimeoutError(f"no irq within {timeout_cycles} cycles")
        await self._edge()
        return int(round((get_sim_time("ns") - t0) / CLOCK_NS))
