"""The bit-exact RTL-vs-golden regression as one reusable run: seeds, testbenches, comparison counts.

Used by the pytest entry points (tests/test_sim_core.py), the benchmark (benchmarks/bench_regression.py) and the
mutation check (sim/mutate.py). A *comparison* is one run of the core whose every phase word and OVERFLOW flag is
checked against fixedpoint.golden (sim/tb_core.check).

Seeds: OSC_SEED=<int> fixes the session seed; otherwise it is derived from the clock, so every session draws new
cases. The seed is printed (pytest's terminal summary, the benchmark's output, every failure message) and a
failing case replays exactly with the same seed: ``OSC_SEED=<seed> python -m pytest tests/test_sim_core.py``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from fixedpoint.spec import HardwareParams

from .runner import run_cocotb

SEED_ENV = "OSC_SEED"


def session_seed() -> int:
    """OSC_SEED if set (raises ValueError on a non-integer), else a clock-derived seed, stored in OSC_SEED so that
    every later call in this process and every child process agree."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if raw:
        try:
            seed = int(raw, 0)
        except ValueError:
            raise ValueError(f"{SEED_ENV}={raw!r} is not an integer; unset it for a fresh seed") from None
        if not 0 <= seed < 1 << 63:
            raise ValueError(f"{SEED_ENV}={seed} outside 0..2**63-1")
        return seed
    seed = time.time_ns() // 1000 % 1_000_000_007
    os.environ[SEED_ENV] = str(seed)
    return seed


def _same_build(params: HardwareParams) -> HardwareParams:
    return params


def streamed_build(params: HardwareParams) -> HardwareParams:
    """The small streamed-K build the regression derives from an on-chip build: K from DDR over one AXI4 read
    master, a batch of 2 samples, and n raised to at least 3 * lanes so that a step reads several 16-beat bursts
    and drops padding beats after the last column (burst addressing and the beat count are exercised)."""
    n = max(params.n, 3 * params.lanes)
    return replace(params, n=n, batch=2, k_source="ddr", k_ports=1)


@dataclass(frozen=True)
class Testbench:
    """One build of the core with its cocotb module. `compare_tests` compare against golden; `all_tests` adds the
    interface tests (registers, load errors, reset/abort, AXI errors); the benchmark and the mutation check run
    all_tests. `build` maps the caller's HardwareParams to this testbench's build (the streamed bench derives a small
    streamed-K build). `sources`: the rtl/ files its build elaborates (the mutation check runs a mutant of one of
    them against this testbench)."""
    name: str
    module: str
    compare_tests: tuple[str, ...]
    all_tests: tuple[str, ...]
    build: Callable[[HardwareParams], HardwareParams] = _same_build
    sources: tuple[str, ...] = ("rtl/core.py", "rtl/lanes.py", "rtl/cordic.py", "rtl/regs.py")


#: Every build of the core the regression covers: on-chip K banks, and K streamed from DDR (AXI4 read masters,
#: random AR/R stalls; sim/tb_streamed.py).
TESTBENCHES: dict[str, Testbench] = {
    "on-chip": Testbench("on-chip", "sim.tb_core",
                         ("test_golden_runs", "test_worst_cases", "test_overflow_flag"),
                         ("test_golden_runs", "test_worst_cases", "test_overflow_flag", "test_registers",
                          "test_load_errors", "test_reset_and_abort_mid_run")),
    "streamed": Testbench("streamed", "sim.tb_streamed",
                          ("test_streamed_golden_runs", "test_abort_with_reads_in_flight"),
                          ("test_streamed_golden_runs", "test_abort_with_reads_in_flight", "test_axi_error",
                           "test_registers", "test_load_errors"),
                          build=streamed_build),
}


def run(simulator: str, params: HardwareParams, test_dir, seed: int, bench: str = "on-chip",
        testcases=None, images: int = 2, runs: int = 2, backpressure: bool = False, build_root=None,
        extra_env=None) -> dict:
    """Build (cached) and run `bench`'s tests on `bench`'s build of `params` (Testbench.build); returns
    {"simulator", "bench", "params" (the build that ran), "seed", "tests", "comparisons", "per_test", "wall_s"}.
    Raises AssertionError naming the seed and the replay command on a mismatch."""
    tb = TESTBENCHES[bench]
    params = tb.build(params)
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    stats = test_dir / "regression-stats.jsonl"
    stats.unlink(missing_ok=True)
    opts = {"seed": seed, "images": images, "runs": runs, "backpressure": backpressure}
    t0 = time.perf_counter()
    try:
        n = run_cocotb(simulator, params, tb.module, test_dir, testcase=list(testcases or tb.all_tests), opts=opts,
                       extra_env={"OSC_STATS": str(stats), **(extra_env or {})}, build_root=build_root)
    except AssertionError as e:
        raise AssertionError(f"{e}\nseed {seed}: replay with {SEED_ENV}={seed} (same build and options: "
                             f"{simulator}, {params.to_dict()}, {opts})") from None
    rows = [json.loads(line) for line in stats.read_text().splitlines()] if stats.exists() else []
    per_test = {r["test"]: r["comparisons"] for r in rows}
    return {"simulator": simulator, "bench": bench, "params": params.to_dict(), "seed": seed, "tests": n,
            "comparisons": sum(per_test.values()), "per_test": per_test,
            "wall_s": round(time.perf_counter() - t0, 1)}
