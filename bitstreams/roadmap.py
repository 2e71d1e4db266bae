"""Rebuild docs/roadmap.md and docs/figures/roadmap-*.png: latency and energy per image vs oscillator count
for CPU (measured here), GPU (estimate, replaceable by a measured JSON), FPGA (RTL cycle accounting: on-chip
build, or the streamed-K build's cycle model checked by benchmarks/bench_streamed.py; + power model) and a projected analog oscillator chip; device fit; where the 1000x energy claim stands.

    python -m bitstreams.roadmap [--no-measure] [--gpu-json F] [--resources F] [--analog-json F] [--set name=value ...]

--no-measure reuses bitstreams/data/cpu_measured.json (the last CPU timing) instead of timing again
(~1-2 min). --gpu-json: {"<config>": {"batch1_latency_s": .., "batched_latency_s": .., "*_energy_j": ..}}
replaces the GPU estimate by measured numbers. --set overrides any parameter of bitstreams/roadmap_params.py.
--analog-json: the analog tolerance sweeps (default docs/analog/analog-sweep.json, from python -m model.analog_sweep);
when present, a chip spec sheet section is appended (bitstreams/chip_spec.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fixedpoint import cli
from fixedpoint.files import check_input

from .manifest import REPO_ROOT, write_json_atomic, write_text_atomic
from .power_model import Resources
from .roadmap_model import (UN0_CONFIGS, analog_estimate, cpu_estimates, decoder_on_gpu, fpga_estimate, fpga_fit,
                            gpu_estimates, gpu_memory_fit, k_bram36, sweep_configs, workload)
from .roadmap_params import ParamSet, parse_overrides
from .units import fmt_si

CPU_JSON = REPO_ROOT / "bitstreams" / "data" / "cpu_measured.json"
RESOURCES_JSON = REPO_ROOT / "bitstreams" / "data" / "pynq_z2_resources.json"
DOC = REPO_ROOT / "docs" / "roadmap.md"
#: benchmarks/bench_streamed.py's results: the streamed cycle model checked against Verilator.
STREAMED_JSON = REPO_ROOT / "benchmarks" / "results" / "streamed.json"
FIG_DIR = REPO_ROOT / "docs" / "figures"
SERIES = ("CPU batch1", "CPU batched", "GPU batch 1", "GPU batched", "GPU batched core", "FPGA XC7Z020",
          "analog chip core", "analog chip + GPU decoder")
#: Display names: which columns include the decoder and which are the oscillator core only.
LABELS = {"CPU batch1": "CPU batch 1 (+dec)", "CPU batched": "CPU batched (+dec)", "GPU batch 1": "GPU batch 1 (+dec)",
          "GPU batched": "GPU batched (+dec)", "GPU batched core": "GPU batched (core only)",
          "FPGA XC7Z020": "FPGA XC7Z020 (core only)", "analog chip core": "analog chip (core only)",
          "analog chip + GPU decoder": "analog chip + GPU decoder"}


def compute(P: ParamSet, cpu: dict, gpu_measured: dict | None = None, resources: Resources | None = None,
            streamed_resources: tuple | None = None) -> dict:
    """All numbers of the report, as plain data (tests call this with changed inputs). `resources`: counts of the
    on-chip PYNQ-Z2 build; `streamed_resources`: (HardwareParams, Resources) of a synthesized streamed-K build."""
    from fixedpoint.spec import PYNQ_Z2

    steps = int(P.v("euler_steps", "1"))
    rows = []
    for cfg in sweep_configs():
        w = workload(cfg, steps)
        ests = cpu_estimates(w, cpu, P) + gpu_estimates(w, P, gpu_measured)
        res = resources if (resources is not None and cfg.n == PYNQ_Z2.n and cfg.n_cond == PYNQ_Z2.n_cond) else None
        ests.append(fpga_estimate(w, cfg, P, resources=res, streamed_resources=streamed_resources))
        analog, parts = analog_estimate(w, P)
        dec = decoder_on_gpu(w, P)
        ests.append(analog)
        from .roadmap_model import Estimate

        ests.append(Estimate("analog chip + GPU decoder", w.name, analog.latency_s + dec.latency_s,
                             analog.energy_j + dec.energy_j, "analog core + decoder on a batched GPU"))
        fit = fpga_fit(cfg, P)
        rows.append({"config": cfg.name, "n": cfg.n, "n_cond": cfg.n_cond, "un0": cfg.name in UN0_CONFIGS,
                     "workload": w.__dict__ | {"total_mac": w.total_mac},
                     "estimates": {e.device: e.__dict__ for e in ests},
                     "analog_parts": parts, "decoder_gpu": dec.__dict__, "fpga_fit": fit.__dict__,
                     "gpu_fit": gpu_memory_fit(w, P)})
    claim = []
    factor = P.v("claim_factor", "1")
    for r in rows:
        if not r["un0"]:
            continue
        e = r["estimates"]
        gpu_all = e["GPU batched"]["energy_j"]
        gpu_core = e["GPU batched core"]["energy_j"]
        an_core = e["analog chip core"]["energy_j"]
        an_all = e["analog chip + GPU decoder"]["energy_j"]
        dec_share = r["workload"]["dec_mac"] / r["workload"]["total_mac"]
        a = r["analog_parts"]
        # coupler power at which the analog core is exactly claim_factor below the batched-GPU core
        budget = gpu_core / factor - (an_core - a["couplers_j"])
        breakeven_w = budget / (a["couplers"] * a["settle_s"]) if budget > 0 else 0.0
        claim.append({"config": r["config"], "gpu_batched_j": gpu_all, "gpu_core_j": gpu_core,
                      "analog_core_j": an_core, "analog_total_j": an_all, "target_j": gpu_all / factor,
                      "core_ratio": gpu_core / an_core, "total_ratio": gpu_all / an_all,
                      "amdahl_max_ratio": 1 / dec_share, "decoder_share": dec_share,
                      "breakeven_coupler_w": breakeven_w,
                      "gpu_batch1_j": e["GPU batch 1"]["energy_j"],
                      "batch1_total_ratio": e["GPU batch 1"]["energy_j"] / an_all})
    return {"rows": rows, "claim": claim, "params": P.table(), "cpu": cpu, "streamed_check": streamed_check(),
            "pynq_z2_k_bram36": {b: k_bram36(PYNQ_Z2.n, PYNQ_Z2.n_cond, PYNQ_Z2.lanes, b) for b in (4, 8, 16)}}


def streamed_check(path: Path = STREAMED_JSON) -> dict | None:
    """What benchmarks/bench_streamed.py measured: the simulated streamed builds, the cycle model's largest error
    against them, and whether every run was bit-exact. None when the benchmark has not been run."""
    if not path.exists():
        return None
    try:
        sims = json.loads(path.read_text())["simulated"]
        builds = [{"n": int(b["n"]), "batch": int(b["batch"]), "step_cycles": int(b["step_cycles"]),
                   "model_error": float(b["model_error"]), "bit_exact": bool(b["bit_exact"])} for b in sims]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a bench_streamed result ({e}); re-run python benchmarks/bench_streamed.py") from e
    if not builds:
        return None
    return {"source": str(path.relative_to(REPO_ROOT)), "builds": builds,
            "max_abs_error": max(abs(b["model_error"]) for b in builds), "bit_exact": all(b["bit_exact"] for b in builds)}


# ----------------------------------------------------------------------------------------- output
def _f(v, unit):
    return "—" if v is None else fmt_si(v, unit)


def render_markdown(result: dict, P: ParamSet) -> str:
    rows, claim = result["rows"], result["claim"]
    L = ["# Chip roadmap: CPU vs GPU vs FPGA vs an analog oscillator chip", "",
         "Generated by `python -m bitstreams.roadmap` from `bitstreams/roadmap_params.py` (every input with unit, "
         "source and kind) and the CPU timings in `bitstreams/data/cpu_measured.json`. Do not edit by hand: change "
         "an input (`--set name=value`) and rebuild. Kinds: *measured* (timed here), *estimate* (arithmetic on "
         "sourced or assumed inputs), *projection* (a chip that does not exist). All numbers are per image, "
         f"{int(P.v('euler_steps', '1'))} Euler steps. GPU columns are estimates (fact sheet §3) until measured: "
         "`--gpu-json F` with `{\"<config>\": {\"batch1_latency_s\": .., \"batch1_energy_j\": .., "
         "\"batched_latency_s\": .., \"batched_energy_j\": ..}}` replaces them (basis then says *measured*).", "",
         "## 1. Work per image", "",
         "| config | n | dynamics MAC | decoder MAC | decoder share | K entries |", "|---|---|---|---|---|---|"]
    for r in rows:
        w = r["workload"]
        L.append(f"| {r['config']}{' (Un-0)' if r['un0'] else ''} | {r['n']} | {w['dyn_mac'] / 1e6:.3g} M | "
                 f"{w['dec_mac'] / 1e6:.3g} M | {w['dec_mac'] / w['total_mac']:.0%} | {w['k_entries'] / 1e6:.3g} M |")
    L += ["", "## 2. Latency and energy per image", "",
          "![latency](figures/roadmap-latency.png)", "", "![energy](figures/roadmap-energy.png)", ""]
    for metric, unit, key in (("Latency", "s", "latency_s"), ("Energy", "J", "energy_j")):
        L += [f"### {metric} per image", "", "| config | " + " | ".join(LABELS[s] for s in SERIES) + " |",
              "|---|" + "---|" * len(SERIES)]
        for r in rows:
            e = r["estimates"]
            L.append(f"| {r['config']} | " + " | ".join(_f(e.get(s, {}).get(key), unit) for s in SERIES) + " |")
        L.append("")
    L += ["Basis of each column (n1024 row):", ""]
    e0 = next(r for r in rows if r["config"] == "cifar10-n1024")["estimates"]
    for s in SERIES:
        if s in e0:
            L.append(f"- **{LABELS[s]}**: {e0[s]['basis']}")
    L += ["", "Compare like with like: *(+dec)* columns include the conv decoder, *(core only)* columns are the "
          "oscillator dynamics alone (the FPGA and the analog chip leave the decoder to a host). "
          "CPU energy is time × an assumed per-core power (no RAPL counters on this VM); the CPU is timed with "
          "one thread of a 2-vCPU host shared with a training run (see §7).", "",
          "## 3. Which configuration fits which device", "",
          f"XC7Z020: {P.v('fpga_bram36', '1'):.0f} BRAM36 ({P.v('fpga_bram36_bits', 'bit') / 1024:.0f} Kb data each), "
          f"{P.v('fpga_dsp', '1'):.0f} DSP48E1, {P.v('fpga_ddr_capacity', 'MiB'):.0f} MiB DDR3 of which "
          f"{P.v('fpga_ddr_for_k', 'MiB'):.0f} MiB assumed free for K. K is lane-banked (64 lanes, depth n²/64 per "
          "lane), counted with the 7-series BRAM aspect ratios (UG473).", "",
          "PYNQ-Z2 build (n1024, 64 lanes): K needs " + ", ".join(
              f"{v:g} BRAM36 at {b}-bit" for b, v in result["pynq_z2_k_bram36"].items()) + ".", "",
          "| config | K on XC7Z020 | bits | K BRAM36 | aux BRAM36 | DSP | K bytes | GPU (H100 80 GB) at batch "
          f"{P.v('gpu_batch', '1'):.0f} |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f, g = r["fpga_fit"], r["gpu_fit"]
        L.append(f"| {r['config']} | {f['where']} | {f['bits'] or '—'} | {f['k_bram36']:g} | {f['aux_bram36']:g} | "
                 f"{f['dsp']:g} | {_f(f['k_bytes'], 'B')} | {'fits' if g['fits'] else 'does not fit'} "
                 f"({_f(g['need_bytes'], 'B')}) |")
    r1 = next(r for r in rows if r["config"] == "cifar10-n1024")["estimates"]["FPGA XC7Z020"]["detail"]
    pw = r1["power_w"]
    L += ["", "## 4. FPGA detail (PYNQ-Z2 build, cifar10-n1024)", "",
          f"- cycles per step {r1['cycles']['cycles_per_step']:.0f} (MAC {r1['cycles']['mac_cycles_per_step']}), "
          f"per image {r1['cycles']['cycles_per_image']:.0f} ({r1['cycles']['source']}); transfers {_f(r1['transfer_s'], 's')}; MAC lanes busy "
          f"{r1['busy']:.0%} of the image time.",
          f"- power model ({r1['resources']['source']}): DSP {pw['dsp_w'] * 1e3:.1f} mW, BRAM {pw['bram_w'] * 1e3:.1f} mW, "
          f"LUT {pw['lut_w'] * 1e3:.1f} mW, FF {pw['ff_w'] * 1e3:.1f} mW, static {pw['static_w'] * 1e3:.0f} mW → PL "
          f"{pw['pl_total_w']:.3f} W; with the PS {pw['system_w']:.2f} W → {_f(r1['system_energy_j'], 'J')} per image "
          "at the system level.",
          "",
          "### Streamed-K builds (K in DDR)", "",
          "Models whose K does not fit on chip run on the streamed-K build (rtl/core.py with K read over "
          "AXI4 read masters on the HP ports, bitstreams/streamed.py): B samples share each pass over K, so the "
          "FPGA column above is per image amortised over the batch. Cycles come from "
          "`rtl.resources.streamed_cycle_accounting` at hardware.md §8's planning DDR rate, the same model "
          "`benchmarks/bench_streamed.py` checks against STEP_CYCLES measured in Verilator.", "",
          "| config | K bits | batch B | bound | compute cycles/step | DDR cycles/step | cycles per request | "
          "request latency | images/s | on-chip BRAM36 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = r["estimates"]["FPGA XC7Z020"].get("detail", {})
        if d.get("build") != "streamed":
            continue
        c = d["cycles"]
        L.append(f"| {r['config']} | {d['fit']['bits']} | {d['batch']} | {d['bound']} | "
                 f"{c['compute_cycles_per_step']:.0f} | {c['ddr_cycles_per_step']:.0f} | {c['cycles_per_request']:.0f} | "
                 f"{_f(d['batch_latency_s'], 's')} | {d['images_per_s']:.2f} | {d['onchip_bram36']:g} |")
    for r in rows:
        d = r["estimates"]["FPGA XC7Z020"].get("detail", {})
        if d.get("build") == "streamed" and d["resources"]["source"].startswith("yosys"):
            res = d["resources"]
            L += ["", f"The {r['config']} build is synthesized ({res['source']}): {res['lut']:.0f} LUT, {res['ff']:.0f} FF, "
                  f"{res['dsp']:.0f} DSP48E1, {res['bram36']:g} BRAM36 (analytic budget above: {d['onchip_bram36']:g}); "
                  "these counts feed its power model, the other streamed rows use the analytic estimate."]
    chk = result.get("streamed_check")
    if chk:
        L += ["", f"Cycle model against Verilator ({chk['source']}): {len(chk['builds'])} streamed builds simulated "
              f"(n {', '.join(str(b['n']) + ' B ' + str(b['batch']) for b in chk['builds'])}), model error "
              f"{100 * chk['max_abs_error']:.1f} % at most, every run bit-exact against the golden model: "
              f"{'yes' if chk['bit_exact'] else 'NO'}."]
    L += ["",
          "## 5. Analog oscillator chip (projection)", "",
          "| config | oscillators | couplers | ADC | DAC | core total | thermal floor (osc.) | core at slow settle |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["analog_parts"]
        L.append(f"| {r['config']} | {_f(a['oscillators_j'], 'J')} | {_f(a['couplers_j'], 'J')} | "
                 f"{_f(a['adc_j'], 'J')} | {_f(a['dac_j'], 'J')} | "
                 f"{_f(r['estimates']['analog chip core']['energy_j'], 'J')} | "
                 f"{_f(a['thermal_floor_oscillators_j'], 'J')} | {_f(a['slow_settle_core_j'], 'J')} |")
    L += ["", f"Couplers: n² + n·m + m² cells at {P.v('coupler_power', 'uW'):g} µW each (an unanchored assumption: no "
          "all-to-all oscillator chip beyond 48 spins exists); they dominate above n≈1k because they scale with n².", "",
          "## 6. Where the 1000× energy claim stands", "",
          "| config | GPU batched (core+dec) | target ÷1000 | analog core | analog + GPU decoder | core ratio | "
          "total ratio | Amdahl max (decoder on GPU) | vs GPU batch 1 | coupler power for core 1000× |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for c in claim:
        L.append(f"| {c['config']} | {_f(c['gpu_batched_j'], 'J')} | {_f(c['target_j'], 'J')} | "
                 f"{_f(c['analog_core_j'], 'J')} | {_f(c['analog_total_j'], 'J')} | {c['core_ratio']:.3g}× | "
                 f"{c['total_ratio']:.3g}× | {c['amdahl_max_ratio']:.3g}× | {c['batch1_total_ratio']:.3g}× | "
                 f"{_f(c['breakeven_coupler_w'], 'W')} |")
    big = claim[-1]
    L += ["", "Plainly, on these numbers:", "",
          f"- The oscillator **core alone** projects {big['core_ratio']:.3g}× below a batched H100 for "
          f"{big['config']} ({_f(big['analog_core_j'], 'J')} vs {_f(big['gpu_core_j'], 'J')}). That number is set almost "
          f"entirely by the assumed coupler power ({P.v('coupler_power', 'uW'):g} µW per cell; 1000× needs ≤ "
          f"{_f(big['breakeven_coupler_w'], 'W')} per cell over a {_f(P.v('osc_settle_time', 's'), 's')} settle), an "
          "assumption with no all-to-all hardware behind it at this scale (the largest all-to-all chips have ≈ 48 spins).",
          f"- **Per image, with the decoder**, the claim fails: the decoder is {big['decoder_share']:.0%} of the MACs, "
          f"so a chip that only replaces the core gains at most {big['amdahl_max_ratio']:.2g}× while the decoder runs on "
          f"a GPU ({big['total_ratio']:.3g}× here). 1000× needs the decoder moved to hardware about 1000× more "
          "efficient too, which nothing in this report provides.",
          f"- Against **batch-1 GPU serving** (K streamed from HBM every step) the ratio is "
          f"{big['batch1_total_ratio']:.3g}× for {big['config']}: the favourable comparison is latency-bound serving, "
          "not throughput.",
          "- Nothing here is a measurement of an oscillator chip: Un-0 publishes no hardware and no GPU energy per image "
          "(roadmap fact sheet §2); the FPGA numbers are a digital emulation and say nothing about analog efficiency.", "",
          "## 7. Measured CPU data (this host)", "",
          f"Host: {json.dumps(result['cpu'].get('host', {}))}. Fastest of 5 after a warm-up (the host is shared; the minimum is the least-disturbed run), random-init weights.", "",
          "| model | config | mode | batch | dynamics / image | decoder / image | golden / image |",
          "|---|---|---|---|---|---|---|"]
    for r in result["cpu"].get("float", []):
        L.append(f"| float torch | {r['config']} | {r['mode']} | {r['batch']} | {_f(r['dyn_s_per_image'], 's')} | "
                 f"{_f(r['dec_s_per_image'], 's')} | — |")
    for r in result["cpu"].get("golden", []):
        L.append(f"| golden int ({r['format']}) | {r['config']} | {r['mode']} | {r['batch']} | — | — | "
                 f"{_f(r['s_per_image'], 's')} |")
    L += ["", "## 8. Parameters", "", "| name | value | unit | kind | source |", "|---|---|---|---|---|"]
    for p in result["params"]:
        L.append(f"| {p['name']} | {p['value']:g} | {p['unit']} | {p['kind']} | {p['source']} |")
    L += ["", "Sources: the primary source named in each row (RM §/HW § are sections of the project's roadmap and hardware "
          "fact sheets, which record it), "
          "UG440 (XPE), UG473 (BRAM), UG585 (Zynq TRM), Moy et al. Nat. Electron. 2022, Horowitz ISSCC 2014 via "
          "EIE (arXiv 1602.01528), Kuon & Rose TCAD 2007. Power-model method: docs/power-model.md.", ""]
    return "\n".join(L)


def plot(result: dict, fig_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = result["rows"]
    ns = [r["n"] for r in rows]
    for key, unit, fname, title in (("latency_s", "s", "roadmap-latency.png", "Latency per image"),
                                    ("energy_j", "J", "roadmap-energy.png", "Energy per image")):
        fig, ax = plt.subplots(figsize=(10.5, 5.4))
        for s in SERIES:
            ys = [r["estimates"].get(s, {}).get(key) for r in rows]
            pts = [(n, y) for n, y in zip(ns, ys) if y is not None and y > 0]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=4, label=LABELS[s],
                        ls="--" if "analog" in s else (":" if "core" in s or "FPGA" in s else "-"))
        un0 = [r["n"] for r in rows if r["un0"]]
        for n in un0:
            ax.axvline(n, color="0.85", lw=0.8, zorder=0)
        if key == "energy_j":
            tgt = [(c["config"], c["target_j"]) for c in result["claim"]]
            ax.plot([r["n"] for r in rows if r["un0"]], [t for _, t in tgt], "k:", marker="x",
                    label="GPU batched ÷ 1000 (claim)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("main oscillators n (grey lines: the six Un-0 configs; n ≥ 6656 ImageNet-64 recipe)")
        ax.set_ylabel(f"{title.lower()} [{unit}]")
        ax.set_title(f"{title}: CPU measured, GPU/FPGA estimated, analog projected")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        p = fig_dir / fname
        tmp = p.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(p)
        paths.append(p)
    return paths


def load_pynq_z2_resources(path: str | None) -> Resources | None:
    """--resources, else bitstreams/data/pynq_z2_resources.json, else the RTL helper's docs/resources.md."""
    from fixedpoint.spec import PYNQ_Z2

    from .resources import resources_from_rtl_report

    path = path or (str(RESOURCES_JSON) if RESOURCES_JSON.exists() else None)
    if path:
        d = json.loads(Path(path).read_text())
        return Resources.from_dict(d.get("resources", d) or d, source=f"yosys report {Path(path).name}")
    md = REPO_ROOT / "docs" / "resources.md"
    if md.exists():
        d = resources_from_rtl_report(md, PYNQ_Z2)
        if d:
            return Resources.from_dict(d, source="yosys report docs/resources.md")
    return None


def load_streamed_resources() -> tuple | None:
    """(HardwareParams, Resources) of the streamed-K build docs/resources.md records (rtl.resources'
    pynq-z2-streamed), or None without rtl/ or without that section."""
    from .resources import resources_from_rtl_report

    try:
        from rtl.resources import PYNQ_Z2_STREAMED
    except ImportError:
        return None
    md = REPO_ROOT / "docs" / "resources.md"
    d = resources_from_rtl_report(md, PYNQ_Z2_STREAMED) if md.exists() else None
    return (PYNQ_Z2_STREAMED, Resources.from_dict(d, source="yosys report docs/resources.md (streamed-K build)")) \
        if d else None


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m bitstreams.roadmap", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-measure", action="store_true", help=f"reuse {CPU_JSON.relative_to(REPO_ROOT)}")
    ap.add_argument("--cpu-json", default=str(CPU_JSON), help="CPU timings to read/write")
    ap.add_argument("--gpu-json", type=cli.existing_file, help="measured GPU numbers per config (replace the estimate)")
    ap.add_argument("--resources", type=cli.existing_file,
                    help="yosys/Vivado resource JSON for the PYNQ-Z2 build (default: "
                    f"{RESOURCES_JSON.relative_to(REPO_ROOT)} if present, else the analytic estimate)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    ap.add_argument("--analog-json", type=cli.existing_file, default=None,
                    help="analog sweep results (default docs/analog/analog-sweep.json)")
    ap.add_argument("--doc", type=cli.output_file(cli.MARKDOWN_FORMATS), default=str(DOC),
                    help=".md page to write (default docs/roadmap.md)")
    ap.add_argument("--fig-dir", type=cli.output_dir, default=str(FIG_DIR),
                    help="directory for the plots (default docs/figures)")
    args = ap.parse_args(argv)
    if not args.no_measure:
        try:
            cli.output_file(cli.JSON_FORMATS)(args.cpu_json)
        except argparse.ArgumentTypeError as e:
            ap.error(f"argument --cpu-json: {e}")
    try:
        P = ParamSet().with_overrides(**parse_overrides(args.set))
    except (KeyError, ValueError) as e:
        ap.error(str(e))
    cpu_path = Path(args.cpu_json)
    if args.no_measure:
        try:
            check_input(cpu_path, "--cpu-json", hint="--no-measure reads it: run once without --no-measure")
        except FileNotFoundError as e:
            ap.error(str(e))
        try:
            cpu = json.loads(cpu_path.read_text())
        except (OSError, ValueError) as e:
            ap.error(f"--cpu-json {cpu_path}: unreadable ({e})")
    else:
        from .cpu_bench import measure

        cpu = measure()
        write_json_atomic(cpu_path, cpu)
    try:
        gpu = json.loads(Path(args.gpu_json).read_text()) if args.gpu_json else None
    except ValueError as e:
        ap.error(f"--gpu-json {args.gpu_json}: not JSON ({e})")
    resources = load_pynq_z2_resources(args.resources)
    result = compute(P, cpu, gpu, resources, load_streamed_resources())
    from .chip_spec import SpecSheetError, load_analog_sweep, render_spec_sheet, spec_sheet

    try:
        sweep = load_analog_sweep(args.analog_json)
    except SpecSheetError as e:
        ap.error(str(e))
    if args.analog_json and sweep is None:
        ap.error(f"--analog-json {args.analog_json} not found")
    doc = render_markdown(result, P)
    if sweep is not None:
        doc += "\n" + "\n".join(render_spec_sheet(spec_sheet(sweep, result, P), P, section=9))
    write_text_atomic(Path(args.doc), doc)
    figs = plot(result, Path(args.fig_dir))
    print(f"wrote {args.doc} and {', '.join(str(f) for f in figs)}")
    for c in result["claim"]:
        print(f"  {c['config']}: analog core {c['core_ratio']:.3g}x, with GPU decoder {c['total_ratio']:.3g}x "
              f"below a batched GPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
