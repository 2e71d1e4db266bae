"""Bus drivers for testbenches in Amaranth's own simulator (pysim): AXI4-Lite register access and an AXI4-Stream
source, on the core's flat port names (rtl/core.py). The cocotb regression uses cocotbext-axi instead (sim/bfm.py).
"""
from __future__ import annotations


async def axil_write(ctx, dut, offset, value):
    ctx.set(dut.s_axil_awaddr, offset)
    ctx.set(dut.s_axil_wdata, value)
    ctx.set(dut.s_axil_wstrb, 0xF)
    ctx.set(dut.s_axil_awvalid, 1)
    ctx.set(dut.s_axil_wvalid, 1)
    ctx.set(dut.s_axil_bready, 1)
    while True:
        await ctx.tick()
        if ctx.get(dut.s_axil_bvalid):
            break
        ctx.set(dut.s_axil_awvalid, 0)
        ctx.set(dut.s_axil_wvalid, 0)
    ctx.set(dut.s_axil_awvalid, 0)
    ctx.set(dut.s_axil_wvalid, 0)
    resp = ctx.get(dut.s_axil_bresp)
    await ctx.tick()
    return resp


async def axil_read(ctx, dut, offset):
    ctx.set(dut.s_axil_araddr, offset)
    ctx.set(dut.s_axil_arvalid, 1)
    ctx.set(dut.s_axil_rready, 1)
    await ctx.tick()
    ctx.set(dut.s_axil_arvalid, 0)
    while not ctx.get(dut.s_axil_rvalid):
        await ctx.tick()
    v = ctx.get(dut.s_axil_rdata)
    await ctx.tick()
    return v


async def stream_in(ctx, dut, words):
    for k, w in enumerate(words):
        ctx.set(dut.s_axis_tdata, int(w))
        ctx.set(dut.s_axis_tvalid, 1)
        ctx.set(dut.s_axis_tlast, int(k == len(words) - 1))
        while not ctx.get(dut.s_axis_tready):
            await ctx.tick()
        await ctx.tick()
    ctx.set(dut.s_axis_tvalid, 0)
    ctx.set(dut.s_axis_tlast, 0)


async def run_and_read_back(ctx, dut, steps: int, gain_shift: int, extra_regs: tuple[str, ...] = (),
                            max_polls: int = 100000) -> dict:
    """START a run of `steps` Euler steps (GAIN_SHIFT `gain_shift`), poll STATUS until DONE, read STEP_CYCLES and
    `extra_regs`, then READBACK the phase words from the m_axis stream. Returns {"status", "step_cycles",
    <each extra register name>, "words": np.uint32 array}."""
    import numpy as np

    from rtl import regs

    await axil_write(ctx, dut, regs.offset("STEPS"), steps)
    await axil_write(ctx, dut, regs.offset("GAIN_SHIFT"), gain_shift)
    await axil_write(ctx, dut, regs.offset("CTRL"), regs.bits("CTRL", "START"))
    for _ in range(max_polls):
        status = await axil_read(ctx, dut, regs.offset("STATUS"))
        if status & regs.bits("STATUS", "DONE"):
            break
    got = {"status": status, "step_cycles": await axil_read(ctx, dut, regs.offset("STEP_CYCLES"))}
    for name in extra_regs:
        got[name] = await axil_read(ctx, dut, regs.offset(name))
    await axil_write(ctx, dut, regs.offset("CTRL"), regs.bits("CTRL", "READBACK"))
    ctx.set(dut.m_axis_tready, 1)
    words, last = [], False
    while not last:
        if ctx.get(dut.m_axis_tvalid):
            words.append(ctx.get(dut.m_axis_tdata))
            last = ctx.get(dut.m_axis_tlast)
        await ctx.tick()
    got["words"] = np.array(words, dtype=np.uint32)
    return got
