"""Logic depth of the synthesized core: the deepest register-to-register path of yosys's `synth_xilinx` netlist.

No open place-and-route exists for the XC7Z020 (docs/resources.md), so the 100 MHz claim rests on what synthesis
shows: every combinational path between two clocked elements (flip-flops, block RAM ports, DSP48E1 pipeline
registers, LUT-RAM write ports), counted in LUT levels, CARRY4 cells and an estimated delay.

Cell delays are the per-arc figures of the cell library synth_xilinx maps to (Yosys techlibs/xilinx/cells_sim.v,
`specify` blocks, which cite Project X-Ray's measured timing database for a -1 speed-grade 7-series part,
github.com/SymbiFlow/prjxray-db, artix7/timings/*.sdf). They are read from the installed library at run time (the
combinational arcs, setups and clock-to-outputs written as plain numbers); the DSP48E1's, which Yosys computes
in Verilog functions of the cell's register parameters, are DSP48E1_* below (same source). The XC7Z020's
programmable logic is the same 28 nm 7-series fabric; Xilinx DS187 (Zynq-7000 DC and AC switching
characteristics, "CLB switching characteristics", "DSP48E1 switching characteristics", "block RAM switching
characteristics") gives the -1 grade's T_ILO, T_BYP, T_CINCO, T_RCKO_DO and T_DSPDCK_* for the same arcs.

Routing is not known before place and route: each net between two cells counts NET_NS (a planning figure, not a
data-sheet value), except the dedicated CARRY4 CO[3] -> CI cascade and the DSP48E1 PCOUT -> PCIN cascade, which
are in-column wires. The report also gives, for the critical path, the largest average net delay that still
meets the clock: that is the number a Vivado run must beat.

    yosys ...; synth_xilinx ...; flatten; write_json x.json      (rtl.resources.synthesize does this)
    analyze(json.load(open("x.json")))  ->  {"critical": {...}, "max_lut_levels": ..., "max_carry4": ...}
"""
from __future__ import annotations

import functools
import re
import shutil
from collections import defaultdict
from pathlib import Path

#: Target clock (PYNQ-Z2 FCLK0, hardware.md) and the planning figures of the estimate (ns).
CLOCK_NS = 10.0
NET_NS = 0.5
CLOCK_UNCERTAINTY_NS = 0.2

#: DSP48E1 figures, USE_MULT=MULTIPLY, USE_DPORT=FALSE (what synth_xilinx maps a product to), ps. Yosys
#: techlibs/xilinx/cells_sim.v DSP48E1 `specify` functions (prjxray-db artix7 -1). required: setup of an input
#: captured by the first register on its way (AREG/BREG/CREG, else MREG, else PREG); arrival: clock-to-output
#: from the last register before P; comb: input to output when no register is on the way.
DSP48E1_REQUIRED = {"A": (("AREG", 254), ("MREG", 1416), ("PREG", 2739)),
                    "B": (("BREG", 324), ("MREG", 1285), ("PREG", 2608)),
                    "C": (("CREG", 168), ("PREG", 1244)),
                    "PCIN": (("PREG", 1025),)}
DSP48E1_ARRIVAL = {"P": (("PREG", 329), ("CREG", 1687), ("MREG", 1671), ("AREG", 2952), ("BREG", 2813)),
                   "PCOUT": (("PREG", 435), ("CREG", 1835), ("MREG", 1819), ("AREG", 3098), ("BREG", 2960))}
DSP48E1_COMB = {("A", "P"): 2823, ("A", "PCOUT"): 2970, ("B", "P"): 2690, ("B", "PCOUT"): 2838,
                ("C", "P"): 1325, ("C", "PCOUT"): 1474, ("PCIN", "P"): 1107, ("PCIN", "PCOUT"): 1255}
#: Which register cuts the path from each DSP48E1 input to P (any of them set: registered).
DSP48E1_CUT = {"A": ("AREG", "MREG", "PREG"), "B": ("BREG", "MREG", "PREG"), "C": ("CREG", "PREG"),
               "PCIN": ("PREG",)}
#: Cells outside the data path: clock buffers (the clock tree is not a data path).
IGNORED = {"BUFG"}
LUTS = {f"LUT{k}" for k in range(1, 7)}
LUTRAMS = {"RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM32M16", "RAM64M8"}


class DepthError(RuntimeError):
    """The netlist holds a cell the analysis has no timing for, or a combinational loop."""


@functools.lru_cache(maxsize=1)
def cell_library(path: str | None = None) -> dict:
    """{cell type: {"comb": {(in_port, in_bit|None, out_port, out_bit|None): ps}, "setup": {port: ps},
    "clk2q": {port: ps}}} from the `specify` blocks of Yosys's Xilinx cells_sim.v (only numeric entries; the
    DSP48E1's function-valued ones are the DSP48E1_* tables). `path`: the file (default: the installed yosys's
    share/yosys/xilinx/cells_sim.v)."""
    if path is None:
        exe = shutil.which("yosys")
        if exe is None:
            raise DepthError("yosys not found: apt-get install yosys (its Xilinx cell library holds the delays)")
        datdir = Path(exe).resolve().parent.parent / "share" / "yosys"  # yosys's own --datdir layout
        path = str(Path(datdir) / "xilinx" / "cells_sim.v")
    text = Path(path).read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    lib = {}
    for mm in re.finditer(r"^module\s+\\?([\w$]+)\s*[(#].*?^endmodule", text, re.S | re.M):
        mod, body = mm.group(1), mm.group(0)
        entry = {"comb": {}, "setup": {}, "clk2q": {}}
        for block in re.findall(r"specify(.*?)endspecify", body, re.S):
            for stmt in block.split(";"):
                stmt = " ".join(stmt.split())
                m = re.fullmatch(r"(?:if \(.*\) )?\((pos|neg)edge \w+ => \((\w+)(?:\[\d+\])? ?: ?[^)]*\)\) = ([\d +]+)", stmt)
                if m:
                    if m.group(1) == "pos":
                        entry["clk2q"][m.group(2)] = max(entry["clk2q"].get(m.group(2), 0), _sum(m.group(3)))
                    continue
                m = re.fullmatch(r"\$setup\((\w+)(?:\[\d+\])? ?, ?posedge [^,]*, ([\d +]+)\)", stmt)
                if m:
                    entry["setup"][m.group(1)] = max(entry["setup"].get(m.group(1), 0), _sum(m.group(2)))
                    continue
                m = re.fullmatch(r"\((\w+)(?:\[(\d+)\])? ?[*=]> ?(\w+)(?:\[(\d+)\])? ?\) = ([\d +]+)", stmt)
                if m:
                    key = (m.group(1), _int(m.group(2)), m.group(3), _int(m.group(4)))
                    entry["comb"][key] = max(entry["comb"].get(key, 0), _sum(m.group(5)))
        if any(entry.values()):
            lib[mod] = entry
    for need in ("LUT6", "CARRY4", "FDRE", "MUXF7", "RAMB18E1"):
        if need not in lib:
            raise DepthError(f"{path}: no timing found for {need}; is this Yosys's Xilinx cells_sim.v?")
    return lib


def _sum(expr: str) -> int:
    return sum(int(t) for t in expr.replace(" ", "").split("+") if t)


def _int(x):
    return None if x is None else int(x)


def _param(cell: dict, name: str) -> int:
    v = cell.get("parameters", {}).get(name, 0)
    if isinstance(v, str):
        v = int(v, 2) if set(v) <= {"0", "1"} else 0
    return int(v)


def _bits(cell, port):
    return [b for b in cell["connections"].get(port, []) if isinstance(b, int)]


def _arcs(ctype: str, cell: dict, lib: dict):
    """(comb arcs [(in_bit, out_bit, ps)], start points [(bit, ps)], end points [(bit, ps)]) of one cell."""
    conns, dirs = cell["connections"], cell.get("port_directions", {})
    comb, starts, ends = [], [], []
    if ctype in IGNORED:
        return comb, starts, ends
    if ctype == "DSP48E1":
        regs = {r: _param(cell, r) for r in ("AREG", "BREG", "CREG", "MREG", "PREG")}
        comb_in = []
        for port in conns:
            if dirs.get(port) != "input":
                continue
            if port in DSP48E1_CUT:
                if any(regs[r] for r in DSP48E1_CUT[port]):
                    req = next(ps for r, ps in DSP48E1_REQUIRED[port] if regs[r])
                    ends += [(b, req) for b in _bits(cell, port)]
                else:
                    comb_in.append(port)
            elif port != "CLK":
                ends += [(b, DSP48E1_REQUIRED["C"][-1][1]) for b in _bits(cell, port)]  # control inputs
        for out, arrivals in DSP48E1_ARRIVAL.items():
            got = [ps for r, ps in arrivals if regs[r]]
            if got:
                starts += [(b, got[0]) for b in _bits(cell, out)]
            for port in comb_in:
                comb += [(i, o, DSP48E1_COMB[(port, out)]) for i in _bits(cell, port) for o in _bits(cell, out)]
        for out in conns:  # cascade outputs other than PCOUT (ACOUT, BCOUT, CARRYCASCOUT...): registered side
            if dirs.get(out) == "output" and out not in DSP48E1_ARRIVAL:
                starts += [(b, DSP48E1_ARRIVAL["P"][0][1]) for b in _bits(cell, out)]
        return comb, starts, ends
    entry = lib.get(ctype)
    if entry is None:
        raise DepthError(f"no timing for cell type {ctype} (add it to rtl/depth.py)")
    for (ip, ib, op, ob), ps in entry["comb"].items():
        ins = _bits(cell, ip) if ib is None else [b for b in [conns.get(ip, [None] * (ib + 1))[ib]] if isinstance(b, int)]
        outs = _bits(cell, op) if ob is None else [b for b in [conns.get(op, [None] * (ob + 1))[ob]] if isinstance(b, int)]
        comb += [(i, o, ps) for i in ins for o in outs]
    starts += [(b, ps) for port, ps in entry["clk2q"].items() for b in _bits(cell, port)]
    ends += [(b, ps) for port, ps in entry["setup"].items() for b in _bits(cell, port)]
    if ctype.startswith("RAMB"):  # setups the library lists per port group; every data input is captured
        for port, d in dirs.items():
            if d == "input" and port not in entry["setup"] and not port.startswith("CLK"):
                ends += [(b, max(entry["setup"].values())) for b in _bits(cell, port)]
    if ctype.startswith(("FD",)):
        ends += [(b, 0) for b in _bits(cell, "D") if ("D" not in entry["setup"])]
    return comb, starts, ends


def analyze(netlist: dict, top: str | None = None, net_ns: float = NET_NS, lib: dict | None = None,
            keep: int = 6) -> dict:
    """Longest register-to-register paths of a flattened, mapped Yosys JSON netlist (`write_json`).

    Returns {"critical": {"delay_ns", "cells_ns", "nets", "lut_levels", "muxf", "carry4", "dsp", "setup_ns", "from",
    "from_cell", "to", "to_cell", "net_budget_ns"}, "paths": [...], "max_lut_levels", "max_carry4", "endpoints",
    "net_ns", "clock_ns", "uncertainty_ns"}: the path with the largest estimated delay (clock-to-output + cell
    arcs + `net_ns` per net + setup), the deepest path into each of the `keep` deepest kinds of destination
    ("paths", critical first), and separately the most LUT levels (LUTs, LUT-RAM reads, MUXF7/8 count one each)
    and the longest CARRY4 chain on any path. net_budget_ns: the largest average net delay for
    which the critical path meets CLOCK_NS - CLOCK_UNCERTAINTY_NS. Raises DepthError on an unknown cell type or a
    combinational loop.
    """
    lib = lib or cell_library()
    mods = netlist["modules"]
    top = top or next(n for n, m in mods.items() if int(m.get("attributes", {}).get("top", 0) or 0))
    mod = mods[top]
    names = {}
    for name, net in mod["netnames"].items():
        for k, b in enumerate(net["bits"]):
            if isinstance(b, int) and (b not in names or (names[b][0].startswith("$") and not name.startswith("$"))):
                names[b] = (name, k)
    fanout = defaultdict(list)  # bit -> [(out bit, ps, cell type)]
    indeg = defaultdict(int)
    start_at, end_req = {}, defaultdict(list)
    ctype_of_driver = {}
    for cname, cell in mod["cells"].items():
        ctype = cell["type"]
        comb, starts, ends = _arcs(ctype, cell, lib)
        for i, o, ps in comb:
            fanout[i].append((o, ps, ctype))
            indeg[o] += 1
            ctype_of_driver[o] = ctype
        for b, ps in starts:
            start_at[b] = max(start_at.get(b, 0), ps)
            ctype_of_driver.setdefault(b, ctype)
        label = _clean(cname)
        if ctype.startswith("FD") and _bits(cell, "Q"):
            label = _name(names, _bits(cell, "Q")[0])
        for b, ps in ends:
            end_req[b].append((ps, ctype, label))
    # arrival[bit] = (ns, nets, luts, muxf, carry4, dsp, pred); longest path in topological order (Kahn).
    carry_in = _carry_cascade_inputs(mod)
    arrival = {b: (ps / 1000, 0, 0, 0, 0, 0, None) for b, ps in start_at.items()}
    for name, port in mod.get("ports", {}).items():
        if port["direction"] == "input":
            for b in port["bits"]:
                if isinstance(b, int):
                    arrival.setdefault(b, (0.0, 0, 0, 0, 0, 0, None))
    levels = {b: (0, 0) for b in arrival}  # (max LUT levels, max CARRY4) reaching the bit
    queue = [b for b in list(arrival) if indeg[b] == 0] + [b for b in list(fanout) if indeg[b] == 0 and b not in arrival]
    for b in queue:
        arrival.setdefault(b, (0.0, 0, 0, 0, 0, 0, None))
        levels.setdefault(b, (0, 0))
    done = 0
    while queue:
        b = queue.pop()
        done += 1
        t, nets, luts, muxf, c4, dsp, _ = arrival[b]
        lv, lc = levels[b]
        for o, ps, ctype in fanout[b]:
            dedicated = (b, o) in carry_in
            kind = _kind(ctype)
            cand = (t + ps / 1000 + (0 if dedicated else net_ns), nets + (0 if dedicated else 1),
                    luts + (kind == "lut"), muxf + (kind == "muxf"), c4 + (kind == "carry"), dsp + (kind == "dsp"), b)
            if o not in arrival or cand[0] > arrival[o][0]:
                arrival[o] = cand
            lev = (lv + (kind in ("lut", "muxf")), lc + (kind == "carry"))
            old = levels.get(o, (0, 0))
            levels[o] = (max(old[0], lev[0]), max(old[1], lev[1]))
            indeg[o] -= 1
            if indeg[o] == 0:
                queue.append(o)
    if any(v > 0 for v in indeg.values()):
        raise DepthError(f"combinational loop through {sum(v > 0 for v in indeg.values())} net bits")
    ranked, n_end = [], 0
    for b, reqs in end_req.items():
        if b not in arrival:
            continue
        n_end += 1
        setup = max(r[0] for r in reqs) / 1000
        ranked.append((arrival[b][0] + net_ns + setup, b, setup))
    ranked.sort(key=lambda r: -r[0])
    worst = ranked[0]
    budget = CLOCK_NS - CLOCK_UNCERTAINTY_NS

    def describe(t, b, setup):
        path, cur = [], b
        while cur is not None:
            path.append(cur)
            cur = arrival[cur][6]
        first = path[-1]
        _, nets, luts, muxf, c4, dsp, _ = arrival[b]
        nets += 1  # into the endpoint
        cells_ns = t - nets * net_ns
        return {"delay_ns": round(t, 3), "cells_ns": round(cells_ns, 3), "nets": nets, "lut_levels": luts,
                "muxf": muxf, "carry4": c4, "dsp": dsp, "setup_ns": round(setup, 3),
                "from": _name(names, first), "from_cell": ctype_of_driver.get(first, "input"),
                "to": max(end_req[b])[2], "to_cell": max(end_req[b])[1],
                "net_budget_ns": round((budget - cells_ns) / nets, 3)}

    top, seen = [], set()
    for t, b, setup in ranked:  # the deepest path into each of the `keep` deepest destinations (by signal name)
        d = describe(t, b, setup)
        base = re.sub(r"\d+", "#", d["to"])  # one row per kind: kbank3.0.5 and kbank7.0.1 alike
        if base not in seen:
            seen.add(base)
            top.append(d)
        if len(top) == keep:
            break
    return {
        "critical": top[0], "paths": top,
        "max_lut_levels": max((lv for lv, _ in levels.values()), default=0),
        "max_carry4": max((lc for _, lc in levels.values()), default=0),
        "endpoints": n_end, "net_ns": net_ns, "clock_ns": CLOCK_NS, "uncertainty_ns": CLOCK_UNCERTAINTY_NS,
    }


def _kind(ctype: str) -> str:
    if ctype in LUTS or ctype in LUTRAMS or ctype == "INV":
        return "lut"
    if ctype in ("MUXF7", "MUXF8"):
        return "muxf"
    if ctype == "CARRY4":
        return "carry"
    if ctype == "DSP48E1":
        return "dsp"
    return "other"


def _carry_cascade_inputs(mod: dict) -> set:
    """(CO[3] bit, out bit) pairs of CARRY4 -> CARRY4 cascades via CI, and DSP48E1 PCOUT -> PCIN (dedicated)."""
    co3, pcout = {}, set()
    for cell in mod["cells"].values():
        if cell["type"] == "CARRY4":
            co = cell["connections"].get("CO", [])
            if len(co) == 4 and isinstance(co[3], int):
                co3[co[3]] = True
        if cell["type"] == "DSP48E1":
            pcout.update(_bits(cell, "PCOUT"))
    out = set()
    for cell in mod["cells"].values():
        if cell["type"] == "CARRY4":
            ci = cell["connections"].get("CI", [None])[0]
            if isinstance(ci, int) and ci in co3:
                out.update((ci, o) for o in _bits(cell, "CO") + _bits(cell, "O"))
        if cell["type"] == "DSP48E1":
            for pi in _bits(cell, "PCIN"):
                if pi in pcout:
                    out.update((pi, o) for o in _bits(cell, "P") + _bits(cell, "PCOUT"))
    return out


def _name(names: dict, bit) -> str:
    """A net bit's readable name: its user-given signal name where it has one; a folder a generated cell name
    quotes is dropped (Yosys names cells after the source file: $mul$<dir>/osc_core.v:123$4)."""
    if bit not in names:
        return f"net {bit}"
    name, k = names[bit]
    return f"{_clean(name)}[{k}]"


def _clean(name: str) -> str:
    return re.sub(r"(?:[^\s$:/]*/)+([^\s$:/]+\.v)", r"\1", name.lstrip(chr(92)))
