"""Fully pipelined CORDIC sin/cos: one phase word in and one (sin, cos) out per clock, bit-exact to
fixedpoint/cordic.py (fold to [-1/4, 1/4) turn, I micro-rotations with arithmetic shifts, round the G guard
bits half-up, saturate to +-A, apply the fold's sign).

Latency is `iters + 3` clocks: one fold stage, one stage per micro-rotation, a rounding and saturating stage and an
unfolding stage (each of the last two one carry chain deep, docs/resources.md logic depth). A tag (the row
index) travels with each sample so the consumer knows where to write it. `flush` clears every valid bit (abort).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fixedpoint.spec import NumericsSpec


class CordicPipeline(wiring.Component):
    def __init__(self, spec: NumericsSpec, tag_bits: int = 1):
        self.spec = spec
        self.tag_bits = max(1, tag_bits)
        super().__init__({
            "in_valid": In(1),
            "in_phase": In(signed(spec.phase_bits)),
            "in_tag": In(self.tag_bits),
            "flush": In(1),
            "out_valid": Out(1),
            "out_sin": Out(signed(spec.trig_bits)),
            "out_cos": Out(signed(spec.trig_bits)),
            "out_tag": Out(self.tag_bits),
        })

    @staticmethod
    def latency_for(spec: NumericsSpec) -> int:
        """Clocks from in_valid to out_valid: fold stage + one per micro-rotation + round/saturate + unfold."""
        return spec.cordic_iters + 3

    @property
    def latency(self) -> int:
        return self.latency_for(self.spec)

    def elaborate(self, platform):
        m = Module()
        s = self.spec
        fc, ga, g = s.cordic_in_bits, s.cordic_angle_guard_bits, s.cordic_guard_bits
        xyw, zw = s.cordic_xy_bits, s.cordic_z_bits
        amp = s.trig_amplitude

        def stage(name):
            return (Signal(name=f"{name}_v"), Signal(signed(xyw), name=f"{name}_x"), Signal(signed(xyw), name=f"{name}_y"),
                    Signal(signed(zw), name=f"{name}_z"), Signal(name=f"{name}_neg"), Signal(self.tag_bits, name=f"{name}_tag"))

        # Stage 0: truncate to the top FC fraction bits, fold into [-1/4, 1/4) turn.
        shift = s.phase_frac_bits - s.cordic_in_bits
        angle = self.in_phase.as_unsigned()[shift:shift + fc]
        top2 = angle[fc - 2:fc]
        negate = (top2 == 1) | (top2 == 2)
        folded = Signal(fc)
        m.d.comb += folded.eq(angle ^ Mux(negate, 1 << (fc - 1), 0))
        v, x, y, z, neg, tag = stage("c0")
        m.d.sync += [v.eq(self.in_valid & ~self.flush), x.eq(s.cordic_x0), y.eq(0),
                     z.eq(folded.as_signed() << ga), neg.eq(negate), tag.eq(self.in_tag)]
        # Micro-rotations.
        for i, alpha in enumerate(s.cordic_angles):
            nv, nx, ny, nz, nneg, ntag = stage(f"c{i + 1}")
            up = z >= 0
            xs, ys = x >> i, y >> i
            m.d.sync += [nv.eq(v & ~self.flush), nx.eq(Mux(up, x - ys, x + ys)), ny.eq(Mux(up, y + xs, y - xs)),
                         nz.eq(Mux(up, z - alpha, z + alpha)), nneg.eq(neg), ntag.eq(tag)]
            v, x, y, z, neg, tag = nv, nx, ny, nz, nneg, ntag
        # Round the guard bits (add half, floor), saturate, unfold.
        half = (1 << (g - 1)) if g else 0
        rc, rs = Signal(signed(xyw + 1)), Signal(signed(xyw + 1))
        m.d.comb += [rc.eq((x + half) >> g), rs.eq((y + half) >> g)]

        def clip(val):
            return Mux(val > amp, amp, Mux(val < -amp, -amp, val))

        cc, cs = Signal(signed(s.trig_bits + 1), name="clip_c"), Signal(signed(s.trig_bits + 1), name="clip_s")
        cv, cneg, ctag = Signal(name="clip_v"), Signal(name="clip_neg"), Signal(self.tag_bits, name="clip_tag")
        m.d.sync += [cv.eq(v & ~self.flush), cc.eq(clip(rc)), cs.eq(clip(rs)), cneg.eq(neg), ctag.eq(tag)]
        m.d.sync += [self.out_valid.eq(cv & ~self.flush), self.out_tag.eq(ctag),
                     self.out_cos.eq(Mux(cneg, -cc, cc)), self.out_sin.eq(Mux(cneg, -cs, cs))]
        return m
