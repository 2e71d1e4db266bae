"""Xilinx 7-series resource counts from yosys `synth_xilinx` + `stat -json` (an estimate, not Vivado).

Cells are read from design.num_cells_by_type (same layout in yosys 0.23 and 0.70, toolchain.md §7):
LUT = LUT1..LUT6 (+ MUXF7/MUXF8 counted apart), FF = FD*, DSP = DSP48E1, BRAM36-equivalent =
RAMB36E1 + RAMB18E1 / 2. Yosys and Vivado infer DSP/BRAM differently: calibrate once against Vivado.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from fixedpoint.status import status


def cells_to_resources(cells: dict[str, int]) -> dict:
    """Resource counts with rtl.resources.count's cell mapping (one mapping for the RTL report and this one)."""
    from rtl.resources import count

    c = count(cells)
    return {
        "lut": c["LUT"], "ff": c["FF"], "dsp": c["DSP48E1"], "bram36": c["BRAM36"],
        "ramb36e1": cells.get("RAMB36E1", 0), "ramb18e1": cells.get("RAMB18E1", 0),
        "lutram": sum(v for k, v in cells.items() if k.startswith(("RAM32", "RAM64", "RAM128", "RAM256", "SRL"))),
        "carry4": cells.get("CARRY4", 0), "muxf": cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
        "cells_by_type": dict(sorted(cells.items())),
    }


def yosys_resources(verilog: str | Path, top: str, timeout_s: float = 3600, yosys: str | None = None) -> dict:
    yosys = yosys or shutil.which("yosys")
    if not yosys:
        raise RuntimeError("yosys not found on PATH (Debian package `yosys`); use --skip-resources to build without it")
    with tempfile.TemporaryDirectory() as td:
        stat = Path(td) / "stat.json"
        script = (f"read_verilog {Path(verilog).resolve()}; synth_xilinx -family xc7 -noiopad -top {top}; "
                  f"tee -q -o {stat} stat -json")
        try:
            with status(f"yosys synth_xilinx of {Path(verilog).name} (minutes)"):
                r = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"yosys did not finish within {timeout_s:.0f} s; raise --resources-timeout or "
                               "use --skip-resources") from None
        if r.returncode or not stat.exists():
            raise RuntimeError(f"yosys failed (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
        data = json.loads(stat.read_text())
    cells = data["design"]["num_cells_by_type"]
    out = cells_to_resources(cells)
    out.update({"tool": subprocess.run([yosys, "-V"], capture_output=True, text=True).stdout.strip(),
                "flow": "synth_xilinx -family xc7 -noiopad", "top": top})
    return out


def resources_markdown(res: dict, device: dict | None = None) -> str:
    device = device or {"lut": 53200, "ff": 106400, "dsp": 220, "bram36": 140}
    lines = ["# Resource estimate (yosys synth_xilinx, XC7Z020)", "",
             f"Tool: {res.get('tool', '?')}; flow `{res.get('flow', '?')}`. Yosys estimates differ from Vivado "
             "(DSP/BRAM inference); treat as an estimate.", "",
             "| resource | used | XC7Z020 | % |", "|---|---|---|---|"]
    for k, label in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP48E1"), ("bram36", "BRAM36 (eq.)")):
        lines.append(f"| {label} | {res[k]:g} | {device[k]} | {100 * res[k] / device[k]:.1f} |")
    lines += ["", f"LUT RAM/SRL cells {res.get('lutram', 0)}, CARRY4 {res.get('carry4', 0)}, MUXF7/8 {res.get('muxf', 0)}.", ""]
    return "\n".join(lines)


def resources_from_rtl_report(md_path: str | Path, params) -> dict | None:
    """Counts from `python -m rtl.resources`' markdown (its raw-cell JSON block), if it describes `params`."""
    import re

    text = Path(md_path).read_text()
    want = f"Build: n={params.n}, n_cond={params.n_cond}, lanes={params.lanes}, K {params.spec.coupling_bits}-bit"
    # the report may hold several builds (on-chip and streamed-K): take the cell block of this build's section
    plain = params.batch == 1 and not params.k_streamed
    for m in re.finditer(r"^(Build: [^\n]*?)\. Yosys run time.*?```(?:json)?\s*\n(\{.*?\})\s*\n```", text, re.S | re.M):
        line = m.group(1)
        if not line.startswith(want + ", "):
            continue
        extra = re.search(r", batch (\d+), K (streamed|on chip)", line)
        if (extra is None) if plain else (extra is not None and int(extra.group(1)) == params.batch
                                          and (extra.group(2) == "streamed") == params.k_streamed):
            break
    else:
        return None
    out = cells_to_resources(json.loads(m.group(2)))
    out.update({"tool": "yosys (via rtl.resources)", "flow": "synth_xilinx -family xc7 -noiopad", "report": str(md_path)})
    return out
