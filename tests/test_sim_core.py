"""cocotb regression entry points: build once per (simulator, params) and run sim/tb_core.py's tests."""
import random

import pytest

from fixedpoint.spec import FORMATS, HardwareParams
from sim.runner import run_cocotb

# Builds: edge cases (n = L = M; L = 8 with two K words per bank address) and random sizes (n in multiples of
# L = 4, M = 1..4) drawn once from a fixed seed so builds are reused.
_rng = random.Random(20261122)
_SIZES = [(8, 2, 4, "default"), (4, 4, 4, "pynq-z2-n1024"), (16, 3, 8, "default")] + [
    (4 * _rng.randint(3, 8), _rng.randint(1, 4), 4, fmt) for fmt in ("default", "wide")]


def _params(n, m, lanes, fmt):
    return HardwareParams(n, m, lanes, FORMATS[fmt])


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_core_small_all_features(simulator, tmp_path):
    """Every cocotb test on the small build, in both simulators."""
    p = _params(*_SIZES[0])
    run_cocotb(simulator, p, "sim.tb_core", tmp_path, opts={"seed": 3, "images": 2, "runs": 2, "backpressure": True})


@pytest.mark.parametrize("size", _SIZES[1:], ids=lambda s: "n{}m{}l{}-{}".format(*s))
def test_core_random_sizes_verilator(size, tmp_path):
    p = _params(*size)
    run_cocotb("verilator", p, "sim.tb_core", tmp_path, testcase=["test_golden_runs", "test_reset_and_abort_mid_run"],
               opts={"seed": sum(size[:3]), "images": 2, "runs": 3, "backpressure": size[1] % 2 == 1})
