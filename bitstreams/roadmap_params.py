"""Every input of the roadmap report, with its unit and where it comes from (one source of truth).

kind: "sourced" (read in the cited source), "derived" (arithmetic on sourced rows, see the note),
"recalled" (from a known paper, not re-read: verify before publishing), "assumption" (our guess,
replace when a measurement exists), "design" (a choice of this project, e.g. the PYNQ-Z2 build).
RM §/HW § name sections of the project's roadmap and hardware fact sheets; each row's source names the primary
document (data sheet, user guide, paper) they record.
Change a value with ParamSet.with_overrides(name=value) or `python -m bitstreams.roadmap --set name=value`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

from fixedpoint.spec import PYNQ_Z2

from .board_config import CONFIGS as BOARDS
from .units import Q, parse_unit

KINDS = ("sourced", "derived", "recalled", "assumption", "design", "measured")


@dataclass(frozen=True)
class Param:
    name: str
    value: float
    unit: str
    kind: str
    source: str
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: kind {self.kind!r} not in {KINDS}")
        parse_unit(self.unit)  # fails early on a typo in the unit

    @property
    def q(self) -> Q:
        return Q.of(self.value, self.unit)


_P = [
    # ---- workload ------------------------------------------------------------------------
    Param("euler_steps", 10, "1", "sourced", "Un-0 release recipe (un0-model.md §4, §7)"),
    # ---- GPU: NVIDIA H100 SXM5 (RM §3) ------------------------------------------------------
    Param("gpu_peak_bf16", 989.4, "TFLOP/s", "sourced", "RM §3: glennklockwood.com/garden/processors/h100 (dense BF16)"),
    Param("gpu_hbm_bandwidth", 3.35, "TB/s", "sourced", "RM §3: same page (HBM3)"),
    Param("gpu_board_power", 700, "W", "sourced", "RM §3: H100 SXM5 TDP; energy = time x TDP (upper bound)"),
    Param("gpu_memory", 80, "GB", "sourced", "RM §3: H100 SXM5 80 GB"),
    Param("gpu_mfu", 0.5, "1", "assumption", "RM §3 quotes 100 % (ideal) and 50 %; 50 % used for the batched estimate"),
    Param("gpu_weight_bytes", 2, "B", "design", "BF16 K on the GPU (RM §1: K at BF16)"),
    Param("gpu_step_overhead", 5, "us", "assumption",
          "kernel launches + sync per Euler step at batch 1 (a few kernels of a few µs; CUDA graphs would cut it)"),
    Param("gpu_batch", 4096, "1", "assumption", "batch for the amortised GPU number (large enough to be compute-bound)"),
    Param("gpu_activation_bytes_per_image", 4e6, "B", "assumption",
          "working set per image in flight (phases, features, decoder activations at BF16) for the memory-fit check"),
    # ---- CPU (this machine; timings are measured by bitstreams.roadmap) ---------------------
    Param("cpu_power_per_core", 6.25, "W", "recalled",
          "Xeon Platinum 8480+ 350 W TDP / 56 cores [R]; the host here is a 2-vCPU KVM guest with no RAPL, "
          "so CPU energy = measured time x cores x this (an estimate, not a measurement)"),
    Param("cpu_cores", 1, "1", "design",
          "timed with one torch thread: the 2 vCPUs are shared with a training run, and 2 contended threads "
          "ran up to 25x slower than one"),
    # ---- FPGA: XC7Z020 on PYNQ-Z2 (HW §1-2, RM §7) -------------------------------------------
    Param("fpga_bram36", 140, "1", "sourced", "HW §1: Digilent PYNQ-Z1 manual / DS190 (140 BRAM36)"),
    Param("fpga_bram36_bits", 32768, "bit", "sourced",
          "HW §2: 32 Kb data per BRAM36 at power-of-two widths (36 Kb only with parity bits); aspect ratios UG473"),
    Param("fpga_dsp", 220, "1", "sourced", "HW §1: 220 DSP48E1"),
    Param("fpga_luts", 53200, "1", "sourced", "HW §1: 53,200 LUT6"),
    Param("fpga_ffs", 106400, "1", "sourced", "HW §1: 106,400 flip-flops"),
    Param("fpga_clock", BOARDS["pynq-z2"].fclk0_mhz, "MHz", "design",
          "FCLK0 of the block design (bitstreams/board_config.py; HW §1: base overlay, pynq.ps.DEFAULT_PL_CLK_MHZ)"),
    Param("fpga_lanes", PYNQ_Z2.lanes, "1", "design", "fixedpoint.spec.PYNQ_Z2.lanes (MAC lanes, K·sin and K·cos each)"),
    Param("fpga_dsp_per_lane", PYNQ_Z2.mac_dsps / PYNQ_Z2.lanes, "1", "design",
          "fixedpoint.spec.PYNQ_Z2.mac_dsps / lanes: two lanes per DSP48E1 pair up to MAC_DSP_BUDGET, LUT multipliers "
          "beyond (docs/rtl.md, MAC lanes)"),
    Param("fpga_dsp_fixed", 4, "1", "assumption", "DSPs outside the lanes (u = c·accS − s·accC, gain multiply)"),
    Param("fpga_coupling_bits_onchip", 4, "bit", "design", "fixedpoint.spec FORMATS['pynq-z2-n1024'] (4-bit K)"),
    Param("fpga_coupling_bits_ddr", 4, "bit", "design",
          "FORMATS['pynq-z2-n1024'] (4-bit K): the streamed-K PYNQ-Z2 builds (bitstreams.streamed.pynq_z2_build)"),
    Param("fpga_step_overhead_cycles", 64, "cycle", "assumption",
          "per-step pipeline drain and per-run init pass, used only when rtl.resources.cycle_accounting "
          "(the RTL's own accounting) is not importable; the on-chip cycle counter replaces both when measured"),
    Param("fpga_image_overhead_cycles", 0, "cycle", "design",
          "cycles per run outside the steps and the init pass: none in the core's CYCLES counter (START to done; "
          "the host handshake is host time, counted in the transfer column)"),
    Param("fpga_hp_port_bandwidth", 1.2, "GB/s", "sourced", "HW §1: UG585 Table 22-8, PL DMA master on S_AXI_HP"),
    Param("fpga_ddr_capacity", 512, "MiB", "sourced", "HW §1: 512 MB DDR3"),
    Param("fpga_ddr_for_k", 384, "MiB", "assumption", "DDR left for K after Linux and the PYNQ image"),
    Param("fpga_lutram_max_bits", 4096, "bit", "assumption",
          "per-lane memories up to this size go to distributed (LUT) RAM, larger ones to BRAM"),
    Param("fpga_word_bytes", 4, "B", "design", "fixedpoint.spec.BUS_BITS = 32 per stream word"),
    # ---- FPGA power model (docs/power-model.md) -----------------------------------------------
    Param("pl_static_power", 0.12, "W", "assumption",
          "XC7Z020 PL static at 25 °C; replace with Vivado report_power (device static) for the routed design"),
    Param("ps_active_power", 1.5, "W", "assumption",
          "PS7 (2x A9 + DDR controller) while the host loop runs; the board-level figure in RM §7 is 2-3 W"),
    Param("e_dsp_cycle_full_toggle", 15, "pJ", "assumption",
          "DSP48E1 energy per clock at 100 % toggle; x UG440 toggle (38 % random data, x0.86 for 18x18) ≈ 5 pJ, "
          "inside RM §7's unsourced 3-10 pJ placeholder"),
    Param("dsp_data_toggle", 0.38, "1", "sourced", "UG440 (XPE): random data toggles ≈ 38 %"),
    Param("dsp_18x18_scale", 0.86, "1", "sourced", "UG440: scale toggle by 0.86 for 18x18 use (XPE assumes 27x18)"),
    Param("e_bram_access", 5, "pJ", "derived",
          "32-bit read from a 32 KB SRAM at 45 nm = 5 pJ (Horowitz ISSCC 2014 via EIE Table I, RM §4); taken as "
          "one BRAM36 port access, assuming the 28 nm node and FPGA overheads roughly cancel [assumption]"),
    Param("e_lut_toggle", 0.05, "pJ", "derived",
          "8-bit add 0.03 pJ (45 nm, Horowitz [R]) x 14 (FPGA/ASIC dynamic power, Kuon & Rose 2007) / 8 LUTs"),
    Param("e_ff_toggle", 0.02, "pJ", "assumption", "flip-flop incl. its clock load per toggle"),
    Param("logic_toggle", 0.125, "1", "sourced", "UG440 default logic toggle rate 12.5 %"),
    Param("e_ddr_bit", 20, "pJ/bit", "derived", "32-bit DRAM read = 640 pJ (Horowitz via EIE Table I, RM §4) / 32"),
    Param("fpga_lut_per_lane", 180, "1", "assumption", "LUTs per lane (adders, muxes, address) until yosys counts exist"),
    Param("fpga_lut_fixed", 3000, "1", "assumption", "AXI-Lite, stream loaders, CORDIC, control"),
    Param("fpga_ff_per_lane", 250, "1", "assumption", "FFs per lane until yosys counts exist"),
    Param("fpga_ff_fixed", 3000, "1", "assumption", "FFs outside the lanes"),
    # ---- analog oscillator chip (projection, RM §4-6) -----------------------------------------
    Param("osc_power", 21.3, "uW", "derived", "Moy et al. 2022: 42 mW / 1,968 nodes (RM §5) [D]"),
    Param("osc_settle_time", 50, "ns", "sourced", "Moy et al. 2022 ≈ 50 ns per solve, as cited in 2024 (RM §5; weak)"),
    Param("osc_settle_time_slow", 500, "ns", "derived", "RM §5: 50-500 ns range for the projection"),
    Param("thermal_cycles", 100, "1", "assumption", "oscillation cycles per image in the thermal-floor formula (RM §6)"),
    Param("thermal_phase_sd", 0.05, "1", "assumption", "tolerated phase s.d. in rad (RM §6 example)"),
    Param("thermal_kT", 4.14e-21, "J", "derived", "k_B x 300 K"),
    Param("thermal_noise_factor", 7.33, "1", "recalled", "ring-oscillator bound 7.33·kT/P (Navid, Lee & Dutton 2005 [R], RM §6)"),
    Param("coupler_power", 1.0, "uW", "assumption",
          "static bias of one programmable all-to-all coupling cell (a ~1 µA current-mode cell at 1 V); "
          "n² cells. No all-to-all chip above 48 spins exists (RM §5) so this is unanchored"),
    Param("adc_energy", 1.3, "pJ", "recalled",
          "one 8-bit phase conversion (TDC/SAR): ≈ 256 steps x 5 fJ/step Walden FoM [R]; per oscillator per image"),
    Param("adc_energy_bits", 8, "1", "recalled", "resolution adc_energy is quoted for (its 256 Walden steps); the "
          "spec sheet scales the ADC energy as 2^bits from it"),
    Param("adc_time", 10, "ns", "assumption", "conversion time with one converter per oscillator (parallel)"),
    Param("dac_init_energy", 1.0, "pJ", "assumption", "setting one oscillator's random initial phase"),
    Param("weights_reload_energy", 0.0, "J", "assumption",
          "K programming is amortised over many images (one model): counted as 0 per image"),
    # ---- the claim ------------------------------------------------------------------------
    Param("claim_factor", 1000, "1", "sourced", "Un-0 blog: goal ≈ 1000x less energy than today's machines (RM §2)"),
]

DEFAULTS: dict[str, Param] = {p.name: p for p in _P}
assert len(DEFAULTS) == len(_P), "duplicate parameter names"


class ParamSet:
    """An immutable view of the parameters; .q(name) gives a Q, .v(name, unit) a float in that unit."""

    def __init__(self, params: dict[str, Param] | None = None):
        self.params = dict(params or DEFAULTS)

    def q(self, name: str) -> Q:
        try:
            return self.params[name].q
        except KeyError:
            raise KeyError(f"unknown roadmap parameter {name!r}; see bitstreams/roadmap_params.py") from None

    def v(self, name: str, unit: str) -> float:
        return self.q(name).to(unit)

    def with_overrides(self, **values) -> "ParamSet":
        """Same set with some values replaced (in each parameter's own unit); marks them as overridden."""
        new = dict(self.params)
        for name, value in values.items():
            if name not in new:
                raise KeyError(f"unknown roadmap parameter {name!r}; known: {sorted(new)}")
            new[name] = replace(new[name], value=float(value), note=(new[name].note + " [overridden]").strip())
        return ParamSet(new)

    def table(self) -> list[dict]:
        return [{"name": p.name, "value": p.value, "unit": p.unit, "kind": p.kind, "source": p.source}
                for p in self.params.values()]

    def to_json(self) -> str:
        return json.dumps(self.table(), indent=1)


def parse_overrides(items: list[str]) -> dict[str, float]:
    """['gpu_mfu=0.3', ...] -> {'gpu_mfu': 0.3} (values in the parameter's own unit)."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ValueError(f"--set expects name=value, got {it!r}")
        k, v = it.split("=", 1)
        if k.strip() in out:
            raise ValueError(f"--set {k.strip()} is given twice; give each parameter once")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ValueError(f"--set {k}: value {v!r} is not a number (give it in the unit listed in roadmap_params)") from None
    return out
