"""Per-image latency split and energy for one board.

    python -m bitstreams.measure --board golden|sim|pynq-z2|tcp://HOST:PORT [--checkpoint F] [--n 1024]
        [--images 8] [--meter-csv FILE] [--power-model] [--bitfile X.bit] [--out DIR]

Latency: host wall-clock per phase (transfer = loads + readback as the board reports them, compute,
decode = phase words -> features -> decoder) and, where the core reports it, the on-chip cycle counter
converted at the configured clock. Energy, first that applies: pynq power rails (pynq.get_rails +
DataRecorder, e.g. ZCU104; PYNQ-Z2 has none), an external meter CSV (bitstreams.meter), else the
resource-based power model (docs/power-model.md), which is an estimate and labelled so.
Writes measure.json and measure.md to --out (default runs/measure/<board>).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from fixedpoint import cli
from fixedpoint.files import check_output, save_with_rescue
from fixedpoint.golden import initial_phases
from fixedpoint.quantize import HardwareImage, quantize
from fixedpoint.readout import phase_features
from fixedpoint.spec import PYNQ_Z2, HardwareParams, default_build

from .manifest import REPO_ROOT, write_json_atomic, write_text_atomic
from .power_model import Resources, estimate_resources, pl_power
from .roadmap_model import aux_bram36, fpga_cycles, k_bram36
from .roadmap_params import ParamSet


def synthetic_image(n: int, params: HardwareParams, seed: int = 0) -> HardwareImage:
    """A random-init model at Un-0's init scales (timing does not depend on trained values)."""
    from model.config import CONFIGS

    cfg = CONFIGS.get(f"cifar10-n{n}")
    m = params.n_cond
    classes = cfg.num_classes if cfg else 10
    rng = np.random.default_rng(seed)
    k = rng.normal(0, n**-0.5, (n, n))
    np.fill_diagonal(k, 0)
    kc = rng.normal(0, m**-0.5, (m, m))
    np.fill_diagonal(kc, 0)
    eff = {"omega": rng.normal(0, 1, n), "K": k, "omega_cond": rng.normal(0, 1, m), "K_cond": kc,
           "K_drive": rng.normal(0, m**-0.5, (classes, n, m))}
    steps = cfg.num_steps if cfg else 10
    dt = cfg.dt if cfg else 0.1
    return quantize(eff, params, dt, steps, cfg.to_dict() if cfg else {})


class Decoder:
    """Features -> image with the float decoder (torch); None-op with a note when torch is absent."""

    def __init__(self, image: HardwareImage, checkpoint: str | None, threads: int = 1):
        self.note = ""
        self.fn = None
        try:
            import torch
        except ImportError:
            self.note = "torch not installed: decode = features only (decoder runs on the host)"
            return
        torch.set_num_threads(threads)
        from model.config import ModelConfig

        if checkpoint:
            from model.checkpoint import load_checkpoint

            model = load_checkpoint(checkpoint).eval()
        else:
            from model.un0 import OscillatorGenerator

            model = OscillatorGenerator(ModelConfig.from_dict(image.model_config)).eval()
            self.note = "decoder with random weights (no --checkpoint): timing only"

        def fn(feats):
            with torch.no_grad():
                return model.decode(torch.as_tensor(feats, dtype=torch.float32))

        self.fn = fn

    def __call__(self, feats):
        return feats if self.fn is None else self.fn(feats)


def try_pynq_rails():
    """(rails with power sensors) or None: PYNQ-Z2 has no PMBus, ZCU104 does (hardware.md §1, §3)."""
    try:
        import pynq

        rails = pynq.get_rails()
    except Exception:
        return None
    power = {name: r.power for name, r in rails.items() if getattr(r, "power", None) is not None}
    return power or None


def load_resources(path: str | None, params: HardwareParams, P: ParamSet) -> Resources:
    if path:
        with open(path) as f:
            d = json.load(f)
        d = d.get("resources", d) or d  # a build manifest or a resources.json
        return Resources.from_dict(d, source=f"yosys report {path}")
    kb = k_bram36(params.n, params.n_cond, params.lanes, params.spec.coupling_bits)
    return estimate_resources(params.lanes, kb, aux_bram36(params.n, params.n_cond, params.lanes), P)


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m bitstreams.measure", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="golden", help="golden | sim | pynq-z2 | tcp://HOST:PORT | serial://...")
    ap.add_argument("--checkpoint", type=cli.existing_file,
                    help="our .safetensors checkpoint (default: a random-init model of size --n)")
    ap.add_argument("--n", type=cli.int_range(1, 16384), default=1024,
                    help="oscillators when no checkpoint is given (CIFAR recipe)")
    ap.add_argument("--images", type=cli.int_range(1, 100_000), default=8, help="timed images (after one warm-up)")
    ap.add_argument("--bitfile", type=cli.existing_file,
                    help="pynq-z2: the .bit (with .hwh and the build manifest .json beside it)")
    ap.add_argument("--clock-mhz", type=cli.float_range(0.0, 1000.0, lo_open=True), default=None,
                    help="core clock for cycles -> time (default FCLK0 100)")
    ap.add_argument("--meter-csv", type=cli.existing_file,
                    help="external power-meter log covering the run (format in bitstreams/meter.py)")
    ap.add_argument("--meter-offset", type=cli.finite_float, default=0.0,
                    help="seconds added to the meter's timestamps")
    ap.add_argument("--idle-s", type=cli.float_range(0.0, 3600.0), default=None,
                    help="idle baseline before the run (default 5 s with a meter or rails, else 0)")
    ap.add_argument("--power-model", action="store_true", help="also report the resource-based power estimate")
    ap.add_argument("--resources", type=cli.existing_file,
                    help="resources.json or build manifest for the power model (default: analytic)")
    ap.add_argument("--out", type=cli.output_dir, help="output directory for measure.json and measure.md "
                    "(default runs/measure/<board>)")
    ap.add_argument("--no-bitstream-check", action="store_true",
                    help="skip bitstreams.manifest.check_bitstream (a .bit without a matching build manifest)")
    ap.add_argument("--seed", type=cli.seed, default=0,
                    help="seed of the initial phases (and of the random model without --checkpoint; default 0)")
    ap.add_argument("--threads", type=cli.int_range(1, 1024), default=1, help="torch threads for the decoder (1: stable timings on a "
                    "shared host)")
    args = ap.parse_args(argv)
    from host.boards import bitfile_flag_error

    if msg := bitfile_flag_error(args.board, args.bitfile):
        ap.error(msg)
    if args.checkpoint and "--n" in (argv if argv is not None else sys.argv[1:]):
        ap.error("--n sets the size of a random-init model; with --checkpoint the size is the checkpoint's")
    out = Path(args.out or check_output(REPO_ROOT / "runs" / "measure" / _safe(args.board), "--out", "dir"))
    try:
        return _measure(args, out)
    except Exception as e:  # one clear line for every expected failure
        from host.boards.base import BoardError
        from model.checkpoint import CheckpointError

        if isinstance(e, (BoardError, CheckpointError, ValueError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


def _measure(args, out: Path) -> int:
    P = ParamSet()
    clock_hz = (args.clock_mhz or P.v("fpga_clock", "MHz")) * 1e6

    from host.boards import open_board

    params = None
    if args.checkpoint:
        from model.checkpoint import load_config_and_tensors
        from model.hardware_image import image_from_checkpoint

        cfg, _ = load_config_and_tensors(args.checkpoint)
        params = default_build(cfg.n, cfg.n_cond)  # the build host.run's golden/sim boards model
    else:
        params = default_build(args.n, PYNQ_Z2.n_cond)  # the CIFAR-10 recipe's 8 conditioning oscillators
    if args.board == "pynq-z2" and args.bitfile and not args.no_bitstream_check:
        from .manifest import check_bitstream

        check_bitstream(args.bitfile, params)  # refuses a bitstream from other sources or for other params
    from fixedpoint.status import status

    with status(f"opening board {args.board}"):
        board = open_board(args.board, params, bitfile=args.bitfile)
    try:
        bp = board.params or params
        t0 = time.perf_counter()
        image = image_from_checkpoint(args.checkpoint, params=bp) if args.checkpoint else synthetic_image(bp.n, bp, args.seed)
        quantize_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with status(f"loading the model onto the {board.name} core"):
            board.load_image(image)
        load_s = time.perf_counter() - t0
        decoder = Decoder(image, args.checkpoint, args.threads)
        rails = try_pynq_rails()
        idle_s = args.idle_s if args.idle_s is not None else (5.0 if (rails or args.meter_csv) else 0.0)
        recorder = None
        if rails:
            from pynq import DataRecorder

            recorder = DataRecorder(*rails.values())
            recorder.record(0.05)  # Mark 0 = idle baseline
        idle = (time.time(), None)
        if idle_s:
            time.sleep(idle_s)
        idle = (idle[0], time.time())
        phases0 = initial_phases(args.seed + 1, args.images + 1, bp.n_total, bp.spec)
        rows = []
        if recorder is not None:
            recorder.mark()  # Mark 1 = the timed run
        run_start = time.time()
        try:
            from tqdm.auto import tqdm
        except ImportError:  # a bare board image: no bar
            def tqdm(it, **_):
                return it

        for i in tqdm(range(args.images + 1), desc=f"measure {board.name}", unit="img"):
            cls = i % image.num_classes
            t0 = time.perf_counter()
            r = board.run(cls, phases0[i])
            t1 = time.perf_counter()
            feats = phase_features(r.phases[None, :], bp.n, bp.spec, image.model_config)
            decoder(feats)
            t2 = time.perf_counter()
            if i == 0:
                continue  # warm-up
            tm = dict(r.timing)
            row = {"class": cls, "run_wall_s": t1 - t0, "decode_s": t2 - t1, "total_s": t2 - t0,
                   "transfer_s": tm.get("transfer_s"), "readback_s": tm.get("readback_s"), "compute_s": tm.get("compute_s"), "wait_s": tm.get("wait_s"),
                   "compute_cycles": tm.get("compute_cycles"), "overflow": bool(r.overflow)}
            if row["compute_cycles"] is not None:
                row["cycles_time_s"] = row["compute_cycles"] / clock_hz
            rows.append(row)
        run_end = time.time()
        if recorder is not None:
            recorder.stop()
        predicted = fpga_cycles(bp.n, bp.n_cond, bp.lanes, image.num_steps, P, bp.spec.coupling_bits)

        def med(key):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return statistics.median(vals) if vals else None

        summary = {k: med(k) for k in ("run_wall_s", "transfer_s", "readback_s", "compute_s", "wait_s", "decode_s", "total_s",
                                       "compute_cycles", "cycles_time_s")}
        energy = {}
        if recorder is not None:
            df = recorder.frame
            idle_df, run_df = df[df["Mark"] == 0], df[df["Mark"] == 1]
            cols = [c for c in df.columns if c != "Mark"]  # only power sensors were recorded
            idle_w = float(idle_df[cols].sum(axis=1).mean()) if len(idle_df) else 0.0
            run_w = float(run_df[cols].sum(axis=1).mean())
            energy["rails"] = {"source": "pynq.get_rails + DataRecorder", "idle_w": idle_w, "run_w": run_w,
                               "energy_per_image_j": (run_w - idle_w) * (run_end - run_start) / args.images}
        if args.meter_csv:
            from .meter import meter_energy

            energy["meter"] = meter_energy(args.meter_csv, idle, (run_start, run_end), args.images, args.meter_offset)
        if args.power_model or not energy:
            res = load_resources(args.resources, bp, P)
            t_img = summary["cycles_time_s"] or predicted["cycles_per_image"] / clock_hz
            busy = min(1.0, predicted["mac_cycles_per_step"] * image.num_steps / predicted["cycles_per_image"])
            pw = pl_power(res, clock_hz, busy, P)
            energy["power_model"] = {
                "source": "estimate: resource-based power model (docs/power-model.md), NOT a measurement",
                "resources": res.to_dict(), "power_w": pw, "core_time_s": t_img,
                "time_basis": "on-chip cycles" if summary["cycles_time_s"] else "predicted cycles (RTL accounting)",
                "energy_per_image_pl_j": pw["pl_total_w"] * t_img, "energy_per_image_system_j": pw["system_w"] * t_img}
        result = {"board": board.name, "info": board.info(), "params": bp.to_dict(), "images": args.images,
                  "checkpoint": args.checkpoint, "clock_hz": clock_hz, "quantize_s": quantize_s, "load_s": load_s,
                  "decoder_note": decoder.note, "summary_median": summary, "predicted_cycles": predicted,
                  "rows": rows, "energy": energy, "idle_window": idle, "run_window": (run_start, run_end)}
    finally:
        board.close()

    def write(d):
        write_json_atomic(Path(d) / "measure.json", result)
        write_text_atomic(Path(d) / "measure.md", markdown(result))

    written = Path(save_with_rescue(str(out), write, "--out"))  # a late failure: a rescue directory, named
    print(markdown(result))
    print(f"wrote {written / 'measure.json'} and measure.md")
    return int(written != out)


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s)


def _fmt(v, unit="s"):
    from .units import fmt_si

    return "—" if v is None else fmt_si(v, unit)


def markdown(r: dict) -> str:
    s = r["summary_median"]
    p = r["params"]
    cycles = "—" if s["compute_cycles"] is None else f"{s['compute_cycles']:.0f}"
    lines = [f"# Measurement: board `{r['board']}`", "",
             f"n={p['n']}, n_cond={p['n_cond']}, lanes={p['lanes']}, coupling {p['spec']['coupling_bits']}-bit; "
             f"{cli.counted(r['images'], 'image')} (median, after one warm-up); clock {r['clock_hz'] / 1e6:g} MHz.", "",
             "| phase | median per image |", "|---|---|",
             f"| transfer (request loads{'' if s.get('readback_s') is not None else ' + readback'}, host wall) | "
             f"{_fmt(s['transfer_s'])} |",
             f"| readback (host wall) | {_fmt(s.get('readback_s')) if s.get('readback_s') is not None else 'in transfer'} |",
             f"| compute wait (host wall, incl. polling) | {_fmt(s.get('wait_s'))} |",
             f"| compute (board-reported) | {_fmt(s['compute_s'])} |",
             f"| on-chip cycles | {cycles} |",
             f"| cycles -> time at clock | {_fmt(s['cycles_time_s'])} |",
             f"| decode (features + decoder, host) | {_fmt(s['decode_s'])} |",
             f"| total (host wall) | {_fmt(s['total_s'])} |", "",
             f"Predicted by the RTL cycle accounting: {r['predicted_cycles']['cycles_per_image']:.0f} cycles per image "
             f"= {_fmt(r['predicted_cycles']['cycles_per_image'] / r['clock_hz'])} at the clock.",
             f"Setup: quantize {_fmt(r['quantize_s'])}, model load {_fmt(r['load_s'])}. {r['decoder_note']}", ""]
    for name, e in r["energy"].items():
        if name == "power_model":
            lines.append(f"- **power model (estimate)**: PL {e['power_w']['pl_total_w']:.3f} W "
                         f"(dynamic {e['power_w']['dynamic_w']:.3f} W), system {e['power_w']['system_w']:.2f} W; "
                         f"{_fmt(e['energy_per_image_pl_j'], 'J')} per image (PL), "
                         f"{_fmt(e['energy_per_image_system_j'], 'J')} (with PS) over {_fmt(e['core_time_s'])} "
                         f"({e['time_basis']}); resources: {e['resources']['source']}")
        else:
            lines.append(f"- **{name}** ({e['source']}): idle {e['idle_w']:.3f} W, run {e['run_w']:.3f} W, "
                         f"{_fmt(e['energy_per_image_j'], 'J')} per image above idle")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
