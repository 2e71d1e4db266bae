"""Training-step throughput (samples/s, median over timed steps) on this machine, through model.train itself.

    python benchmarks/bench_training.py [--configs cifar10-n256 cifar10-n1024] [--steps 6] [--warmup 2]

Each run is a real `model.train` run on the CIFAR-10 JPEG tar (or digits with --data digits) with log-every 1;
the per-step samples/s from its JSONL log are summarised as the median of the steps after the warm-up.
Writes benchmarks/results/training.md (atomic) with the machine description and the load average, because
the numbers depend on what else the CPU is doing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from model.train import build_parser, train  # noqa: E402
from fixedpoint.files import write_atomic  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs{mem}, {dev}; torch {torch.__version__}, Python {platform.python_version()}"


def bench(config: str, extractor: str, batch: int, steps: int, warmup: int, threads: int, data: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        args = build_parser().parse_args([
            "--config", config, "--data", data, "--extractor", extractor, "--steps", str(warmup + steps),
            "--batch-size", str(batch), "--threads", str(threads), "--out-dir", d, "--log-every", "1",
            "--ckpt-every", "1000000", "--ckpt-minutes", "1e9", "--queue-size", "256", "--no-progress"])
        t = time.time()
        train(args)
        wall = time.time() - t
        recs = [json.loads(line) for line in (Path(d) / "log.jsonl").read_text().splitlines()]
    sps = [r["samples_per_s"] for r in recs[warmup:]]
    return {"config": config, "extractor": extractor, "batch": batch, "threads": threads,
            "median_samples_per_s": statistics.median(sps), "min": min(sps), "max": max(sps),
            "timed_steps": len(sps), "wall_s_incl_setup": wall}


def main(argv=None) -> int:
    from fixedpoint import cli
    from model.config import get_config
    from model.data import DATASET_NAMES

    p = cli.ArgumentParser(prog="python benchmarks/bench_training.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["cifar10-n256", "cifar10-n1024"],
                   help="model configs (default cifar10-n256 cifar10-n1024)")
    p.add_argument("--extractors", nargs="+", default=["effnet", "pixel"],
                   help="feature extractors of the drifting loss (default effnet pixel)")
    p.add_argument("--batch-size", type=cli.int_range(1, 65536), default=128, help="batch size (default 128)")
    p.add_argument("--steps", type=cli.int_range(1, 10_000), default=6, help="timed training steps (default 6)")
    p.add_argument("--warmup", type=cli.nonneg_int, default=2, help="untimed warm-up steps (default 2)")
    p.add_argument("--threads", type=cli.int_range(1, 1024), default=2, help="torch threads (default 2)")
    p.add_argument("--data", default="cifar10", choices=DATASET_NAMES, help="dataset (default cifar10)")
    p.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS), default=str(ROOT / "benchmarks" / "results" / "training.md"),
                   help="results file (default benchmarks/results/training.md)")
    a = p.parse_args(argv)
    for c in a.configs:
        try:
            get_config(c)
        except ValueError as e:
            p.error(str(e))
    load0 = os.getloadavg()
    rows = [bench(c, e, a.batch_size, a.steps, a.warmup, a.threads, a.data) for c in a.configs for e in a.extractors]
    load1 = os.getloadavg()
    lines = ["# Training-step throughput (CPU)", "",
             f"- machine: {machine()}",
             f"- measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 1-min load average {load0[0]:.1f} before, "
             f"{load1[0]:.1f} after (other jobs share these cores, so treat the numbers as lower bounds)",
             f"- `python benchmarks/bench_training.py --batch-size {a.batch_size} --steps {a.steps} --warmup {a.warmup} "
             f"--threads {a.threads}`: real `model.train` steps on {a.data}; one step = real-batch features + queue "
             "push, generator forward (10 Euler steps + decoder), extractor forward/backward, drifting loss, "
             "DecoupledAdamW step. effnet = EfficientNet-Lite0 at 64 px (s3/s5/s7 4x4 views + head) + pixel view.", "",
             "| config | extractor | batch | threads | median samples/s | min | max | timed steps |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['extractor']} | {r['batch']} | {r['threads']} | "
                     f"{r['median_samples_per_s']:.1f} | {r['min']:.1f} | {r['max']:.1f} | {r['timed_steps']} |")
    text = "\n".join(lines) + "\n"
    write_atomic(a.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
