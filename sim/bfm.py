"""cocotb driver glue for the oscillator core: AXI4-Lite register access, load stream, readback stream, run
control. Used by the regression (sim/tb_core.py) and the simulation server (sim/server.py).
"""
from __future__ import annotations

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
from cocotbext.axi.constants import AxiResp

from fixedpoint.layout import LOAD_TARGETS
from rtl import regs

from .env import CLOCK_NS  # noqa: E402,F401  (one definition, also used by the clocked wrapper)


class CoreDriver:
    def __init__(self, dut):
        self.dut = dut
        self.clock = Clock(dut.clk, CLOCK_NS, unit="ns")
        self.clock.start()
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        for bfm in (self.axil.write_if, self.axil.read_if, self.src, self.sink):
            bfm.log.setLevel("WARNING")

    async def reset(self, cycles: int = 4):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    # --- registers ---------------------------------------------------------------------------
    async def write_reg(self, offset: int, value: int, expect_ok: bool = True) -> int:
        resp = await self.axil.write(offset, int(value & 0xFFFFFFFF).to_bytes(4, "little"))
        if expect_ok and resp.resp != AxiResp.OKAY:
            raise RuntimeError(f"AXI-Lite write to {offset:#x} answered {resp.resp!r}")
        return int(resp.resp)

    async def read_reg(self, offset: int, expect_ok: bool = True) -> int:
        resp = await self.axil.read(offset, 4)
        if expect_ok and resp.resp != AxiResp.OKAY:
            raise RuntimeError(f"AXI-Lite read of {offset:#x} answered {resp.resp!r}")
        return int.from_bytes(resp.data, "little")

    async def write(self, name: str, value: int):
        await self.write_reg(regs.offset(name), value)

    async def read(self, name: str) -> int:
        return await self.read_reg(regs.offset(name))

    # --- streams ------------------------------------------------------------------------------
    async def stream_in(self, words: np.ndarray):
        """Send uint32 words as one AXI4-Stream packet (tlast on the last) and wait until all are accepted."""
        data = np.ascontiguousarray(np.asarray(words, dtype=np.uint32)).astype("<u4").tobytes()
        await self.src.send(AxiStreamFrame(data))
        await self.src.wait()

    async def load(self, target: str | int, words: np.ndarray):
        code = LOAD_TARGETS[target] if isinstance(target, str) else int(target)
        await self.write("LOAD_TARGET", code)
        await self.stream_in(words)

    async def stream_out(self, count: int, timeout_cycles: int | None = None) -> np.ndarray:
        """Collect one packet from m_axis (up to tlast) and check its length."""
        timeout_cycles = timeout_cycles or 64 * count + 1000
        try:
            frame = await with_timeout(self.sink.recv(), timeout_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise TimeoutError(f"no tlast on m_axis within {timeout_cycles} cycles") from None
        words = np.frombuffer(bytes(frame.tdata), dtype="<u4").astype(np.uint32)
        if len(words) != count:
            raise ValueError(f"readback packet has {len(words)} words, expected {count}")
        return words

    async def readback(self, count: int) -> np.ndarray:
        await self.write("CTRL", regs.bits("CTRL", "READBACK"))
        return await self.stream_out(count)

    # --- run control --------------------------------------------------------------------------
    async def wait_irq(self, timeout_cycles: int) -> int:
        """Free-run the clock until irq is high (no per-cycle Python); returns cycles waited."""
        from cocotb.utils import get_sim_time

        t0 = get_sim_time("ns")
        await ReadOnly()
        if not int(self.dut.irq.value):
            edge = RisingEdge(self.dut.irq)
            timer = Timer(timeout_cycles * CLOCK_NS, unit="ns")
            if (await First(edge, timer)) is timer:
                raise TimeoutError(f"no irq within {timeout_cycles} cycles")
        await RisingEdge(self.dut.clk)
        return int(round((get_sim_time("ns") - t0) / CLOCK_NS))

    async def run(self, steps: int, gain_shift: int, timeout_cycles: int) -> int:
        """START a run of `steps` Euler steps with the irq enabled, wait for it, acknowledge; returns STATUS."""
        await self.write("STEPS", steps)
        await self.write("GAIN_SHIFT", gain_shift)
        await self.write("IRQ_ENABLE", regs.bits("IRQ_ENABLE", "DONE"))
        await self.write("CTRL", regs.bits("CTRL", "START"))
        await self.wait_irq(timeout_cycles)
        await self.write("IRQ_STATUS", regs.bits("IRQ_STATUS", "DONE"))
        return await self.read("STATUS")


def cycle_bound(params, steps: int) -> int:
    """Generous upper bound on a run's cycles (for timeouts); streamed-K builds allow 8 clocks per K beat."""
    per_step = (params.mac_cycles_per_step + params.batch * params.n_cond * params.drive_passes + params.state_words
                + 4 * params.batch * params.lanes + 200)
    if params.k_streamed:
        per_step += 8 * params.k_bursts * 16
    return (steps + 1) * per_step + 1000
