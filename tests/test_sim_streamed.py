"""cocotb regression of the streamed-K build (sim/tb_streamed.py): K from a stalling AXI RAM, batches of mixed
classes, 10 steps, n_cond 1 and 8, 1000 classes; bit for bit against fixedpoint.golden on Icarus and Verilator."""
import pytest

from fixedpoint.spec import FORMATS, HardwareParams
from sim.runner import run_cocotb

# (n, n_cond, lanes, batch, format, classes, K read ports[, LUT lanes]): Un-0's ImageNet-64 shape (n_cond 1, 1000
# classes, 4-bit K) and the CIFAR shape (n_cond 8) at small n, one sample and batches; columns of half a beat (L=8,
# 4-bit: a ragged last group, packed DSP pairs, a single DSP lane and LUT lanes), one wide beat over two ports
# (L=32, 4-bit) and several beats (L=16, 16-bit).
_BUILDS = {
    "imagenet-b1": (18, 1, 8, 1, "pynq-z2-n1024", 1000, 1, 3),
    "imagenet-b3-2port": (32, 1, 32, 3, "pynq-z2-n1024", 1000, 2),
    "cifar-b2-2port": (16, 8, 8, 2, "default", 10, 2),
    "wide-b4": (16, 3, 16, 4, "wide", 7, 1),
}


def _params(name):
    n, m, lanes, batch, fmt, _, ports, *lut = _BUILDS[name]
    return HardwareParams(n, m, lanes, FORMATS[fmt], batch=batch, k_source="ddr", k_ports=ports,
                          lut_lanes=lut[0] if lut else 0)


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
@pytest.mark.parametrize("build", ["imagenet-b1", "cifar-b2-2port"])
def test_streamed_all_features(simulator, build, tmp_path):
    """Every streamed-K cocotb test (and the register / load-error tests of the on-chip regression)."""
    run_cocotb(simulator, _params(build), "sim.tb_streamed", tmp_path,
               opts={"seed": 5, "images": 1, "runs": 2, "classes": _BUILDS[build][5]})


@pytest.mark.parametrize("build", ["imagenet-b3-2port", "wide-b4"])
def test_streamed_batches_verilator(build, tmp_path):
    run_cocotb("verilator", _params(build), "sim.tb_streamed", tmp_path, testcase=["test_streamed_golden_runs"],
               opts={"seed": 9, "images": 2, "runs": 2, "classes": _BUILDS[build][5]})


def test_build_cli_writes_lint_clean_streamed_verilog(tmp_path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "rtl.build", "--n", "24", "--n-cond", "1", "--lanes", "8",
                          "--format", "pynq-z2-n1024", "--k-source", "ddr", "--batch", "3", "--k-ports", "2",
                          "--out", str(tmp_path),
                          "--lint"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "osc_core.v").read_text()
    assert "m_axi1_araddr" in text and "m_axi2_araddr" not in text and "kbank" not in text
