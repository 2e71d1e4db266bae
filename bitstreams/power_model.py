"""XPE-style FPGA power estimate from resource counts: static + sum(count x energy per event x rate).

P_dyn = f_clk * [ DSP * e_dsp * toggle_dsp * busy + BRAM * e_bram * busy
                  + LUT * e_lut * toggle_logic + FF * e_ff * toggle_logic ]
Every coefficient is a named parameter in bitstreams/roadmap_params.py with its source or marked as
an assumption (docs/power-model.md). `busy` is the fraction of cycles the MAC lanes work (clock-enable
rate, UG440 tells XPE users to multiply the toggle rate by it). Replace with Vivado report_power on the
routed design (SAIF activity) or a measured delta board power as soon as either exists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .roadmap_params import ParamSet

RESOURCE_KEYS = ("lut", "ff", "dsp", "bram36")

# Block RAM aspect ratios (depth, width) of one RAMB18E1 (UG473, 7 Series Memory Resources).
_BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def bram18_for(depth: int, width_bits: int) -> int:
    """Fewest RAMB18E1 for one depth x width memory, over the 7-series aspect ratios."""
    if depth <= 0 or width_bits <= 0:
        return 0
    return min(math.ceil(width_bits / w) * math.ceil(depth / d) for d, w in _BRAM18_SHAPES)


@dataclass(frozen=True)
class Resources:
    lut: float
    ff: float
    dsp: float
    bram36: float
    source: str = "estimate"

    def to_dict(self) -> dict:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram36": self.bram36, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> "Resources":
        missing = [k for k in RESOURCE_KEYS if k not in d]
        if missing:
            raise ValueError(f"resource dict lacks {missing}; need {RESOURCE_KEYS} (counts)")
        return cls(*(float(d[k]) for k in RESOURCE_KEYS), source=source or d.get("source", "given"))


def estimate_resources(lanes: int, k_bram36: float, aux_bram36: float, P: ParamSet) -> Resources:
    """Analytic counts for a lane-parallel core (used when no yosys report exists for the build)."""
    return Resources(
        lut=P.v("fpga_lut_fixed", "1") + lanes * P.v("fpga_lut_per_lane", "1"),
        ff=P.v("fpga_ff_fixed", "1") + lanes * P.v("fpga_ff_per_lane", "1"),
        dsp=P.v("fpga_dsp_fixed", "1") + lanes * P.v("fpga_dsp_per_lane", "1"),
        bram36=k_bram36 + aux_bram36,
        source="analytic estimate (roadmap_params fpga_*_per_lane)",
    )


def pl_power(res: Resources, clock_hz: float, busy: float, P: ParamSet) -> dict[str, float]:
    """Power breakdown in W for the programmable logic; `busy` in [0, 1]."""
    if not 0.0 <= busy <= 1.0:
        raise ValueError(f"busy fraction must be in [0, 1], got {busy}")
    if clock_hz <= 0:
        raise ValueError(f"clock must be positive, got {clock_hz} Hz")
    dsp_toggle = P.v("dsp_data_toggle", "1") * P.v("dsp_18x18_scale", "1") * busy
    logic = P.v("logic_toggle", "1")
    parts = {
        "dsp_w": res.dsp * P.v("e_dsp_cycle_full_toggle", "J") * dsp_toggle * clock_hz,
        "bram_w": res.bram36 * P.v("e_bram_access", "J") * busy * clock_hz,
        "lut_w": res.lut * P.v("e_lut_toggle", "J") * logic * clock_hz,
        "ff_w": res.ff * P.v("e_ff_toggle", "J") * logic * clock_hz,
    }
    parts["dynamic_w"] = sum(parts.values())
    parts["static_w"] = P.v("pl_static_power", "W")
    parts["pl_total_w"] = parts["dynamic_w"] + parts["static_w"]
    parts["ps_w"] = P.v("ps_active_power", "W")
    parts["system_w"] = parts["pl_total_w"] + parts["ps_w"]
    return parts
