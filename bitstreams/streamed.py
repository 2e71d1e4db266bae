"""Streamed-K builds on the PYNQ-Z2: the batch that fits the XC7Z020, the DDR it needs, modelled images/s.

Facts (../shared/docs/hardware.md §8, sources there): HP ports are 64-bit AXI3 (at most 8 B per PL clock each);
one HP port delivers about 1.0 GB/s, two about 1.4-1.5 GB/s (the 16-bit DDR3's limit), an estimate until
measured on a board; the stock PYNQ image's contiguous pool (CMA) is 128 MiB; the board has 512 MiB of DDR.
Cycles come from rtl.resources.streamed_cycle_accounting, which benchmarks/bench_streamed.py checks against
STEP_CYCLES measured in simulation. Pure Python (no torch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from fixedpoint.layout import stream_lengths
from fixedpoint.spec import AXI_DATA_BITS, BUS_BITS, FORMATS, PYNQ_Z2, HardwareParams, NumericsSpec, lut_lanes_for

from .board_config import CONFIGS as BOARDS
from .power_model import bram18_for

#: Planning bandwidth of K reads from DDR, GB/s, by HP ports used (hardware.md §8 "Planning bandwidth").
PLANNING_GBPS = {1: 1.0, 2: 1.45}
#: First-access latency of a DDR read through an HP port, PL clocks at 100 MHz. Assumption (not in §8): a few
#: hundred ns, as for any DDR3 controller behind an interconnect; paid once per Euler step (bursts pipeline).
DDR_LATENCY_CYCLES = 40
#: XC7Z020 budget (DS190; hardware.md §1) and what the rest of the design keeps: the AXI DMA, interconnects.
BRAM36 = 140
BRAM36_RESERVED = 4
FFS = 106_400
FF_FRACTION = 0.6  # accumulators + feeders may take this much of the flip-flops
LUTS = 53_200
LUTRAM_FRACTION = 0.35  # drive banks in LUT RAM (the RTL asks for distributed RAM) may take this much of the LUTs
#: Stock PYNQ image's CMA pool (hardware.md §8); K planes must fit it unless the bootargs raise `cma=`.
CMA_STOCK_BYTES = 128 << 20
#: Headroom the pool keeps for the AXI DMA's request buffers and fragmentation: K exactly filling the stock pool
#: "does not fit in practice" (hardware.md §8, n16384 at 4-bit K).
CMA_HEADROOM_BYTES = 16 << 20
DDR_BYTES = BOARDS["pynq-z2"].ddr_bytes
#: Lane counts plan() weighs (MAC lanes share DSP48E1 pairs up to fixedpoint.spec.MAC_DSP_BUDGET, LUT multipliers
#: beyond; a ragged last group is allowed). More lanes shorten the compute side of a step but cost accumulator and
#: feeder flip-flops per sample, so the batch that fits shrinks.
LANE_CHOICES = (64, 128, 256)
#: LUTs of the logic (not LUT RAM) the plan may use, and yosys synth_xilinx's cost per part (docs/resources.md):
#: per lane and sample, about one LUT per accumulator bit for the Horner adder and one for the feeder's read
#: multiplexer, sin and cos; per LUT-multiplier lane about 230 more (rtl/lanes.py MacBlock); the rest of the core.
LUT_FRACTION = 0.85
LUTS_PER_ACC_BIT = 2
LUTS_PER_LUT_LANE = 230
LUTS_FIXED = 6000


def clock_hz() -> float:
    return BOARDS["pynq-z2"].fclk0_mhz * 1e6


def port_beats_per_cycle(ports: int) -> float:
    """AXI beats per PL clock each K read port delivers at the planning rate (at most 1: a 64-bit port)."""
    bytes_per_cycle = PLANNING_GBPS[ports] * 1e9 / clock_hz() / ports
    return min(1.0, bytes_per_cycle / (AXI_DATA_BITS // 8))


@dataclass(frozen=True)
class Budget:
    bram36: float
    ffs: int
    lutram_luts: int
    luts: int = 0

    def fits(self) -> bool:
        return (self.bram36 <= BRAM36 - BRAM36_RESERVED and self.ffs <= FF_FRACTION * FFS
                and self.lutram_luts <= LUTRAM_FRACTION * LUTS and self.luts + self.lutram_luts <= LUT_FRACTION * LUTS)


def budget(p: HardwareParams) -> Budget:
    """On-chip memory of a streamed-K build (K itself is in DDR), memory by memory as rtl/core.py builds it: phase
    (B·nt words) in block RAM; trig as two buffers of B·nt (sin, cos) words, each with one read/write port and one
    read port, so each maps to one true-dual-port block RAM (a single memory read by the MAC broadcast and by the
    post-processor would be built once per read port: yosys synthesized the n6656 B 3 build to 112.5 BRAM36 that
    way, 40 more than this budget counted); gain and omega (nt words) in block RAM; one 128-beat FIFO per K port;
    drive banks in LUT RAM; B accumulator pairs and B row feeders per lane in flip-flops. Block RAM is counted as the
    fewest RAMB18E1 over the 7-series aspect ratios (power_model.bram18_for), a lower bound of what a tool packs."""
    s = p.spec
    nt, BN = p.n_total, p.state_words
    r18 = (bram18_for(BN, s.phase_bits) + 2 * bram18_for(BN, 2 * s.trig_bits) + bram18_for(nt, s.gain_bits)
           + bram18_for(nt, BUS_BITS) + p.k_ports * bram18_for(128, AXI_DATA_BITS))
    ffs = 4 * p.batch * p.lanes * p.acc_bits
    lutram = p.lanes * math.ceil(p.drive_bank_depth / 64) * s.drive_bits
    luts = LUTS_FIXED + 2 * LUTS_PER_ACC_BIT * p.batch * p.lanes * p.acc_bits + LUTS_PER_LUT_LANE * p.lut_lanes
    return Budget(r18 / 2, ffs, lutram, luts)


def request_cycles(p: HardwareParams, steps: int, step_cycles: float) -> float:
    """One batch: drive + phase words in (one word per clock), init pass, the steps, readback (2 clocks a word)."""
    from rtl.resources import cycle_accounting

    lengths = stream_lengths(p)
    return lengths["drive"] + lengths["phase"] + cycle_accounting(p)["init_pass"] + steps * step_cycles \
        + 2 * p.state_words


#: plan() takes the smallest batch within this fraction of the best images/s (a larger batch costs latency).
BATCH_TOLERANCE = 0.05


def plan(n: int, n_cond: int, spec: NumericsSpec, steps: int = 10, ports: int = 2, max_batch: int = 16) -> dict:
    """The streamed-K PYNQ-Z2 build for an (n, n_cond) model: over LANE_CHOICES and batches that fit the chip, the
    fewest lanes, then the smallest batch, within BATCH_TOLERANCE of the most images/s; its cycles per step
    (compute vs DDR), images/s and DDR needs."""
    from rtl.resources import streamed_cycle_accounting

    rate = port_beats_per_cycle(ports)
    options = []
    for lanes in LANE_CHOICES:
        for b in range(1, max_batch + 1):
            try:
                p = HardwareParams(n, n_cond, lanes, spec, batch=b, k_source="ddr", k_ports=ports,
                                   lut_lanes=lut_lanes_for(lanes, spec))
            except ValueError:
                break  # lanes beyond this model's group size or word packing
            use = budget(p)
            if not use.fits():
                break
            acc = streamed_cycle_accounting(p, rate, DDR_LATENCY_CYCLES)
            ips = b * clock_hz() / request_cycles(p, steps, acc["step_model"])
            options.append({"params": p, "budget": use, "cycles": acc, "images_per_s": ips})
    if not options:
        raise ValueError(f"no streamed-K batch of n={n} fits the XC7Z020's on-chip memory")
    top = max(o["images_per_s"] for o in options)
    best = next(o for o in options if o["images_per_s"] >= (1 - BATCH_TOLERANCE) * top)
    p = best["params"]
    best.update(k_plane_bytes=p.k_plane_bytes, k_ddr_bytes=p.k_ddr_bytes,
                fits_stock_cma=p.k_ddr_bytes + CMA_HEADROOM_BYTES <= CMA_STOCK_BYTES,
                cma_needed_mib=math.ceil((p.k_ddr_bytes + CMA_HEADROOM_BYTES) / 2**20 / 64) * 64,
                port_beats_per_cycle=rate)
    return best


#: K of the on-chip build (PYNQ_Z2: cifar10-n1024 at 4 bit in 128 BRAM36): the most K bits the XC7Z020 holds.
ONCHIP_K_BITS = PYNQ_Z2.n * PYNQ_Z2.n * PYNQ_Z2.spec.coupling_bits


def pynq_z2_build(n: int, n_cond: int, dataset: str = "") -> HardwareParams | None:
    """The build a PYNQ-Z2 runs a model on, when it is a streamed-K build: models whose 4-bit K exceeds the on-chip
    budget, and every ImageNet-64 model (the ImageNet-64 bitstreams stream K and the class drive per request).
    Returns None for models the on-chip build family serves (fixedpoint.spec.default_build decides those)."""
    if (n, n_cond) == (PYNQ_Z2.n, PYNQ_Z2.n_cond):
        return None
    spec = FORMATS["pynq-z2-n1024"]
    if n * n * spec.coupling_bits <= ONCHIP_K_BITS and dataset != "imagenet64":
        return None
    return plan(n, n_cond, spec)["params"]


def pynq_z2_params(n: int, n_cond: int, dataset: str = "") -> HardwareParams:
    """The core build a PYNQ-Z2 runs an (n, n_cond) model of `dataset` on: the streamed-K build of pynq_z2_build
    when there is one, else the on-chip build fixedpoint.spec.default_build picks (PYNQ_Z2 for cifar10-n1024)."""
    from fixedpoint.spec import default_build

    return pynq_z2_build(n, n_cond, dataset) or default_build(n, n_cond)


def served_models(params: HardwareParams) -> list[str]:
    """Names of the model configurations (model.config.CONFIGS) a PYNQ-Z2 runs on this core build, largest first."""
    from model.config import CONFIGS as MODELS

    names = [name for name, c in MODELS.items() if pynq_z2_params(c.n, c.n_cond, c.dataset) == params]
    return sorted(names, key=lambda k: -MODELS[k].n)
