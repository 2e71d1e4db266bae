"""Golden integer model throughput (images of phases per second), cifar10-n1024, 10 Euler steps.

    python benchmarks/bench_golden.py     -> benchmarks/results/golden.md
Target (issue 4): >= 100 images/s on a 2-core CPU.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import machine_description, median_time, write_atomic  # noqa: E402
from fixedpoint.golden import GoldenModel, initial_phases  # noqa: E402
from fixedpoint.quantize import quantize  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams  # noqa: E402


def random_image(n, m, classes, spec, seed=0):
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(n, n)) / np.sqrt(n)
    kc = rng.normal(size=(m, m)) / np.sqrt(m)
    np.fill_diagonal(k, 0)
    np.fill_diagonal(kc, 0)
    eff = {"omega": rng.normal(size=n), "K": k, "omega_cond": rng.normal(size=m), "K_cond": kc,
           "K_drive": rng.normal(size=(classes, n, m)) / np.sqrt(m)}
    return quantize(eff, HardwareParams(n, m, 64, spec), 0.1, 10)


def main(argv=None) -> int:
    from fixedpoint import cli

    ap = cli.ArgumentParser(prog="python benchmarks/bench_golden.py", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS),
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "golden.md"),
                    help="results file (default benchmarks/results/golden.md)")
    args = ap.parse_args(argv)
    rows = []
    for fmt in ("default", "pynq-z2-n1024"):
        img = random_image(1024, 8, 10, FORMATS[fmt])
        gm = GoldenModel(img)
        for batch in (1, 16, 64, 256):
            ph = initial_phases(0, batch, img.params.n_total, img.params.spec)
            cls = np.arange(batch) % 10
            med, _ = median_time(lambda: gm.run(cls, ph), repeats=5 if batch <= 64 else 3)
            rows.append((fmt, batch, med, batch / med))
            print(f"{fmt:>14} batch {batch:4d}: {batch / med:8.1f} images/s ({med * 1e3:.1f} ms)")
    lines = ["# Golden model throughput", "", f"Machine: {machine_description()}", "",
             "cifar10-n1024 shape (n=1024, n_cond=8, 10 classes), 10 Euler steps, random couplings; phases only "
             "(no decoding). Median of 5 runs (3 at batch 256) after one warm-up. Target >= 100 images/s.", "",
             "| format | batch | median time | images/s |", "|---|---|---|---|"]
    lines += [f"| {f} | {b} | {t * 1e3:.1f} ms | {r:.1f} |" for f, b, t, r in rows]
    best = max(r for *_, r in rows)
    lines += ["", f"Best: {best:.0f} images/s ({best / 100:.1f}x the 100 images/s target).",
              "Regenerate: `python benchmarks/bench_golden.py`."]
    write_atomic(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
