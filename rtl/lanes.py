"""MAC lanes: the unit both core builds (K in block RAM, K streamed from DDR) replicate, in blocks of lanes.

A lane multiplies one signed weight digit (HardwareParams.digit_bits: a coupling weight, or one digit of a drive /
conditioning-block weight) by the broadcast (sin, cos) of one column and accumulates both products exactly. Drive
weights arrive digit by digit, top digit first; the accumulator applies Horner's rule (docs/rtl.md, "MAC lanes"):

    new = product + (0 if first else (acc << coupling_bits if scale else acc))

so after the drive passes and the K columns each accumulator holds exactly sum_j w_ij * trig_j, as
fixedpoint/golden.py computes it. With a batch of B samples the lane keeps B accumulator pairs, selected by
`sample` (docs/rtl.md, "Batches").

Multipliers, per lane (HardwareParams.dsp_lanes / lut_lanes):
  * DSP lanes, packed in pairs where the format allows it (HardwareParams.pack_shift = k): lanes l, l+1 share one
    DSP48E1 per product: A = d_l + d_(l+1) * 2**k (25-bit A port), P = A * trig + 2**(k-1) (the rounding constant
    enters through the DSP48E1's C port). Then lane l's product is P[0:k] - 2**(k-1) (the low field with its top bit
    inverted) and lane l+1's is P >> k, exactly (Xilinx WP486 / WP521 operand packing; UG479 port widths).
  * DSP lanes without packing: one DSP48E1 per product.
  * LUT lanes: shift-and-add of the digit's bits over the trig word (no `*`, so synthesis keeps them in LUTs and
    carry chains).

Pipeline of a block (the core feeds stage "operands" from memory data): the block registers the operands (A word or
digit per lane, one copy of the trig broadcast and of the control bits per block, so each copy drives at most one
block) -> DSP48E1 M registers / LUT half sums -> products -> accumulate. `latency` = 3 clocks from the operand
inputs to the accumulator write. On `valid & last` of a column the finished accumulators of that sample are copied into the
block's hold registers (hold_s[b][l], hold_c[b][l]), which the core's row feeder reads one row per clock.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, Signal, signed
from amaranth.utils import ceil_log2


def shift_add_terms(digit, trig, neg_trig) -> tuple[list, int]:
    """The addends of digit * trig for a signed D-bit digit: trig AND digit bit i, shifted by i, for i < D-2, and one
    term for the top two bits (d_(D-2) * 2**(D-2) - d_(D-1) * 2**(D-1)) * trig, a 4:1 choice of shifted trig /
    neg_trig words (neg_trig = -trig, computed once per block). Their sum is the product, exactly. Returns (terms,
    product width D + S)."""
    D, S = len(digit), len(trig)
    W = D + S

    def gated(i):  # a partial product: the trig word or 0
        return Mux(digit[i], trig, 0) << i

    top = Mux(digit[D - 1], Mux(digit[D - 2], neg_trig << (D - 2), neg_trig << (D - 1)),
              Mux(digit[D - 2], trig << (D - 2), 0))
    return [gated(i) for i in range(D - 2)] + [top.as_signed()], W


class MacBlock(Elaboratable):
    """MAC lanes sharing one registered copy of the trig broadcast and of the control bits.

    kinds: one of "pair" (DSP48E1 packed with the next lane: only on even positions, the next lane is "pair_hi"),
    "dsp" (one DSP48E1 per product) or "lut" per lane. Widths: digit_bits (signed), trig_bits (signed), acc_bits
    (signed, exact: HardwareParams.acc_bits). horner_shift: coupling_bits (the `scale` shift); pack_shift: k.

    LUT lanes add their shift_add_terms in two registered levels (two half sums, then their sum): each level is a
    two-operand add that Yosys maps to one carry chain. A single-cycle adder tree is merged by Yosys's `alumacc`
    into one multi-operand `$macc`, which `maccmap` spells out in gates: about 4x the LUTs (synth_xilinx, measured).
    DSP lanes use the same two levels as the DSP48E1's M and P registers.
    """

    latency = 3  # operand inputs -> registered operands -> M / half sums -> products (accumulated at this edge)

    def __init__(self, kinds, digit_bits: int, trig_bits: int, acc_bits: int, horner_shift: int,
                 pack_shift: int | None, batch: int = 1, prefix: str = "mac"):
        self.kinds, self.D, self.S, self.acc_bits = list(kinds), digit_bits, trig_bits, acc_bits
        self.horner_shift, self.k, self.batch = horner_shift, pack_shift, batch
        for i, kind in enumerate(self.kinds):
            if kind == "pair" and (pack_shift is None or i + 1 >= len(self.kinds) or self.kinds[i + 1] != "pair_hi"):
                raise ValueError(f"lane {i}: a packed pair needs pack_shift and a 'pair_hi' lane after it")
        n = len(self.kinds)
        self.digit = [Signal(signed(digit_bits), name=f"{prefix}_digit{i}") for i in range(n)]
        self.trig_s, self.trig_c = Signal(signed(trig_bits), name=f"{prefix}_ts"), Signal(signed(trig_bits), name=f"{prefix}_tc")
        self.valid, self.first, self.scale, self.last = (Signal(name=f"{prefix}_{x}") for x in ("v", "first", "scale", "last"))
        self.sample = Signal(max(1, ceil_log2(batch)), name=f"{prefix}_sample")
        self.hold_s = [[Signal(signed(acc_bits), name=f"{prefix}_hold{b}_s{i}") for i in range(n)] for b in range(batch)]
        self.hold_c = [[Signal(signed(acc_bits), name=f"{prefix}_hold{b}_c{i}") for i in range(n)] for b in range(batch)]

    def elaborate(self, platform):
        m = Module()
        D, S, k, n, B = self.D, self.S, self.k, len(self.kinds), self.batch
        # Stage 1: registered operands, one trig / control copy per block.
        ts, tc = Signal(signed(S), name="ts1"), Signal(signed(S), name="tc1")
        ns, nc = Signal(signed(S + 1), name="ns1"), Signal(signed(S + 1), name="nc1")  # -trig, for LUT lanes
        v1, f1, sc1, l1, b1 = Signal(), Signal(), Signal(), Signal(), Signal(len(self.sample))
        if "lut" in self.kinds:
            m.d.sync += [ns.eq(-self.trig_s), nc.eq(-self.trig_c)]
        m.d.sync += [ts.eq(self.trig_s), tc.eq(self.trig_c), v1.eq(self.valid), f1.eq(self.first),
                     sc1.eq(self.scale), l1.eq(self.last), b1.eq(self.sample)]
        # Stages 2 and 3: M register / half sums, then the products; control copies.
        v2, f2, sc2, l2, b2 = Signal(), Signal(), Signal(), Signal(), Signal(len(self.sample))
        v3, f3, sc3, l3, b3 = Signal(), Signal(), Signal(), Signal(), Signal(len(self.sample))
        m.d.sync += [v2.eq(v1), f2.eq(f1), sc2.eq(sc1), l2.eq(l1), b2.eq(b1),
                     v3.eq(v2), f3.eq(f2), sc3.eq(sc2), l3.eq(l2), b3.eq(b2)]
        prod_s, prod_c = [None] * n, [None] * n
        for i, kind in enumerate(self.kinds):
            if kind == "pair":
                a = Signal(signed(k + D), name=f"a{i}")  # d_i + d_(i+1) * 2**k
                m.d.sync += a.eq(self.digit[i] + (self.digit[i + 1] << k))
                for t, prods, tag in ((ts, prod_s, "s"), (tc, prod_c, "c")):
                    mw = Signal(signed(k + D + S), name=f"m{tag}{i}")
                    pw = Signal(signed(k + D + S), name=f"p{tag}{i}")
                    m.d.sync += [mw.eq(a * t), pw.eq(mw + (1 << (k - 1)))]
                    prods[i] = Cat(pw[:k - 1], ~pw[k - 1]).as_signed()  # P[0:k] - 2**(k-1): lane i's product
                    prods[i + 1] = pw[k:].as_signed()  # floor((P + 2**(k-1)) / 2**k): lane i+1's product
            elif kind in ("dsp", "lut"):
                d = Signal(signed(D), name=f"d{i}")
                m.d.sync += d.eq(self.digit[i])
                for t, nt, prods, tag in ((ts, ns, prod_s, "s"), (tc, nc, prod_c, "c")):
                    pw = Signal(signed(D + S), name=f"p{tag}{i}")
                    if kind == "dsp":
                        mw = Signal(signed(D + S), name=f"m{tag}{i}")
                        m.d.sync += [mw.eq(d * t), pw.eq(mw)]
                    else:
                        terms, W = shift_add_terms(d, t, nt)
                        half = (len(terms) + 1) // 2
                        x, y = Signal(signed(W), name=f"x{tag}{i}"), Signal(signed(W), name=f"y{tag}{i}")
                        m.d.sync += [x.eq(sum(terms[:half])), y.eq(sum(terms[half:])), pw.eq(x + y)]
                    prods[i] = pw
            elif kind != "pair_hi":
                raise ValueError(f"unknown lane kind {kind!r}")
        # Accumulate (Horner): new = product + (first ? 0 : scale ? acc << c : acc); the product is the adder's first
        # operand, so the carry chain's DI is a register output and the select logic shares the sum's LUT.
        for i in range(n):
            for prods, holds, tag in ((prod_s, self.hold_s, "s"), (prod_c, self.hold_c, "c")):
                acc = [Signal(signed(self.acc_bits), name=f"acc{tag}{i}_{b}") for b in range(B)]
                cur = acc[0]
                for b in range(1, B):  # 2:1 multiplexers (an `Array` case stays x in Icarus; see core._pick)
                    cur = Mux(b3 == b, acc[b], cur)
                prev = Mux(f3, 0, Mux(sc3, cur << self.horner_shift, cur))
                new = Signal(signed(self.acc_bits), name=f"new{tag}{i}")
                m.d.comb += new.eq(prods[i] + prev)
                for b in range(B):
                    with m.If(v3 & ((b3 == b) if B > 1 else 1)):
                        m.d.sync += acc[b].eq(new)
                    with m.If(v3 & l3 & ((b3 == b) if B > 1 else 1)):
                        m.d.sync += holds[b][i].eq(new)
        return m


def lane_kinds(lanes: int, dsp_lanes: int, pack_shift: int | None) -> list[str]:
    """Multiplier kind of each lane: packed DSP pairs (when pack_shift), single-product DSP lanes, then LUT lanes."""
    kinds = []
    for l in range(lanes):
        if l >= dsp_lanes:
            kinds.append("lut")
        elif pack_shift is not None and l % 2 == 0 and l + 1 < dsp_lanes:
            kinds.append("pair")
        elif pack_shift is not None and l % 2 == 1:
            kinds.append("pair_hi")
        else:
            kinds.append("dsp")
    return kinds
