"""Chip spec sheet for docs/roadmap.md, generated from the analog tolerance sweeps (docs/analog/analog-sweep.json).

The sweeps (python -m model.analog_sweep) give, per non-ideality, the largest value that keeps the images of the
learned equations close to the ideal ones. This module sets those tolerances next to the values reported for CMOS
ring-oscillator arrays (model.analog_params.TYPICAL_CMOS, from the roadmap fact sheet), derives the readout ADC
bits, the coupling DAC bits and the frequency-trim bits a chip needs, and re-prices the analog energy projection
of bitstreams.roadmap_model.analog_estimate with them:

* ADC energy per conversion scales as 2^bits (Walden figure of merit, the basis of the ``adc_energy`` parameter):
  E(b) = adc_energy * 2^(b - adc_energy_bits);
* the thermal phase-noise floor per oscillator scales as 1/sigma^2 (fact sheet §6: E ~ (2 pi)^2 7.33 kT n^2 /
  sigma^2), so the tolerated phase noise replaces the assumed ``thermal_phase_sd``;
* the coupling DAC bits set the on-chip weight storage, n^2 * bits (plus n*n_cond + n_cond^2 drive/cond cells).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .manifest import REPO_ROOT
from .roadmap_params import ParamSet
from .units import fmt_si

ANALOG_JSON = REPO_ROOT / "docs" / "analog" / "analog-sweep.json"
#: axes where fewer bits are worse; the others: a larger (or larger |deviation|) value is worse
BITS_AXES = ("coupling_bits", "adc_bits")


class SpecSheetError(ValueError):
    """The analog sweep JSON is missing fields or holds values of the wrong type."""


def load_analog_sweep(path: str | Path | None = None) -> dict | None:
    """The sweep results, checked for the fields the spec sheet reads; None when the file does not exist."""
    p = Path(path) if path else ANALOG_JSON
    if not p.is_file():
        return None
    if p.stat().st_size > 64 * 2**20:
        raise SpecSheetError(f"{p} is larger than 64 MiB; not an analog sweep result")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise SpecSheetError(f"{p}: not valid JSON ({e}); regenerate with python -m model.analog_sweep") from None
    ok = isinstance(d, dict) and isinstance(d.get("models"), list) and all(
        isinstance(m, dict) and isinstance(m.get("key"), str) and isinstance(m.get("tolerances"), list)
        and all(isinstance(t, dict) and isinstance(t.get("axis"), str) for t in m["tolerances"]) for m in d["models"])
    if not ok or not isinstance(d.get("psnr_min_db"), (int, float)) or not isinstance(d.get("agree_drop"), (int, float)):
        raise SpecSheetError(f"{p}: expected {{'models': [{{'key', 'tolerances': [{{'axis', ...}}]}}], 'psnr_min_db', "
                             "'agree_drop'}; regenerate with python -m model.analog_sweep")
    for m in d["models"]:
        for t in m["tolerances"]:
            v = t.get("tolerance")
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise SpecSheetError(f"{p}: tolerance of {t['axis']} in {m['key']} is {v!r}, not a number")
    return d


def _tol(model: dict, axis: str):
    return next((t for t in model["tolerances"] if t["axis"] == axis), None)


def spec_sheet(sweep: dict, result: dict, P: ParamSet) -> dict:
    """Rows of the spec table, the chip requirements and the re-priced energy (plain data)."""
    from model.analog_params import TYPICAL_CMOS

    models = sweep["models"]
    rows = []
    for axis, (low, high, what, source) in TYPICAL_CMOS.items():
        per = {m["key"]: _tol(m, axis) for m in models}
        vals = []
        for t in per.values():
            if t is None:
                continue
            if t.get("tolerance") is None:  # fails at the mildest swept value
                first = t.get("first_fail") or []
                vals.append(("below", abs(first[0]) if first and axis not in BITS_AXES else None))
            else:
                vals.append(("at", t["tolerance"]))
        if not vals:
            continue
        if axis in BITS_AXES:
            need = max(v for k, v in vals if k == "at") if all(k == "at" for k, _ in vals) else None
            binding = need
            if need is None:
                verdict = "needs more bits than swept"
            elif need <= low:
                verdict = "met by the coarsest silicon shown"
            elif need <= high:
                verdict = "met by the better silicon shown"
            else:
                verdict = f"beyond what silicon has shown ({high:g} bits)"
            margin = None if need is None else high / need  # > 1: silicon offers more than needed
        else:
            bound = [v for k, v in vals if k == "at"]
            below = [v for k, v in vals if k == "below"]
            binding = min(bound) if bound and not below else None
            upper = min(below) if below else None  # tolerance is below this swept value
            if binding is None:
                verdict = (f"below {upper:g}, the mildest value swept: {low / upper:.3g}×+ tighter than typical, "
                           "needs trim or calibration") if upper else "fails at every value"
                margin = 0.0
            elif binding >= high:
                verdict = "met by typical chips"
                margin = binding / high if high else math.inf
            elif binding >= low:
                verdict = "met only by the better chips"
                margin = binding / high
            else:
                verdict = f"{low / binding:.3g}× tighter than typical: needs trim or calibration"
                margin = binding / high
        rows.append({"axis": axis, "per_model": {k: (None if t is None else t.get("tolerance")) for k, t in per.items()},
                     "binding": binding, "below": None if axis in BITS_AXES else upper if binding is None else None,
                     "typical_low": low, "typical_high": high, "typical": what, "source": source,
                     "verdict": verdict, "margin": margin})
    by = {r["axis"]: r for r in rows}
    adc_bits = by.get("adc_bits", {}).get("binding")
    dac_bits = by.get("coupling_bits", {}).get("binding")
    f = by.get("freq_mismatch", {})
    f_tol, f_high = f.get("binding") or f.get("below"), f.get("typical_high")
    # bits to bring an untrimmed spread (typical_high) under the tolerance; "at least" when it is below the sweep
    trim_bits = (math.ceil(math.log2(f_high / f_tol)) + 1 if f_tol and f_high and f_tol < f_high else 0)
    sig = by.get("phase_noise", {}).get("binding")
    energy = []
    ref_bits = P.v("adc_energy_bits", "1")
    for r in result["rows"]:
        if not r["un0"]:
            continue
        a = r["analog_parts"]
        core = r["estimates"]["analog chip core"]["energy_j"]
        adc_new = a["adc_j"] * 2.0 ** (adc_bits - ref_bits) if adc_bits else None
        floor_new = a["thermal_floor_oscillators_j"] * (P.v("thermal_phase_sd", "1") / sig) ** 2 if sig else None
        energy.append({"config": r["config"], "n": r["n"], "n_cond": r["n_cond"], "core_j": core, "adc_j": a["adc_j"],
                       "adc_needed_j": adc_new, "core_needed_j": None if adc_new is None else core - a["adc_j"] + adc_new,
                       "thermal_floor_j": a["thermal_floor_oscillators_j"], "thermal_floor_needed_j": floor_new,
                       "k_storage_bits": None if dac_bits is None else
                       (r["n"] ** 2 + r["n"] * r["n_cond"] + r["n_cond"] ** 2) * dac_bits})
    ranked = sorted((r for r in rows if r["margin"] is not None), key=lambda r: r["margin"])
    euler = {}
    for m in models:  # the Euler question: continuous time at T against the trained Euler schedule
        ode = [e for e in m.get("euler", []) if isinstance(e, dict) and e.get("integrator") == "ode"
               and e.get("duration_T") == 1.0]
        if ode and isinstance(ode[0].get("psnr_db"), (int, float)) and isinstance(ode[0].get("agreement"), (int, float)):
            euler[m["key"]] = (ode[0]["psnr_db"], ode[0]["agreement"])
    return {"rows": rows, "adc_bits": adc_bits, "dac_bits": dac_bits, "trim_bits": trim_bits,
            "trim_bits_at_least": bool(f.get("below")), "phase_noise_tol": sig,
            "energy": energy, "tightest": [r["axis"] for r in ranked[:3]], "euler": euler, "psnr_min_db": sweep["psnr_min_db"],
            "agree_drop": sweep["agree_drop"], "models": [m["key"] for m in models],
            "labels": {m["key"]: m.get("label", m["key"]) for m in models}}


def _v(x):
    return "—" if x is None else f"{x:g}"


def _bound(r):
    return f"< {r['below']:g}" if r.get("below") else _v(r["binding"])


def render_spec_sheet(spec: dict, P: ParamSet, section: int) -> list[str]:
    """Markdown lines of the spec-sheet section (appended to docs/roadmap.md by bitstreams.roadmap)."""
    labels = spec["labels"]
    L = [f"## {section}. Chip spec sheet (from the analog tolerance sweeps)", "",
         "Generated from `docs/analog/analog-sweep.json` (`python -m model.analog_sweep`, method and model in "
         "docs/analog.md). Tolerance: the largest swept value of one non-ideality alone that keeps the decoded images "
         f"within PSNR ≥ {spec['psnr_min_db']:g} dB of the ideal float images from the same initial phases and class "
         f"agreement ≥ {1 - spec['agree_drop']:.2f} (bits: the fewest bits that do). The binding value is the tighter "
         "of the two models. Typical values: CMOS ring-oscillator arrays as reported in the roadmap fact sheet.", "",
         "![tolerances cifar10](analog/tolerance-cifar10.png)", "",
         "| non-ideality | " + " | ".join(f"tolerance {labels[k]}" for k in spec["models"])
         + " | binding | typical CMOS ring-oscillator value | source | verdict |",
         "|---|" + "---|" * len(spec["models"]) + "---|---|---|---|"]
    for r in spec["rows"]:
        L.append(f"| {r['axis']} | " + " | ".join(_v(r["per_model"].get(k)) for k in spec["models"])
                 + f" | {_bound(r)} | {r['typical_low']:g}–{r['typical_high']:g}: {r['typical']} | "
                 f"{r['source']} | {r['verdict']} |")
    L += ["", "What the chip needs:", "",
          f"- **Readout ADC**: {_v(spec['adc_bits'])} bits per turn of phase (ring-stage sampling gives 3.3–4.9 bits, "
          "a 1 ps TDC at 1 GHz 9–10 bits).",
          f"- **Coupling DAC**: {_v(spec['dac_bits'])} bits per coupler with per-row scaling (silicon has shown 2.3–6 "
          "bits).",
          f"- **Frequency trim**: {'at least ' if spec['trim_bits_at_least'] else ''}{spec['trim_bits']} bits per "
          "oscillator to bring an untrimmed 5 % spread under the "
          "tolerance (log2(5 % / tolerance) + 1)." if spec["trim_bits"] else
          "- **Frequency trim**: none needed at the typical spread.",
          "", "How this changes the energy projection (§5; ADC energy ∝ 2^bits from the Walden figure of merit of "
          f"`adc_energy` at {P.v('adc_energy_bits', '1'):g} bits; thermal floor ∝ 1/σ² with σ = the tolerated phase "
          f"noise {_v(spec['phase_noise_tol'])} rad instead of the assumed {P.v('thermal_phase_sd', '1'):g} rad):", "",
          "| config | ADC at 8 bits | ADC at needed bits | core (§5) | core with needed ADC | thermal floor (§5) | "
          "thermal floor at tolerated noise | weight storage at DAC bits |", "|---|---|---|---|---|---|---|---|"]
    for e in spec["energy"]:
        L.append(f"| {e['config']} | {fmt_si(e['adc_j'], 'J')} | {_si(e['adc_needed_j'], 'J')} | "
                 f"{fmt_si(e['core_j'], 'J')} | {_si(e['core_needed_j'], 'J')} | {fmt_si(e['thermal_floor_j'], 'J')} | "
                 f"{_si(e['thermal_floor_needed_j'], 'J')} | {_si(e['k_storage_bits'], 'bit')} |")
    by = {r["axis"]: r for r in spec["rows"]}
    tight = [by[a] for a in spec["tightest"]]
    L += ["", "**Closing note.** The three tightest tolerances, relative to what CMOS ring-oscillator arrays deliver: "
          + "; ".join(f"{r['axis']} {_bound(r) if r.get('below') else '≤ ' + _v(r['binding'])} "
                      f"(typical {r['typical_low']:g}–{r['typical_high']:g}, "
                      f"{r['verdict']})" for r in tight) + ". "
          "These are single-non-ideality tolerances on one checkpoint each; combined errors add, so a design should "
          "keep each well inside its tolerance."
          + (" Continuous-time integration of the learned equations instead of the trained 10-step Euler schedule: "
             + "; ".join(f"{labels[k]} {p:.1f} dB, {a:.0%} same class" for k, (p, a) in spec["euler"].items())
             + " (docs/analog.md, the Euler question)." if spec.get("euler") else ""), ""]
    return L


def _si(v, unit):
    return "—" if v is None else fmt_si(v, unit)
