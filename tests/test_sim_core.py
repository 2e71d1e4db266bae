"""cocotb regression entry points: build once per (simulator, params) and run sim/tb_core.py's tests.

Cases are random from the session seed (OSC_SEED, else clock-derived; printed in the terminal summary with the
number of bit-exact comparisons). Replay a failure with OSC_SEED=<seed> python -m pytest tests/test_sim_core.py.
"""
import random

import pytest

from fixedpoint.spec import FORMATS, HardwareParams
from sim import regression

SEED = regression.session_seed()

# Builds: the all-features build (a ragged last group, 10 = 2 * 4 + 2; 4-bit K with 4 drive digits; a packed DSP
# pair, a single DSP lane and a LUT lane), edge cases (n = L = M; L = 8 with two K words per bank address) and random
# sizes (n ragged or not at L = 4, M = 1..4, one LUT lane in the wide format) drawn once from a fixed seed so builds
# are reused.
_rng = random.Random(20261122)
_SIZES = [(10, 3, 4, "pynq-z2-n1024", 1), (4, 4, 4, "pynq-z2-n1024", 0), (16, 3, 8, "default", 0)] + [
    (4 * _rng.randint(3, 8) + _rng.randint(0, 3), _rng.randint(1, 4), 4, fmt, lut)
    for fmt, lut in (("default", 0), ("wide", 1))]


def _params(n, m, lanes, fmt, lut=0):
    return HardwareParams(n, m, lanes, FORMATS[fmt], lut_lanes=lut)


def _record(record_property, stats):
    record_property("regression", stats)
    print(f"{stats['simulator']} {stats['bench']} n{stats['params']['n']}: {stats['comparisons']} bit-exact "
          f"comparisons, seed {stats['seed']}, {stats['wall_s']} s")


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_core_small_all_features(simulator, tmp_path, record_property):
    """Every cocotb test on the small build, in both simulators (random backpressure on both streams)."""
    stats = regression.run(simulator, _params(*_SIZES[0]), tmp_path, seed=SEED, images=4, runs=8, backpressure=True)
    _record(record_property, stats)
    assert stats["tests"] == len(regression.TESTBENCHES["on-chip"].all_tests)
    assert stats["comparisons"] >= 60


@pytest.mark.parametrize("size", _SIZES[1:], ids=lambda s: "n{}m{}l{}-{}-lut{}".format(*s))
def test_core_random_sizes_verilator(size, tmp_path, record_property):
    stats = regression.run("verilator", _params(*size), tmp_path, seed=SEED + sum(size[:3]),
                           testcases=["test_golden_runs", "test_worst_cases", "test_reset_and_abort_mid_run"],
                           images=2, runs=3, backpressure=size[1] % 2 == 1)
    _record(record_property, stats)
    assert stats["comparisons"] >= 6
