"""Error analysis of the fixed-point datapath against the float reference; picks the default format.

    python -m model.numerics_sweep --checkpoint checkpoints/cifar10-n1024.safetensors --out out/numerics-sweep

For each format in the sweep (coupling bits 4..16, phase bits seen by the CORDIC, CORDIC iterations,
phase fraction bits) it integrates the same seeded initial phases with the golden integer model and
with float64 Euler on the unquantized couplings, then reports the phase error (radians), the image
error (PSNR of decoded images, fixed vs float) and a decoder-feature distance. Writes a markdown table,
a JSON file and a plot (atomically).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace

import numpy as np

from fixedpoint import accuracy
from fixedpoint.files import atomic_output, write_atomic
from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.quantize import quantize
from fixedpoint.readout import features, phases_to_radians
from fixedpoint.spec import BUS_BITS, FORMATS, HardwareParams, NumericsSpec, default_lanes

from model.hardware_image import effective_params


def sweep_specs(base: NumericsSpec) -> list[tuple[str, str, NumericsSpec]]:
    """(axis, label, spec): one axis varied at a time around `base`."""
    out = [("reference", "default", base)]
    for b in (4, 5, 6, 8, 10, 12, 16):
        out.append(("coupling_bits", str(b), replace(base, coupling_bits=b)))
    for fc in (8, 10, 12, 14, 16, 18, 20):
        out.append(("cordic_in_bits", str(fc), replace(base, cordic_in_bits=fc)))
    for it in (6, 8, 10, 12, 14, 16, 18):
        out.append(("cordic_iters", str(it), replace(base, cordic_iters=it)))
    for f in (16, 20, 24, 26):
        w = min(BUS_BITS - f, 8)
        out.append(("phase_frac_bits", str(f), replace(base, phase_frac_bits=f, phase_turn_bits=w,
                                                       cordic_in_bits=min(base.cordic_in_bits, f))))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def run_sweep(model, samples: int = 64, seed: int = 0, specs=None, progress=True, classifier=None) -> list[dict]:
    """One row per spec. With `classifier` (model.evaluate.SmallCNN trained on the real data) each row also has the
    share of images whose predicted class is unchanged by the fixed point, and a Frechet distance between the
    classifier features of the fixed-point and the float images."""
    import torch

    cfg = model.cfg
    tensors = {f"dynamics.{k}": v.detach().double().numpy() for k, v in model.dynamics.named_parameters()}
    eff = effective_params(cfg, tensors)
    cls = np.arange(samples) % cfg.num_classes
    specs = specs or sweep_specs(FORMATS["default"])

    def decode(theta_main):
        feats = features(theta_main, cfg.relativization, cfg.encoding)
        with torch.no_grad():
            return model.decode(torch.from_numpy(feats).float()).numpy(), feats

    rows = []
    cache_float = {}
    try:
        from tqdm import tqdm
        it = tqdm(specs, desc="numerics sweep", unit="format", disable=not progress)
    except ImportError:
        it = specs
    for axis, label, spec in it:
        params = HardwareParams(cfg.n, cfg.n_cond, default_lanes(cfg.n, cfg.n_cond, spec), spec)
        t0 = time.perf_counter()
        img = quantize(eff, params, cfg.dt, cfg.num_steps, cfg.to_dict())
        ph0 = initial_phases(seed, samples, params.n_total, spec)
        fixed = phases_to_radians(GoldenModel(img).run(cls, ph0).phases, spec)
        key = spec.phase_frac_bits
        if key not in cache_float:
            ref = accuracy.float_euler(eff, phases_to_radians(ph0, spec), cls, cfg.dt, cfg.num_steps)
            cache_float[key] = (ref, *decode(ref[:, :cfg.n]))
        ref, ref_img, ref_feat = cache_float[key][:3]
        fx_img, fx_feat = decode(fixed[:, :cfg.n])
        err = np.abs(fixed - ref)
        extra = {}
        if classifier is not None:
            from model.evaluate import classify, frechet_distance
            from model.data import to_uint8
            if len(cache_float[key]) == 3:  # classify the float images once per phase format
                cache_float[key] = (*cache_float[key], classify(classifier, to_uint8(ref_img)))
            ref_pred, ref_cf = cache_float[key][3]
            fx_pred, fx_cf = classify(classifier, to_uint8(fx_img))
            extra = {"label_agreement": float((fx_pred == ref_pred).mean()),
                     "fd_classifier": float(frechet_distance(fx_cf, ref_cf))}
        deq = img.dequantized()
        rows.append({
            "axis": axis, "value": label, "spec": spec.to_dict(),
            "k_rel_error": float(np.linalg.norm(deq["K"] - eff["K"]) / max(np.linalg.norm(eff["K"]), 1e-30)),
            "phase_err_max": float(err.max()), "phase_err_rms": float(np.sqrt((err**2).mean())),
            "feature_rms": float(np.sqrt(((fx_feat - ref_feat) ** 2).mean())),
            "psnr_db": psnr(fx_img, ref_img),
            "cordic_err": max(accuracy.cordic_bound(spec), 0.0),
            "k_bits_total": cfg.n * cfg.n * spec.coupling_bits,
            "seconds": time.perf_counter() - t0, **extra,
        })
    return rows


def write_report(rows: list[dict], out_dir: str, title: str, note: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    write_atomic(os.path.join(out_dir, "sweep.json"), json.dumps(rows, indent=1))
    lines = [f"# {title}", "", note, "",
             "| varied | value | K rel. error | phase err max (rad) | phase err RMS (rad) | feature RMS | PSNR (dB) "
             "| same class | FD classifier | K size (Mibit) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        agree = f"{r['label_agreement']:.3f}" if "label_agreement" in r else "-"
        fd = f"{r['fd_classifier']:.3f}" if "fd_classifier" in r else "-"
        lines.append(f"| {r['axis']} | {r['value']} | {r['k_rel_error']:.2e} | {r['phase_err_max']:.2e} | "
                     f"{r['phase_err_rms']:.2e} | {r['feature_rms']:.2e} | {r['psnr_db']:.1f} | {agree} | {fd} | "
                     f"{r['k_bits_total'] / 2**20:.2f} |")
    write_atomic(os.path.join(out_dir, "sweep.md"), "\n".join(lines) + "\n")

    axes = [a for a in ("coupling_bits", "cordic_in_bits", "cordic_iters", "phase_frac_bits")]
    fig, ax = plt.subplots(2, len(axes), figsize=(4 * len(axes), 6.5))
    for col, a in enumerate(axes):
        sel = [r for r in rows if r["axis"] == a]
        x = [int(r["value"]) for r in sel]
        ax[0, col].semilogy(x, [r["phase_err_rms"] for r in sel], "o-", label="RMS")
        ax[0, col].semilogy(x, [r["phase_err_max"] for r in sel], "s--", label="max")
        ax[0, col].set_title(a)
        ax[0, col].set_ylabel("phase error (rad)")
        ax[0, col].legend()
        psnr = [min(r["psnr_db"], 99) for r in sel]
        ax[1, col].plot(x, psnr, "o-")
        ax[1, col].set_ylim(0, max(psnr + [1.0]) * 1.1)  # from 0: a 0.04 dB spread must not fill the panel
        ax[1, col].set_ylabel("PSNR fixed vs float (dB)")
        ax[1, col].set_xlabel(a)
        for a_ in ax[:, col]:
            a_.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(os.path.join(out_dir, "sweep.png")) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    from fixedpoint import cli

    ap = cli.ArgumentParser(prog="python -m model.numerics_sweep", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=cli.existing_file,
                    help="our .safetensors checkpoint (default: random-init --config)")
    ap.add_argument("--config", default=None,
                    help="config for a seeded random-init model when no checkpoint (default cifar10-n1024)")
    ap.add_argument("--samples", type=cli.int_range(1, 100_000), default=64, help="samples per format (default 64)")
    ap.add_argument("--seed", type=cli.seed, default=0, help="initial-phase seed (default 0)")
    ap.add_argument("--out", type=cli.output_dir, default="out/numerics-sweep",
                    help="output directory (default out/numerics-sweep; docs/numerics-sweep holds the published run)")
    ap.add_argument("--classifier", action="store_true",
                    help="also compare fixed vs float images with the in-project classifier of model.evaluate "
                         "(trained on the real train split, or loaded from its cache)")
    ap.add_argument("--classifier-epochs", type=cli.int_range(1, 1000), default=3,
                    help="epochs when the classifier is trained (default 3)")
    args = ap.parse_args(argv)
    if args.checkpoint and args.config:
        ap.error("give --checkpoint or --config, not both")
    if args.classifier_epochs != 3 and not args.classifier:
        ap.error("--classifier-epochs needs --classifier")
    from model.config import get_config

    args.config = args.config or "cifar10-n1024"
    try:
        get_config(args.config)
    except ValueError as e:
        ap.error(str(e))
    import torch

    if args.checkpoint:
        from model.checkpoint import CheckpointError, load_checkpoint
        try:
            model = load_checkpoint(args.checkpoint)
        except (CheckpointError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        src = f"checkpoint `{args.checkpoint}`"
    else:
        from model.config import get_config
        from model.un0 import OscillatorGenerator
        torch.manual_seed(args.seed)
        model = OscillatorGenerator(get_config(args.config)).eval()
        src = f"random-init `{args.config}` (torch seed {args.seed})"
    clf = None
    if args.classifier:
        from model.data import load_dataset
        from model.evaluate import train_classifier
        clf = train_classifier(load_dataset(model.cfg.dataset, "train"), epochs=args.classifier_epochs)
    rows = run_sweep(model.eval(), args.samples, args.seed, classifier=clf)
    note = (f"Model: {src}. {args.samples} samples (classes round-robin), seed {args.seed}, "
            f"{model.cfg.num_steps} Euler steps. Reference: float64 Euler on the unquantized couplings from the same "
            "initial phase words. Each row varies one field of the default format. PSNR compares decoded images "
            "(fixed vs float, range [-1, 1]). 'same class': share of images the in-project classifier (model.evaluate) "
            "labels the same for fixed and float; 'FD classifier': Frechet distance between the two sets' classifier "
            "features (0 = identical). Regenerate: `python -m model.numerics_sweep "
            + (f"--checkpoint {args.checkpoint}" if args.checkpoint else f"--config {args.config}")
            + f" --samples {args.samples} --seed {args.seed}" + (" --classifier" if args.classifier else "") + "`.")
    from fixedpoint.files import save_with_rescue

    out = save_with_rescue(args.out, lambda d: write_report(rows, d, f"Fixed-point error sweep: {model.cfg.name}", note),
                           "--out")
    print(f"wrote {out}/sweep.md, sweep.json, sweep.png")
    for r in rows:
        print(f"{r['axis']:>16} {r['value']:>8}  phase rms {r['phase_err_rms']:.2e}  max {r['phase_err_max']:.2e}  "
              f"PSNR {r['psnr_db']:.1f} dB")
    return int(out != args.out)


if __name__ == "__main__":
    raise SystemExit(main())
