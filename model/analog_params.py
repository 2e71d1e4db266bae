"""Parameters of the analog chip model (pure Python: the roadmap generator reads them without torch).

Each field of :class:`AnalogParams` is one non-ideality or integration setting of model/analog.py; ``PARAMETERS``
gives its unit, typical range and source (docs/analog.md), ``TYPICAL_CMOS`` the numeric range reported for CMOS
ring-oscillator arrays that the chip spec sheet (bitstreams/chip_spec.py) sets the measured tolerances against.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

INTEGRATORS = ("euler", "ode")
WAVEFORMS = ("sine", "square", "triangle")

#: name -> (unit, typical range, source). The single table the docs, the CLI help and the spec sheet read.
PARAMETERS: dict[str, tuple[str, str, str]] = {
    "integrator": ("-", "euler | ode", "euler = the trained schedule (un0-model.md §5); ode = continuous time "
                   "(torchdiffeq dopri5, adaptive)"),
    "rtol": ("-", "1e-6", "adaptive-solver relative tolerance"),
    "atol": ("rad", "1e-8", "adaptive-solver absolute tolerance"),
    "sde_steps": ("steps per T", "256", "Euler-Maruyama steps per model run in continuous time with noise"),
    "run_length": ("T_actual / T", "0.9-1.1", "run length / common f0 shift; V/T shift f0 by several % "
                   "(roadmap fact sheet §6b, unverified)"),
    "cycles_per_run": ("cycles", "50", "oscillation cycles in one model run: Moy et al., Nat. Electron. 5, 310 "
                       "(2022) settle in < 50 cycles (fact sheet §5, §6b)"),
    "freq_mismatch": ("sigma(df/f0)", "0.0001-0.03", "untrimmed CMOS ring oscillators 1-5 % (unverified); "
                      "VO2 ONNs fail at 0.5 % (Shamsi et al., arXiv 2211.05497); fact sheet §6, §6b"),
    "phase_noise": ("rad rms at T", "0-0.5", "white phase noise -110...-70 dBc/Hz at 1 MHz, 1 GHz, 50 cycles "
                    "gives 0.014-0.44 rad (fact sheet §6b; Hajimiri JSSC 34 (1999))"),
    "coupling_bits": ("bits (0 = exact)", "2-8", "5 levels (Moy 2022), -14..+14 (Lo 2023), 6 bit (TCAS-I 71(12) "
                      "2024), 5 bit (Chou 2019; Haverkort 2025); fact sheet §6, §6b"),
    "coupling_mismatch": ("sigma(dK/K)", "0.005-0.3", "DAC INL / RRAM programming spread; ONNs tolerate ~20 % "
                          "(Shamsi, arXiv 2211.05497); fact sheet §6"),
    "coupling_gain": ("dK/K", "-0.2...0.2", "supply/temperature drift of coupler strength (fact sheet §6b)"),
    "coupling_drift": ("dK/K over T", "0-0.1", "slow drift during the run (PCM G ~ t^-nu, nu ~ 0.1, Boybat "
                       "NVMTS 2018; supply/temperature); fact sheet §6b"),
    "waveform": ("-", "sine | square | triangle", "ring-oscillator couplers are not pure sines (Hasan et al., "
                 "arXiv 2605.17243; fact sheet §6b)"),
    "harmonics": ("odd terms", "1-8", "truncated Fourier series of the coupler waveform (coupler bandwidth)"),
    "phase_lag": ("rad", "0-0.3", "Sakaguchi-Kuramoto lag (Prog. Theor. Phys. 76, 576, 1986); fact sheet §6b"),
    "adc_bits": ("bits per turn (0 = exact)", "3-10", "ring-stage sampling 3-5 bits, 1 ps TDC at 1 GHz 9-10 bits, "
                 "digital ONN 4 bits (fact sheet §6b)"),
    "readout_jitter": ("rad rms", "0-0.06", "1-10 ps sampling skew at 1 GHz (fact sheet §6b)"),
    "chip_seed": ("-", "any int >= 0", "draws the static deviations of one chip"),
    "noise_seed": ("-", "any int >= 0", "draws phase noise and readout jitter (boards: one stream per loaded model)"),
}


@dataclass(frozen=True)
class AnalogParams:
    """One chip's non-idealities. All defaults are ideal: the trained Euler schedule, exactly."""

    integrator: str = "euler"
    rtol: float = 1e-6
    atol: float = 1e-8
    sde_steps: int = 256
    run_length: float = 1.0
    cycles_per_run: float = 50.0
    freq_mismatch: float = 0.0
    phase_noise: float = 0.0
    coupling_bits: int = 0
    coupling_mismatch: float = 0.0
    coupling_gain: float = 0.0
    coupling_drift: float = 0.0
    waveform: str = "sine"
    harmonics: int = 4
    phase_lag: float = 0.0
    adc_bits: int = 0
    readout_jitter: float = 0.0
    chip_seed: int = 0
    noise_seed: int = 0

    def __post_init__(self) -> None:
        def bad(msg):
            raise ValueError(f"analog parameter {msg}")

        if self.integrator not in INTEGRATORS:
            bad(f"integrator must be one of {INTEGRATORS}, got {self.integrator!r}")
        if self.waveform not in WAVEFORMS:
            bad(f"waveform must be one of {WAVEFORMS}, got {self.waveform!r}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "int" and (not isinstance(v, int) or isinstance(v, bool)):
                bad(f"{f.name} must be an integer, got {v!r}")
            if f.type == "float" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                bad(f"{f.name} must be a finite number, got {v!r}")
        for name in ("freq_mismatch", "phase_noise", "coupling_mismatch", "coupling_drift", "readout_jitter",
                     "chip_seed", "noise_seed"):
            if getattr(self, name) < 0:
                bad(f"{name} must be >= 0, got {getattr(self, name)!r}")
        checks = (
            ("rtol", 0 < self.rtol < 1), ("atol", 0 < self.atol < 1), ("sde_steps", 1 <= self.sde_steps <= 100_000),
            ("run_length", 0 < self.run_length <= 100), ("cycles_per_run", 0 < self.cycles_per_run <= 1e6),
            ("coupling_bits", self.coupling_bits == 0 or 2 <= self.coupling_bits <= 24),
            ("coupling_gain", -1 < self.coupling_gain <= 10), ("harmonics", 1 <= self.harmonics <= 64),
            ("phase_lag", abs(self.phase_lag) <= math.pi), ("adc_bits", self.adc_bits == 0 or 1 <= self.adc_bits <= 24),
            ("freq_mismatch", self.freq_mismatch <= 1), ("phase_noise", self.phase_noise <= 100),
            ("coupling_mismatch", self.coupling_mismatch <= 10), ("coupling_drift", self.coupling_drift <= 10),
            ("readout_jitter", self.readout_jitter <= 100),
        )
        for name, ok in checks:
            if not ok:
                unit, rng, _ = PARAMETERS[name]
                bad(f"{name}={getattr(self, name)!r} is out of range (unit {unit}; typical {rng})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "AnalogParams":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_assignments(cls, items, base: "AnalogParams | None" = None) -> "AnalogParams":
        """Parse ``["name=value", ...]`` (the CLI's ``--analog``); one clear error for a bad name or value, or for
        a name given twice (adc-bits and adc_bits are one name): the last would silently win."""
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        changes = {}
        for item in items:
            name, sep, raw = str(item).partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in types:
                raise ValueError(f"bad analog setting {item!r}: use NAME=VALUE with NAME one of {sorted(types)}")
            if name in changes:
                raise ValueError(f"analog setting {name} is given twice (--analog {name}=...); give each setting once")
            raw = raw.strip()
            try:
                changes[name] = int(raw) if types[name] == "int" else float(raw) if types[name] == "float" else raw
            except ValueError:
                kind = {"int": "an integer", "float": "a number"}.get(types[name], f"a {types[name]}")
                raise ValueError(f"bad analog setting {item!r}: {name} needs {kind}") from None
        return (base or cls()).replace(**changes)


#: axis -> (low, high, what, source): values reported for CMOS ring-oscillator arrays (the project's roadmap fact
#: sheet §5, §6, §6b, citing the chip papers listed in docs/roadmap.md; "unverified" where the fact sheet says so). For *_bits the range is
#: what silicon has shown; for the others it is the spread a chip will have without extra design effort.
TYPICAL_CMOS: dict[str, tuple[float, float, str, str]] = {
    "freq_mismatch": (0.01, 0.05, "untrimmed CMOS ring oscillators 1-5 % (unverified)", "fact sheet §6b"),
    "phase_noise": (0.014, 0.044, "-100...-90 dBc/Hz at 1 MHz offset, f0 = 1 GHz, 50 cycles", "fact sheet §6b"),
    "coupling_bits": (2.3, 6.0, "5 levels (Moy 2022) ... 6 bits (28 nm 400-node OIM, TCAS-I 2024)",
                      "fact sheet §5, §6b"),
    "coupling_mismatch": (0.005, 0.1, "static weight error: DAC INL, RRAM programming spread (sweep range)",
                          "fact sheet §6b table (unverified)"),
    "coupling_gain": (0.05, 0.2, "supply/temperature drift of coupler strength", "fact sheet §6b table (unverified)"),
    "coupling_drift": (0.0, 0.01, "SRAM+DAC weights do not drift; PCM (nu ~ 0.1) < 1 % within one run", "fact sheet §6b"),
    "phase_lag": (0.0, 0.3, "Sakaguchi lag of non-ideal ring couplers", "fact sheet §6b table (unverified)"),
    "run_length": (0.02, 0.1, "V/T shift f0 (and so the cycles per run) by several %", "fact sheet §6b (unverified)"),
    "adc_bits": (3.3, 10.0, "ring-stage sampling 3.3-4.9 bits; 1 ps TDC at 1 GHz 9-10 bits", "fact sheet §6b"),
    "readout_jitter": (0.006, 0.06, "1-10 ps sampling skew at 1 GHz", "fact sheet §6b"),
}
