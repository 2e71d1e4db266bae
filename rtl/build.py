"""Write the core's Verilog (and the register-map exports) for one build.

    python -m rtl.build --n 1024 --n-cond 8 --lanes 64 --format pynq-z2-n1024 --out build/rtl
    python -m rtl.build --n 6656 --n-cond 1 --lanes 64 --format pynq-z2-n1024 --k-source ddr --batch 4 --k-ports 2 --out build/rtl
"""
from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

from fixedpoint import cli
from fixedpoint.files import write_atomic
from fixedpoint.spec import FORMATS, K_SOURCES, HardwareParams, get_format, lut_lanes_for

#: Top-level module name in the generated Verilog.
TOP = "osc_core"


def atomic_write(path: Path, text: str) -> None:
    write_atomic(path, text)


_ZERO_INIT = re.compile(r"  initial begin\n((?:    [A-Za-z_][A-Za-z0-9_$]*\[\d+\] = \d+'h0+;\n)+)  end\n")


def compact_zero_inits(text: str) -> str:
    """Yosys writes a memory's all-zero init as one statement per word (28 MB at the PYNQ-Z2 build); fold each such
    block into an equivalent `for` loop so Verilator, Icarus and Yosys read a file a thousand times smaller."""
    def fold(match):
        body = match.group(1).splitlines()
        name = body[0].split("[")[0].strip()
        idx = [int(line.split("[")[1].split("]")[0]) for line in body]
        if idx != list(range(len(idx))) or any(line.split("[")[0].strip() != name for line in body):
            return match.group(0)
        width = body[0].split("= ")[1].split("'")[0]
        var = f"{name}_init_i"
        return (f"  integer {var};\n  initial begin\n    for ({var} = 0; {var} < {len(idx)}; {var} = {var} + 1)\n"
                f"      {name}[{var}] = {width}'h0;\n  end\n")
    return _ZERO_INIT.sub(fold, text)


def verilog_text(params: HardwareParams) -> str:
    from amaranth.back import verilog

    from .core import OscillatorCore

    return compact_zero_inits(verilog.convert(OscillatorCore(params), name=TOP, emit_src=False))


def write_verilog(params: HardwareParams, out_dir: str | os.PathLike) -> Path:
    """<out>/osc_core.v plus params.json (what was built); returns the Verilog path."""
    from .regs import build_hash

    out = Path(out_dir)
    path = out / f"{TOP}.v"
    atomic_write(path, verilog_text(params))
    atomic_write(out / "params.json", json.dumps({"params": params.to_dict(), "build_hash": build_hash(params),
                                                  "top": TOP}, indent=2, sort_keys=True) + "\n")
    return path


def params_from_args(args) -> HardwareParams:
    spec = get_format(args.format)
    lut = args.lut_lanes if args.lut_lanes is not None else lut_lanes_for(args.lanes, spec)
    return HardwareParams(n=args.n, n_cond=args.n_cond, lanes=args.lanes, spec=spec,
                          batch=args.batch, k_source=args.k_source, k_ports=args.k_ports, lut_lanes=lut)


def add_param_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--n", type=cli.positive_int, required=True, help="main oscillators")
    ap.add_argument("--n-cond", type=cli.positive_int, required=True, help="conditioning oscillators")
    ap.add_argument("--lanes", type=cli.positive_int, required=True, help="MAC lanes")
    ap.add_argument("--format", default="default", choices=sorted(FORMATS),
                    help="numerics format from fixedpoint.spec.FORMATS")
    ap.add_argument("--batch", type=cli.positive_int, default=1, help="samples per run sharing each pass over K")
    ap.add_argument("--k-source", choices=K_SOURCES, default="bram",
                    help="bram: K in on-chip banks; ddr: K streamed from DDR through AXI4 read masters")
    ap.add_argument("--k-ports", type=cli.positive_int, default=1, help="K read masters (HP ports) of a --k-source ddr build")
    ap.add_argument("--lut-lanes", type=cli.int_range(0, 4096), default=None,
                    help="MAC lanes with LUT multipliers (default: as many as keep the lanes within "
                         "fixedpoint.spec.MAC_DSP_BUDGET DSP48E1)")


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m rtl.build", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_param_args(ap)
    ap.add_argument("--out", type=cli.output_dir, required=True, help="output directory")
    ap.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    args = ap.parse_args(argv)
    try:
        params = params_from_args(args)
    except ValueError as e:
        ap.error(str(e))
    t = time.time()
    path = write_verilog(params, args.out)
    from .export import write_exports

    write_exports(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and register exports in {time.time() - t:.1f} s")
    if args.lint:
        from .tools import lint

        lint(path, TOP)
        print("verilator --lint-only -Wall: clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
