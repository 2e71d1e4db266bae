"""Every entry point validates its command line (issue 12, item 11): a bad type, range or combination ends
the program before any work with exactly one line on stderr and exit status 2 (host.agent: see its tests)."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    from host.testing import random_checkpoint

    d = tmp_path_factory.mktemp("cli")
    ck = random_checkpoint(str(d / "n64.safetensors"), "cifar10-n64")
    (d / "afile").write_text("x")
    return {"ck": ck, "dir": str(d), "file": str(d / "afile"), "png": str(d / "o.png"), "md": str(d / "o.md"),
            "missing": str(d / "missing.safetensors")}


# (module, argv with {placeholders}, a word the error line must contain)
CASES = [
    ("host.run", ["--class", "cat", "--n", "0"], "--n"),
    ("host.run", ["--class", "cat", "--seed", "-1"], "--seed"),
    ("host.run", ["--class", "cat", "--timeout", "nan"], "--timeout"),
    ("host.run", ["--class", "cat", "--timeout", "1e7"], "--timeout: must be a finite number > 0 and < 1e+06"),
    ("host.run", ["--class", "cat", "--lanes", "x"], "--lanes"),
    ("host.run", ["--class", "cat", "--board", "golden", "--bitfile", "{file}"], "--bitfile"),
    ("host.run", ["--class", "cat", "--out", "{png}", "--strip", "{png}"], "same file"),
    ("host.run", ["--class", "cat", "--out", "{dir}"], "is a directory"),
    ("host.run", ["--class", "cat", "--board", "pynq-z2"], "--board pynq-z2 needs --bitfile PATH.bit"),
    ("host.compare", ["--class", "cat", "--board", "pynq-z2"], "--board pynq-z2 needs --bitfile"),
    ("bitstreams.measure", ["--board", "pynq-z2"], "--board pynq-z2 needs --bitfile"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--n", "-3"], "--n"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--scale", "0"], "--scale"),
    ("model.sample", ["--config", "cifar10-n64x", "--out", "{png}"], "unknown model config"),
    ("model.sample", ["--config", "cifar10-n64", "--checkpoint", "{ck}", "--out", "{png}"], "not allowed with"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--device", "warp"], "--device"),
    ("model.sample", ["--checkpoint", "{missing}", "--out", "{png}"], "does not exist"),
    ("model.sample", ["--checkpoint", "{dir}", "--out", "{png}"], "is a directory, not a file"),
    ("host.run", ["--class", "cat", "--checkpoint", "{dir}", "--board", "golden"], "n64.safetensors"),
    ("model.train", ["--config", "digits-n64", "--steps", "0"], "--steps"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--lr", "-1"], "--lr"),
    ("model.train", ["--config", "nope", "--steps", "5"], "unknown model config"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--num-pos", "100", "--queue-size", "10"], "--num-pos"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--resume", "--init-from", "{ck}"], "--resume"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--warmup-frac", "1.5"], "--warmup-frac"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--precision", "bf16", "--device", "cpu"], "bf16"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--log-every", "10", "--probe-every", "15"],
     "--probe-every"),
    ("model.evaluate", ["--checkpoint", "{ck}", "--num-samples", "5"], "--num-samples"),
    ("model.evaluate", ["--checkpoint", "{ck}", "--metrics", "fid,xyz"], "xyz"),
    ("model.evaluate", ["--checkpoint", "{missing}"], "--checkpoint"),
    ("model.class_probe", ["--checkpoint", "{ck}", "--per-class", "0"], "--per-class"),
    ("model.class_probe", ["--checkpoint", "{missing}"], "--checkpoint"),
    ("model.numerics_sweep", ["--samples", "0"], "--samples"),
    ("model.numerics_sweep", ["--checkpoint", "{ck}", "--config", "cifar10-n64"], "not both"),
    ("model.numerics_sweep", ["--classifier-epochs", "5"], "--classifier"),
    ("model.numerics_sweep", ["--config", "nope"], "unknown model config"),
    ("model.checkpoint", ["info", "{missing}"], "does not exist"),
    ("model.checkpoint", ["info", "{dir}"], "is a directory"),
    ("model.checkpoint", ["import-un0", "{ck}", "{ck}"], "overwrite its source"),
    ("model.checkpoint", ["frobnicate"], "invalid choice"),
    ("rtl.build", ["--n", "0", "--n-cond", "8", "--lanes", "8", "--out", "{dir}"], "--n"),
    ("rtl.build", ["--n", "64", "--n-cond", "8", "--lanes", "7", "--out", "{dir}"], "n_cond=8 must not exceed lanes=7"),
    ("rtl.build", ["--n", "16", "--n-cond", "8", "--lanes", "64", "--out", "{dir}"], "MAC columns of a group"),
    ("rtl.build", ["--n", "64", "--n-cond", "8", "--lanes", "8", "--format", "nope", "--out", "{dir}"], "--format"),
    ("rtl.resources", ["--out", "{md}"], "--config"),
    ("rtl.resources", ["--config", "pynq-z2", "--n", "64", "--out", "{md}"], "drop --n"),
    ("rtl.resources", ["--n", "64", "--n-cond", "8", "--lanes", "16", "--timeout", "0", "--out", "{md}"], "--timeout"),
    ("rtl.resources", ["--rerender", "--config", "pynq-z2", "--out", "{md}"], "drop --config"),
    ("rtl.resources", ["--rerender", "--out", "{md}"], "synthesize with --config first"),
    ("benchmarks.headline", ["--frobnicate"], "unrecognized"),
    ("rtl.export", ["--out", "{file}"], "not a directory"),
    ("bitstreams.build", ["--config", "nope"], "--config"),
    ("bitstreams.build", ["--config", "pynq-z2", "--n", "-1"], "--n"),
    ("bitstreams.build", ["--config", "pynq-z2", "--jobs", "0"], "--jobs"),
    ("bitstreams.measure", ["--images", "0"], "--images"),
    ("bitstreams.measure", ["--board", "golden", "--bitfile", "{file}"], "--bitfile"),
    ("bitstreams.measure", ["--checkpoint", "{ck}", "--n", "64"], "--n"),
    ("bitstreams.measure", ["--clock-mhz", "inf"], "--clock-mhz"),
    ("bitstreams.measure", ["--out", "{file}"], "not a directory"),
    ("bitstreams.measure", ["--out", "{dir}/x.png"], "names a .png file, but this option is the directory"),
    ("rtl.build", ["--n", "64", "--n-cond", "8", "--lanes", "8", "--out", "{dir}/core.json"], "give a directory"),
    ("model.numerics_sweep", ["--out", "{dir}/sweep.md"], "give a directory (e.g."),
    ("bitstreams.roadmap", ["--no-measure", "--cpu-json", "{missing}"], "--no-measure"),
    ("bitstreams.roadmap", ["--no-measure", "--gpu-json", "{missing}"], "--gpu-json"),
    ("bitstreams.roadmap", ["--no-measure", "--cpu-json", "{dir}"], "--cpu-json '{dir}' is a directory"),
    ("bitstreams.build", ["--config", "pynq-z2", "--vivado", "{dir}"], "is not an executable program"),
    ("model.analog_sweep", ["--render", "{dir}"], "--render '{dir}' is a directory"),
    ("bitstreams.roadmap", ["--no-measure", "--set", "gpu_mfu=0.3", "--set", "gpu_mfu=0.4"], "--set gpu_mfu is given twice"),
    ("benchmarks.bench_boards", ["--sizes", "0"], "--sizes"),
    ("benchmarks.bench_sim_speed", ["--images", "0"], "--images"),
    ("benchmarks.bench_sim_speed", ["--class-id", "10"], "--class-id"),
    ("benchmarks.bench_boards", ["--boards", "xyz"], "--boards"),
    ("benchmarks.bench_cycles", ["--n", "64", "--lanes", "12"], "must be a multiple of 8 (coupling weights"),
    ("benchmarks.bench_cycles", ["--n", "16", "--lanes", "64"], "MAC columns of a group"),
    ("benchmarks.bench_cycles", ["--steps", "0"], "--steps"),
    ("benchmarks.bench_sampling", ["--batches", "1,x"], "--batches"),
    ("benchmarks.bench_sampling", ["--config", "nope"], "unknown model config"),
    ("benchmarks.bench_training", ["--batch-size", "0"], "--batch-size"),
    ("benchmarks.bench_training", ["--configs", "nope"], "unknown model config"),
    ("benchmarks.bench_golden", ["--fast"], "unrecognized arguments"),
    ("benchmarks.bench_soak", ["--clients", "0"], "--clients"),
    ("benchmarks.bench_soak", ["--duration", "nan"], "--duration"),
    ("benchmarks.bench_soak", ["--n", "20"], "multiple of 8"),
    ("host.compare", ["--class", "cat", "--n", "65"], "--n"),
    ("host.compare", ["--class", "cat", "--out", "{dir}"], "is a directory"),
    ("host.compare", ["--class", "cat", "--board", "sim", "--bitfile", "{file}"], "--bitfile"),
    ("model.analog_sweep", ["--samples", "5"], "--samples"),
    ("model.analog_sweep", ["--agree-drop", "2"], "--agree-drop"),
    ("model.analog_sweep", ["--out", "{file}"], "not a directory"),
]

# Every file an entry point writes has a name whose extension says its format; any other extension (or none)
# is refused by argparse before the work, so a PNG never lands in README.md or LICENSE.
WRONG_EXTENSIONS = [
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--out", "README.md"], "--out"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--out", "LICENSE"], "no extension"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--out", "out/x.txt"], "--out"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--strip", "out/s.txt"], "--strip"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--gif", "out/g.png"], "--gif"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--order-plot", "out/r.txt"],
     "--order-plot"),
    ("host.run", ["--board", "golden", "--class", "cat", "--checkpoint", "{ck}", "--phases", "notes.md"], "--phases"),
    ("host.compare", ["--class", "cat", "--checkpoint", "{ck}", "--out", "out/c.txt"], "--out"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "out/m.txt"], "--out"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--steps-strip", "s.gif"], "--steps-strip"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--gif", "g.png"], "--gif"),
    ("model.sample", ["--config", "cifar10-n64", "--out", "{png}", "--order-plot", "r.jpg"], "--order-plot"),
    ("model.evaluate", ["--checkpoint", "{ck}", "--out-json", "r.md"], "--out-json"),
    ("model.evaluate", ["--checkpoint", "{ck}", "--out-md", "r.json"], "--out-md"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--samples", "s.txt"], "--samples"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--log", "l.json"], "--log"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--checkpoint", "c.pt"], "--checkpoint"),
    ("model.train", ["--config", "digits-n64", "--steps", "5", "--train-state", "t.json"], "--train-state"),
    ("model.checkpoint", ["import-un0", "{ck}", "x.pt"], "dst"),
    ("rtl.resources", ["--config", "pynq-z2", "--out", "r.json"], "--out"),
    ("bitstreams.roadmap", ["--doc", "roadmap.txt"], "--doc"),
    ("bitstreams.roadmap", ["--cpu-json", "cpu.md"], "--cpu-json"),
    ("benchmarks.bench_boards", ["--out", "b.txt"], "--out"),
    ("benchmarks.bench_sim_speed", ["--out", "s.json"], "--out"),
    ("benchmarks.bench_cycles", ["--out", "c.md"], "--out"),
    ("benchmarks.bench_golden", ["--out", "g.txt"], "--out"),
    ("benchmarks.bench_regression", ["--out", "r.json"], "--out"),
    ("benchmarks.bench_sampling", ["--out", "s.txt"], "--out"),
    ("benchmarks.bench_soak", ["--out", "s.png"], "--out"),
    ("benchmarks.bench_streamed", ["--out", "{file}/x"], "--out"),
    ("benchmarks.bench_streamed", ["--sim", "none", "--out", "out/s.png"], "without a suffix"),
    ("benchmarks.bench_streamed", ["--sim", "none", "--steps", "-3"], "--steps"),
    ("benchmarks.bench_streamed", ["--sim", "none", "--samples", "0"], "--samples"),
    ("benchmarks.bench_streamed", ["--sim", "256:1:0"], "--sim"),
    ("benchmarks.bench_streamed", ["--sim", "256:1:2:3:4"], "--sim"),
    ("benchmarks.bench_streamed", ["--reuse-sim", "--sim", "256:1"], "drop --sim"),
    ("benchmarks.bench_streamed", ["--reuse-sim", "--out", "{dir}/none"], "--reuse-sim"),
    ("bitstreams.build", ["--config", "pynq-z2", "--batch", "2"], "--batch needs --k-source ddr"),
    ("bitstreams.build", ["--config", "pynq-z2", "--model", "imagenet64-n9999"], "--model"),
    ("benchmarks.bench_training", ["--out", "t.txt"], "--out"),
    ("sim.mutate", ["--out", "m.txt"], "--out"),
]
CASES += WRONG_EXTENSIONS


@pytest.mark.parametrize("module,argv,word", CASES, ids=[f"{m}:{' '.join(a)}" for m, a, _ in CASES])
def test_bad_values_exit_2_with_one_line(module, argv, word, paths, capsys, monkeypatch):
    monkeypatch.chdir(paths["dir"])  # default outputs (out/, runs/) would land here if a run started
    main = importlib.import_module(module).main
    try:
        rc = main([a.format(**paths) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert word.format(**paths) in lines[0], lines[0]
    assert "Traceback" not in err and "usage:" not in err
    assert sorted(os.listdir(paths["dir"])) == sorted(["afile", "n64.safetensors"]), "a rejected run wrote files"


@pytest.mark.parametrize("cmd", [[sys.executable, "-m", "host.run", "--class", "cat", "--n", "0"],
                                 [sys.executable, "benchmarks/bench_golden.py", "--fast"]])
def test_real_command_lines(cmd):
    r = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
