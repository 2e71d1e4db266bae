"""Run a cocotb test module against a cached build (used by the pytest entry points and the benchmark)."""
from __future__ import annotations

import json
import os

from fixedpoint.spec import HardwareParams

from .env import OWN_CLOCK_ENV, REPO, build


def run_cocotb(simulator: str, params: HardwareParams, module: str, test_dir, testcase=None, opts=None,
               waves: bool | None = None, extra_env=None, build_root=None, all_signals: bool = False,
               own_clock: bool = False):
    """Build (cached) and run `module`'s cocotb tests; raises (under pytest) if any fails. WAVES=1 dumps waves;
    `all_signals` gives the testbench VPI access to internal signals too; `own_clock` (Verilator) runs the clock
    inside the model, and the testbench finds OWN_CLOCK_ENV=1 (sim.env.build)."""
    from cocotb_tools.runner import get_results

    waves = bool(int(os.environ.get("WAVES", "0"))) if waves is None else waves
    runner, bdir, top = build(simulator, params, waves=waves, root=build_root, all_signals=all_signals,
                              own_clock=own_clock)
    env = {"OSC_PARAMS": json.dumps(params.to_dict()), "OSC_OPTS": json.dumps(opts or {}),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "PYTHONWARNINGS": "ignore::DeprecationWarning",  # cocotbext-axi uses APIs cocotb 2 deprecates
           OWN_CLOCK_ENV: "1" if own_clock and simulator == "verilator" else "0",
           **(extra_env or {})}
    xml = runner.test(hdl_toplevel=top, hdl_toplevel_lang="verilog", test_module=module, test_dir=str(test_dir), build_dir=str(bdir),
                      testcase=testcase, extra_env=env, waves=waves)
    n, failed = get_results(xml)
    if failed:
        raise AssertionError(f"{failed} of {n} cocotb tests failed ({simulator}, {params}); see {xml}")
    return n
