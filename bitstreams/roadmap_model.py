"""Latency and energy per image for CPU, GPU, FPGA and a projected analog oscillator chip.

Pure arithmetic on bitstreams.roadmap_params (no torch): every number in docs/roadmap.md comes out of
these functions, so changing an input changes the report. Units are carried by bitstreams.units.Q.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from model.config import CONFIGS, ModelConfig

from . import streamed
from .power_model import Resources, bram18_for, estimate_resources, pl_power
from .roadmap_params import ParamSet
from .units import Q

#: The six released Un-0 configurations (un0-model.md §7).
UN0_CONFIGS = ("cifar10-n1024", "cifar10-n2048", "cifar10-n4096",
               "imagenet64-n6656", "imagenet64-n10240", "imagenet64-n16384")
#: Small sweep points built with the CIFAR-10 recipe (n_cond 8, 32x32 decoder).
SWEEP_SMALL_N = (64, 128, 256, 512)

def sweep_configs() -> list[ModelConfig]:
    """n64..n512 with the CIFAR recipe, then the six Un-0 configs (n1024..n16384)."""
    small = [CONFIGS[f"cifar10-n{n}"] if f"cifar10-n{n}" in CONFIGS else
             ModelConfig(name=f"cifar10-n{n}", n=n, n_cond=8, num_classes=10, image_size=32,
                         decoder_in_channels=2 * n // 16, dataset="cifar10") for n in SWEEP_SMALL_N]
    return small + [CONFIGS[c] for c in UN0_CONFIGS]


# ---------------------------------------------------------------- workload ---------------------
def decoder_macs(cfg: ModelConfig) -> int:
    """MACs of the ResizeConvDecoder: per block two 3x3 convs at the doubled size, then the head."""
    chans = cfg.decoder_channels
    size = 4
    macs = 0
    for b in range(cfg.num_decoder_blocks):
        size *= 2
        cin, cout = chans[b], chans[b + 1]
        macs += size * size * 9 * (cin * cout + cout * cout)
    macs += size * size * 9 * chans[-1] * 3
    return macs


def decoder_params(cfg: ModelConfig) -> int:
    chans = cfg.decoder_channels
    p = 0
    for b in range(cfg.num_decoder_blocks):
        cin, cout = chans[b], chans[b + 1]
        p += 9 * cin * cout + cout + 9 * cout * cout + cout
    return p + 9 * chans[-1] * 3 + 3


@dataclass(frozen=True)
class Workload:
    name: str
    n: int
    n_cond: int
    steps: int
    dyn_mac_per_step: int
    dyn_mac: int
    dec_mac: int
    dec_params: int
    k_entries: int

    @property
    def total_mac(self) -> int:
        return self.dyn_mac + self.dec_mac


def workload(cfg: ModelConfig, steps: int) -> Workload:
    n, m = cfg.n, cfg.n_cond
    per_step = 2 * n * n + 2 * n * m + 2 * m * m  # K, drive and conditioning block, on sin and cos
    return Workload(cfg.name, n, m, steps, per_step, steps * per_step, decoder_macs(cfg), decoder_params(cfg), n * n)


# ---------------------------------------------------------------- FPGA capacity ----------------
def k_bram36(n: int, n_cond: int, lanes: int, bits: int) -> float:
    """BRAM36 for the lane-banked K: each lane holds groups*n words of `bits`, groups = ceil(n/lanes)
    (fixedpoint.layout; a ragged last group is zero-padded)."""
    depth = -(-n // lanes) * n
    return lanes * bram18_for(depth, bits) / 2


def aux_bram36(n: int, n_cond: int, lanes: int, drive_bits: int = 16, lutram_max_bits: int = 4096) -> float:
    """Drive banks ((groups+1)*n_cond x drive_bits per lane) when too big for LUT RAM (roadmap_params)."""
    depth = (-(-n // lanes) + 1) * n_cond
    if depth * drive_bits <= lutram_max_bits:
        return 0.0
    return lanes * bram18_for(depth, drive_bits) / 2


@dataclass
class FpgaFit:
    n: int
    bits: int | None
    k_bram36: float
    aux_bram36: float
    dsp: float
    where: str  # "on-chip", "ddr", "none"
    k_bytes: float
    notes: list[str] = field(default_factory=list)


def fpga_fit(cfg: ModelConfig, P: ParamSet) -> FpgaFit:
    """Where K lives on the XC7Z020: widest on-chip format (8-bit default, else 4-bit) that fits BRAM, else DDR at
    fpga_coupling_bits_ddr (the streamed-K build), else nowhere."""
    lanes = int(P.v("fpga_lanes", "1"))
    while cfg.n % lanes:
        lanes //= 2
    dsp = P.v("fpga_dsp_fixed", "1") + lanes * P.v("fpga_dsp_per_lane", "1")
    bram_cap = P.v("fpga_bram36", "1")
    aux = aux_bram36(cfg.n, cfg.n_cond, lanes, lutram_max_bits=int(P.v("fpga_lutram_max_bits", "bit")))
    from fixedpoint.spec import FORMATS

    for bits in sorted({FORMATS["default"].coupling_bits, int(P.v("fpga_coupling_bits_onchip", "bit"))}, reverse=True):
        per_lane_bits = (cfg.n // lanes) * cfg.n * bits
        kb = 0.0 if per_lane_bits <= P.v("fpga_lutram_max_bits", "bit") else k_bram36(cfg.n, cfg.n_cond, lanes, bits)
        if kb + aux <= bram_cap:
            return FpgaFit(cfg.n, bits, kb, aux, dsp, "on-chip", cfg.n * cfg.n * bits / 8)
    bits = int(P.v("fpga_coupling_bits_ddr", "bit"))
    k_bytes = cfg.n * cfg.n * bits / 8
    if k_bytes <= P.v("fpga_ddr_for_k", "B"):
        return FpgaFit(cfg.n, bits, 0.0, aux, dsp, "ddr", k_bytes)
    return FpgaFit(cfg.n, None, 0.0, aux, dsp, "none", k_bytes, ["K does not fit the DDR left for it"])


# ---------------------------------------------------------------- per-device estimates ---------
@dataclass
class Estimate:
    device: str
    config: str
    latency_s: float | None
    energy_j: float | None
    basis: str
    detail: dict = field(default_factory=dict)


def gpu_estimates(w: Workload, P: ParamSet, measured: dict | None = None) -> list[Estimate]:
    """H100 at batch 1 (K streamed from HBM every step) and large batch (compute-bound); or measured values."""
    peak = P.q("gpu_peak_bf16")
    bw = P.q("gpu_hbm_bandwidth")
    power = P.q("gpu_board_power")
    mfu = P.v("gpu_mfu", "1")
    wb = P.q("gpu_weight_bytes")
    steps = w.steps
    out = []
    # batch 1: each step reads the whole K (+ drive) from HBM; decoder weights read once.
    k_step = (w.n * (w.n + w.n_cond)) * wb
    t_step_mem = k_step / bw
    t_step_cmp = Q.of(2 * w.dyn_mac_per_step, "FLOP") / peak
    t_step = t_step_mem.max(t_step_cmp) + P.q("gpu_step_overhead")
    t_dec = (Q.of(w.dec_params, "1") * wb / bw).max(Q.of(2 * w.dec_mac, "FLOP") / (peak * mfu))
    t_b1 = t_step * steps + t_dec + P.q("gpu_step_overhead")
    key = f"{w.name}"
    m = (measured or {}).get(key, {})
    if "batch1_latency_s" in m:
        lat = float(m["batch1_latency_s"])
        out.append(Estimate("GPU batch 1", w.name, lat, float(m.get("batch1_energy_j", lat * power.to("W"))),
                            "measured (gpu json)"))
    else:
        out.append(Estimate("GPU batch 1", w.name, t_b1.to("s"), (t_b1 * power).to("J"),
                            "estimate: K from HBM each step + overhead, energy at TDP",
                            {"t_step_mem_s": t_step_mem.to("s"), "t_step_compute_s": t_step_cmp.to("s")}))
    t_bat = Q.of(2 * w.total_mac, "FLOP") / (peak * mfu)
    if "batched_latency_s" in m:
        lat = float(m["batched_latency_s"])
        out.append(Estimate("GPU batched", w.name, lat, float(m.get("batched_energy_j", lat * power.to("W"))),
                            "measured (gpu json)"))
    else:
        out.append(Estimate("GPU batched", w.name, t_bat.to("s"), (t_bat * power).to("J"),
                            f"estimate: compute-bound at {mfu:.0%} MFU, energy at TDP, per image (amortised)"))
    core = Q.of(2 * w.dyn_mac, "FLOP") / (peak * mfu)
    out.append(Estimate("GPU batched core", w.name, core.to("s"), (core * power).to("J"),
                        "estimate: dynamics only, compute-bound"))
    return out


def gpu_memory_fit(w: Workload, P: ParamSet) -> dict:
    wb = P.q("gpu_weight_bytes")
    weights = Q.of(w.k_entries + w.dec_params, "1") * wb
    batch = P.v("gpu_batch", "1")
    need = weights + P.q("gpu_activation_bytes_per_image") * batch
    cap = P.q("gpu_memory")
    return {"weights_bytes": weights.to("B"), "need_bytes": need.to("B"), "capacity_bytes": cap.to("B"),
            "fits": need <= cap, "batch": batch}


@functools.lru_cache(maxsize=None)
def _rtl_cycles(n: int, n_cond: int, lanes: int, bits: int) -> tuple[int, int, dict | None]:
    """(cycles per step, init pass, the cycle benchmark's measurement of this build or None) from the RTL's
    accounting (rtl.resources.cycle_accounting, measured_cycles); it builds throw-away Amaranth objects to read
    their latency, so Amaranth's UnusedElaboratable warnings are silenced here (they are freed inside the block)."""
    import gc
    import warnings
    from dataclasses import replace

    from fixedpoint.spec import FORMATS, HardwareParams
    from rtl.resources import cycle_accounting, measured_cycles

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*created but never used")
        p = HardwareParams(n, n_cond, lanes, replace(FORMATS["default"], coupling_bits=bits))
        acc = cycle_accounting(p)
        gc.collect()
    return acc["step_model"], acc["init_pass"], measured_cycles(p)


def fpga_cycles(n: int, n_cond: int, lanes: int, steps: int, P: ParamSet, bits: int = 8) -> dict:
    """Cycles of the lane-parallel core: groups*(n+m) main MACs + m cond MACs + drain per step, + a run's init pass.

    The cycle benchmark's measurement (benchmarks/results/bench_cycles.json: STEP_CYCLES, and CYCLES less the
    steps for the init pass) when it measured this build; else the RTL's own accounting
    (rtl.resources.cycle_accounting) when rtl/ is importable; else the fpga_step_overhead_cycles assumption
    stands in for the drain and init pass.
    """
    from dataclasses import replace

    from fixedpoint.spec import FORMATS, HardwareParams

    try:  # MAC cycles of the main groups and the conditioning group (digit-serial drive passes, docs/rtl.md)
        hp = HardwareParams(n, n_cond, lanes, replace(FORMATS["default"], coupling_bits=bits))
        step_mac = hp.mac_cycles_per_step + n_cond * hp.drive_passes
    except ValueError:
        step_mac = -(-n // lanes) * (n + n_cond) + n_cond
    source = "assumed overhead (roadmap_params)"
    try:
        step, init, meas = _rtl_cycles(n, n_cond, lanes, bits)
        source = "rtl.resources.cycle_accounting"
        if meas:
            step, init = meas["step_cycles"], meas["run_cycles"] - meas["steps"] * meas["step_cycles"]
            source = "measured: " + meas["source"]
    except (ImportError, ValueError):
        step = step_mac + P.v("fpga_step_overhead_cycles", "cycle")
        init = P.v("fpga_step_overhead_cycles", "cycle")
    total = steps * step + init + P.v("fpga_image_overhead_cycles", "cycle")
    return {"mac_cycles_per_step": step_mac, "cycles_per_step": step, "cycles_per_image": total, "source": source}


def fpga_estimate(w: Workload, cfg: ModelConfig, P: ParamSet, resources: Resources | None = None,
                  cycles_fn=None, streamed_resources: tuple | None = None) -> Estimate:
    """XC7Z020 at fpga_clock with 64 lanes: on-chip K when it fits BRAM (cycles from the RTL's accounting), else the
    streamed-K build (fpga_streamed_estimate)."""
    fit = fpga_fit(cfg, P)
    if fit.where == "none":
        return Estimate("FPGA XC7Z020", w.name, None, None, "does not fit (K exceeds DDR)", {"fit": fit.__dict__})
    if fit.where == "ddr":
        return fpga_streamed_estimate(w, cfg, P, fit, streamed_resources)
    lanes = int(P.v("fpga_lanes", "1"))
    while cfg.n % lanes:
        lanes //= 2
    f = P.q("fpga_clock")
    cyc = (cycles_fn or fpga_cycles)(cfg.n, cfg.n_cond, lanes, w.steps, P, fit.bits)
    t_compute_step = Q.of(cyc["cycles_per_step"], "cycle") / (f * Q.of(1, "cycle"))
    t_ddr_step = Q.of(0, "s")
    ddr_bits = Q.of(0, "bit")
    t_step = t_compute_step.max(t_ddr_step)
    t_core = t_step * w.steps + Q.of(cyc["cycles_per_image"] - cyc["cycles_per_step"] * w.steps, "cycle") / (
        f * Q.of(1, "cycle"))
    # per-image transfers over one HP port: drive rows + initial phases in, phases out (32-bit words)
    words = (cfg.n // lanes) * cfg.n_cond * 2 + 2 * (cfg.n + cfg.n_cond)
    t_xfer = Q.of(words, "1") * P.q("fpga_word_bytes") / P.q("fpga_hp_port_bandwidth")
    t = t_core + t_xfer
    res = resources or estimate_resources(lanes, fit.k_bram36, fit.aux_bram36, P)
    busy = (t_compute_step.to("s") * w.steps) / t.to("s")
    pw = pl_power(res, f.to("Hz"), min(1.0, busy), P)
    e_pl = Q.of(pw["pl_total_w"], "W") * t
    e_ddr = ddr_bits * P.q("e_ddr_bit")
    e_sys = e_pl + e_ddr + Q.of(pw["ps_w"], "W") * t
    return Estimate("FPGA XC7Z020", w.name, t.to("s"), (e_pl + e_ddr).to("J"),
                    f"K {fit.where} at {fit.bits}-bit, {lanes} lanes @ {f.to('MHz'):g} MHz; power model "
                    f"({res.source}); energy = PL + DDR traffic (PS excluded)",
                    {"fit": fit.__dict__, "cycles": cyc, "t_compute_step_s": t_compute_step.to("s"),
                     "t_ddr_step_s": t_ddr_step.to("s"), "transfer_s": t_xfer.to("s"), "busy": busy,
                     "power_w": pw, "resources": res.to_dict(), "system_energy_j": e_sys.to("J"),
                     "ddr_energy_j": e_ddr.to("J"), "lanes": lanes})


def fpga_streamed_estimate(w: Workload, cfg: ModelConfig, P: ParamSet, fit: FpgaFit,
                           synthesized: tuple | None = None) -> Estimate:
    """The streamed-K PYNQ-Z2 build (K read from DDR once per Euler step, B samples per pass over K) as
    bitstreams.streamed.plan sizes it, with the cycle model (rtl.resources.streamed_cycle_accounting) that
    benchmarks/bench_streamed.py checks against STEP_CYCLES measured in Verilator.

    Latency and energy are per image amortised over the batch: one request of B samples (per-request loads, init
    pass, the steps, readback; bitstreams.streamed.request_cycles) takes request_cycles / fpga_clock, so at
    100 MHz 1 / latency is the benchmark's images/s. The DDR rate is hardware.md §8's planning rate
    (bitstreams.streamed.PLANNING_GBPS at the board clock). Energy: PL power (analytic resources with the
    streamed build's on-chip BRAM, or yosys counts when `synthesized` = (HardwareParams, Resources) is this
    build) over the request + DDR energy of the K bits read, per image.
    """
    from fixedpoint.spec import FORMATS

    fmt = next(name for name in ("pynq-z2-n1024", "default") if FORMATS[name].coupling_bits == fit.bits)
    pl = streamed.plan(cfg.n, cfg.n_cond, FORMATS[fmt], steps=w.steps)
    p, acc, use = pl["params"], pl["cycles"], pl["budget"]
    f = P.q("fpga_clock")
    clk = f * Q.of(1, "cycle")
    req = streamed.request_cycles(p, w.steps, acc["step_model"])
    t_batch = Q.of(req, "cycle") / clk
    t = t_batch / p.batch
    ddr_bits = Q.of(p.k_ddr_bytes * 8 * w.steps / p.batch, "bit")
    res = synthesized[1] if synthesized and synthesized[0] == p else estimate_resources(p.lanes, 0.0, use.bram36, P)
    busy = acc["compute"] * w.steps / req
    pw = pl_power(res, f.to("Hz"), min(1.0, busy), P)
    e_pl = Q.of(pw["pl_total_w"], "W") * t
    e_ddr = ddr_bits * P.q("e_ddr_bit")
    e_sys = e_pl + e_ddr + Q.of(pw["ps_w"], "W") * t
    cyc = {"mac_cycles_per_step": p.mac_cycles_per_step, "cycles_per_step": acc["step_model"],
           "compute_cycles_per_step": acc["compute"], "ddr_cycles_per_step": acc["ddr"],
           "cycles_per_request": req, "cycles_per_image": req / p.batch,
           "source": "rtl.resources.streamed_cycle_accounting (checked in benchmarks/bench_streamed.py)"}
    return Estimate("FPGA XC7Z020", w.name, t.to("s"), (e_pl + e_ddr).to("J"),
                    f"K streamed from DDR at {fit.bits}-bit, batch {p.batch}, {p.k_ports} HP ports, {p.lanes} lanes @ "
                    f"{f.to('MHz'):g} MHz, {acc['bound']}-bound; per image amortised over the batch; power model "
                    f"({res.source}); energy = PL + DDR traffic (PS excluded)",
                    {"fit": fit.__dict__, "cycles": cyc, "build": "streamed", "batch": p.batch, "bound": acc["bound"],
                     "k_ports": p.k_ports, "images_per_s": p.batch / t_batch.to("s"),
                     "batch_latency_s": t_batch.to("s"), "onchip_bram36": use.bram36,
                     "t_compute_step_s": (Q.of(acc["compute"], "cycle") / clk).to("s"),
                     "t_ddr_step_s": (Q.of(acc["ddr"], "cycle") / clk).to("s"), "transfer_s": 0.0, "busy": busy,
                     "power_w": pw, "resources": res.to_dict(), "system_energy_j": e_sys.to("J"),
                     "ddr_energy_j": e_ddr.to("J"), "lanes": p.lanes})


def analog_estimate(w: Workload, P: ParamSet) -> tuple[Estimate, dict]:
    """Projected oscillator chip: oscillators + all-to-all couplers during the settle, one ADC per readout."""
    settle = P.q("osc_settle_time")
    n_osc = w.n + w.n_cond
    couplers = w.n * w.n + w.n * w.n_cond + w.n_cond * w.n_cond
    e_osc = P.q("osc_power") * settle * n_osc
    e_cpl = P.q("coupler_power") * settle * couplers
    e_adc = P.q("adc_energy") * w.n
    e_dac = P.q("dac_init_energy") * n_osc
    kT = P.q("thermal_kT")
    floor_per_osc = kT * ((2 * math.pi) ** 2 * P.v("thermal_noise_factor", "1") * P.v("thermal_cycles", "1") ** 2
                          / P.v("thermal_phase_sd", "1") ** 2)
    e_floor = floor_per_osc * n_osc
    e_core = e_osc + e_cpl + e_adc + e_dac + P.q("weights_reload_energy")
    t_core = settle + P.q("adc_time")
    parts = {"oscillators_j": e_osc.to("J"), "couplers_j": e_cpl.to("J"), "adc_j": e_adc.to("J"),
             "dac_j": e_dac.to("J"), "thermal_floor_oscillators_j": e_floor.to("J"),
             "couplers": couplers, "settle_s": settle.to("s"),
             "slow_settle_core_j": (e_core + (P.q("osc_power") * n_osc + P.q("coupler_power") * couplers)
                                    * (P.q("osc_settle_time_slow") - settle)).to("J")}
    return Estimate("analog chip core", w.name, t_core.to("s"), e_core.to("J"),
                    "projection: oscillators + couplers over the settle time + ADC/DAC per oscillator", parts), parts


def decoder_on_gpu(w: Workload, P: ParamSet) -> Estimate:
    t = Q.of(2 * w.dec_mac, "FLOP") / (P.q("gpu_peak_bf16") * P.v("gpu_mfu", "1"))
    return Estimate("decoder on batched GPU", w.name, t.to("s"), (t * P.q("gpu_board_power")).to("J"),
                    "decoder MACs at the batched-GPU rate and energy")


def cpu_estimates(w: Workload, cpu: dict, P: ParamSet) -> list[Estimate]:
    """CPU rows from the measured timings (bitstreams.cpu_bench); unmeasured n use the measured GMAC/s."""
    power = P.v("cpu_power_per_core", "W") * P.v("cpu_cores", "1")
    out = []
    for mode in ("batch1", "batched"):
        rows = [r for r in cpu.get("float", []) if r["mode"] == mode]
        if not rows:
            continue
        exact = [r for r in rows if r["config"] == w.name]
        if exact:
            r = exact[0]
            t = r["dyn_s_per_image"] + r["dec_s_per_image"]
            basis = f"measured here (batch {r['batch']})"
        else:
            ref = max(rows, key=lambda r: r["n"])  # extrapolate from the largest measured size
            dyn_rate = ref["dyn_mac"] / ref["dyn_s_per_image"]
            dec_rate = ref["dec_mac"] / ref["dec_s_per_image"]
            t = w.dyn_mac / dyn_rate + w.dec_mac / dec_rate
            basis = f"extrapolated from measured {ref['config']} GMAC/s (batch {ref['batch']})"
        out.append(Estimate(f"CPU {mode}", w.name, t, t * power, basis + f"; energy = time x {power:g} W (estimate)"))
    return out
