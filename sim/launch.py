"""Subprocess entry of SimClient: build (cached) and run the cocotb simulation server for one params set."""
from __future__ import annotations

import argparse
import json

from fixedpoint.spec import HardwareParams

from .runner import run_cocotb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--simulator", default="verilator")
    ap.add_argument("--params", required=True, help="HardwareParams JSON")
    ap.add_argument("--test-dir", required=True)
    ap.add_argument("--waves", action="store_true")
    ap.add_argument("--build-root", default=None)
    a = ap.parse_args(argv)
    params = HardwareParams.from_dict(json.loads(a.params))
    run_cocotb(a.simulator, params, "sim.server", a.test_dir, waves=a.waves, build_root=a.build_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
