"""One MAC lane: the unit both core builds (K in block RAM, K streamed from DDR) replicate L times.

A lane multiplies one weight by the broadcast (sin, cos) of one column and accumulates both products exactly.
With a batch of B samples the lane keeps B accumulator pairs; the weight it holds for a column is used once
per sample (sample index `sample`), so one pass over K serves B phase vectors (docs/rtl.md, "Batches").

Timing (the core's MAC pipeline): `w`, `trig_s`, `trig_c` at stage 1 (memory / stream data); the products are
registered (stage 2); at stage 2 `acc_en`, `first` and `sample` select the accumulator pair, and `new_s`,
`new_c` show the value written at the clock edge (the core hands them to the row feeder on a group's last column).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


class MacLane(wiring.Component):
    """Widths: weight_bits (signed), trig_bits (signed), acc_bits (signed, exact: HardwareParams.acc_bits)."""

    def __init__(self, weight_bits: int, trig_bits: int, acc_bits: int, batch: int = 1):
        self.weight_bits, self.trig_bits, self.acc_bits, self.batch = weight_bits, trig_bits, acc_bits, batch
        super().__init__({
            "w": In(signed(weight_bits)), "trig_s": In(signed(trig_bits)), "trig_c": In(signed(trig_bits)),
            "acc_en": In(1), "first": In(1), "sample": In(max(1, ceil_log2(batch))),
            "new_s": Out(signed(acc_bits)), "new_c": Out(signed(acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        prod_w = self.weight_bits + self.trig_bits
        ps, pc = Signal(signed(prod_w)), Signal(signed(prod_w))
        m.d.sync += [ps.eq(self.w * self.trig_s), pc.eq(self.w * self.trig_c)]
        acc_s = [Signal(signed(self.acc_bits), name=f"acc_s{b}") for b in range(self.batch)]
        acc_c = [Signal(signed(self.acc_bits), name=f"acc_c{b}") for b in range(self.batch)]
        cur_s, cur_c = acc_s[0], acc_c[0]
        for b in range(1, self.batch):  # 2:1 multiplexers (an `Array` case stays x in Icarus; see core._pick)
            cur_s, cur_c = Mux(self.sample == b, acc_s[b], cur_s), Mux(self.sample == b, acc_c[b], cur_c)
        m.d.comb += [self.new_s.eq(Mux(self.first, 0, cur_s) + ps),
                     self.new_c.eq(Mux(self.first, 0, cur_c) + pc)]
        for b in range(self.batch):
            with m.If(self.acc_en & ((self.sample == b) if self.batch > 1 else 1)):
                m.d.sync += [acc_s[b].eq(self.new_s), acc_c[b].eq(self.new_c)]
        return m
