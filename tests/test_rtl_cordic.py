"""The pipelined CORDIC (rtl/cordic.py) against fixedpoint/cordic.py, bit for bit, in Amaranth's simulator."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from fixedpoint.cordic import phase_sincos
from fixedpoint.spec import FORMATS, NumericsSpec
from rtl.cordic import CordicPipeline


def run_cordic(spec: NumericsSpec, phases: np.ndarray, gaps: bool = False):
    """Feed phase words (optionally with bubbles), collect (tag, sin, cos) per output."""
    dut = CordicPipeline(spec, tag_bits=max(1, int(len(phases)).bit_length()))
    out = []

    async def tb(ctx):
        rng = np.random.default_rng(1)
        i = 0
        cycles = 0
        while len(out) < len(phases):
            if i < len(phases) and not (gaps and rng.random() < 0.3):
                ctx.set(dut.in_valid, 1)
                ctx.set(dut.in_phase, int(phases[i]))
                ctx.set(dut.in_tag, i)
                i += 1
            else:
                ctx.set(dut.in_valid, 0)
            await ctx.tick()
            cycles += 1
            assert cycles < 4 * len(phases) + 100
            if ctx.get(dut.out_valid):
                out.append((ctx.get(dut.out_tag), ctx.get(dut.out_sin), ctx.get(dut.out_cos)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    tags = np.array([o[0] for o in out])
    return tags, np.array([o[1] for o in out]), np.array([o[2] for o in out]), dut.latency


def test_cordic_exhaustive_small_spec():
    """Every one of the 2**10 angles of a 10-bit CORDIC, with random bits below the truncation."""
    spec = NumericsSpec(phase_frac_bits=12, phase_turn_bits=4, cordic_in_bits=10, trig_bits=10, cordic_iters=10,
                        cordic_guard_bits=3, cordic_angle_guard_bits=2)
    rng = np.random.default_rng(0)
    angles = np.arange(1 << 10)
    phases = (angles << 2) | rng.integers(0, 4, angles.size)  # fraction bits
    phases = phases + (rng.integers(-8, 8, angles.size) << 12)  # whole turns must not matter
    tags, s, c, _ = run_cordic(spec, phases)
    es, ec = phase_sincos(phases, spec)
    assert np.array_equal(tags, np.arange(len(phases)))
    assert np.array_equal(s, es) and np.array_equal(c, ec)


@pytest.mark.parametrize("fmt", ["default", "wide"])
def test_cordic_random_default_spec(fmt):
    spec = FORMATS[fmt]
    rng = np.random.default_rng(42)
    lim = 1 << (spec.phase_bits - 1)
    special = np.array([0, -1, lim - 1, -lim] + [k << (spec.phase_frac_bits - 3) for k in range(-8, 8)])
    phases = np.concatenate([special, rng.integers(-lim, lim, 600)])
    tags, s, c, lat = run_cordic(spec, phases, gaps=True)
    es, ec = phase_sincos(phases, spec)
    assert lat == spec.cordic_iters + 3
    assert np.array_equal(tags, np.arange(len(phases)))
    assert np.array_equal(s, es) and np.array_equal(c, ec)
