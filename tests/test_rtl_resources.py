"""Resource estimate plumbing: yosys synth_xilinx on a tiny build maps the MAC lanes to DSP48E1s."""
import shutil

import pytest

from fixedpoint.spec import PYNQ_Z2, HardwareParams
from rtl.resources import build_line, count, cycle_accounting, recorded, report, synthesize


def test_cycle_accounting_pynq_meets_the_image_target():
    """PYNQ_Z2: 4 groups of 1024 K columns and 8 drive columns x 4 digits; the step's drain (the last group's 256
    feeder rows) stays under 10 %, and a 10-step image under issue 15's 55,000 cycles."""
    acc = cycle_accounting(PYNQ_Z2)
    assert acc["mac_bound"] == PYNQ_Z2.mac_cycles_per_step == 4 * (1024 + 8 * 4)
    assert acc["step_model"] <= 1.1 * acc["mac_bound"]
    assert 10 * acc["step_model"] + acc["init_pass"] <= 55_000


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Debian yosys not installed")
def test_synthesize_tiny_build_uses_dsps(tmp_path):
    p = HardwareParams(8, 2, 4)
    cells, secs, depth = synthesize(p, timeout_s=600)
    c = count(cells)
    assert c["DSP48E1"] >= 2 * p.lanes  # two multipliers per MAC lane
    assert c["LUT"] > 0 and c["FF"] > 0
    crit = depth["critical"]
    assert 1 <= crit["lut_levels"] <= depth["max_lut_levels"] and crit["nets"] >= crit["lut_levels"]
    assert 0 < crit["cells_ns"] < crit["delay_ns"] and depth["max_carry4"] >= 1 and depth["endpoints"] > 100
    text = report(p, cells, secs, depth=depth)
    assert "| DSP48E1 |" in text and "Cycle accounting" in text and "Logic depth and 100 MHz" in text
    md = tmp_path / "tiny.md"
    md.write_text(text)
    assert recorded(md) == [(build_line(p), cells, float(round(secs)), depth)]  # the report parses back


def test_streamed_config_is_the_build_the_pynq_z2_runs():
    """docs/resources.md's streamed-K build is the one bitstreams.streamed picks for imagenet64-n6656 at 4-bit K."""
    from bitstreams.streamed import budget, pynq_z2_build
    from model.config import CONFIGS as MODELS
    from rtl.resources import CONFIGS

    cfg = MODELS["imagenet64-n6656"]
    assert CONFIGS["pynq-z2-streamed"] == pynq_z2_build(cfg.n, cfg.n_cond, cfg.dataset)
    assert budget(CONFIGS["pynq-z2-streamed"]).fits()


def test_report_holds_both_builds_and_each_is_found_by_its_build_line(tmp_path):
    from bitstreams.resources import resources_from_rtl_report
    from rtl.resources import CONFIGS, build_line, named_report, recorded

    onchip = {"LUT6": 100, "FDRE": 300, "DSP48E1": 132, "RAMB36E1": 120, "RAMB18E1": 16}
    streamed = {"LUT6": 90, "FDRE": 900, "DSP48E1": 130, "RAMB36E1": 60, "RAMB18E1": 24}
    md = tmp_path / "resources.md"
    md.write_text(named_report({"pynq-z2": (onchip, 5.0, None), "pynq-z2-streamed": (streamed, 7.0, None)}, {}))
    assert [(b, s) for b, _, s, _ in recorded(md)] == [(build_line(CONFIGS["pynq-z2"]), 5.0),
                                                      (build_line(CONFIGS["pynq-z2-streamed"]), 7.0)]
    assert "K from DDR" in md.read_text() and "streamed from DDR over 2 AXI4 read ports" in md.read_text()
    assert resources_from_rtl_report(md, CONFIGS["pynq-z2"])["bram36"] == 128
    assert resources_from_rtl_report(md, CONFIGS["pynq-z2-streamed"])["bram36"] == 72
    # re-synthesizing one named build keeps the other's recorded counts
    kept = {b: (c, s, d) for b, c, s, d in recorded(md)}
    again = named_report({"pynq-z2-streamed": (dict(streamed, DSP48E1=128), 9.0, None)}, kept)
    assert [c["DSP48E1"] for _, c, _, _ in recorded(_write(tmp_path / "b.md", again))] == [132, 128]
    assert resources_from_rtl_report(md, HardwareParams(8, 2, 4)) is None


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Debian yosys not installed")
def test_depth_of_a_known_netlist(tmp_path):
    """A registered 16-bit add feeding a XOR: the deepest path is flop -> LUT -> 4 CARRY4 (one chain, dedicated
    cascade) -> LUT -> flop; timed with the library's own arcs (FDRE clock-to-Q 0.303 ns, CARRY4 CI->CO[3]
    0.114 ns)."""
    import json
    import subprocess

    from rtl.depth import analyze, cell_library

    (tmp_path / "t.v").write_text(
        "module t(input clk, input [15:0] a, b, output reg [15:0] q);\n  reg [15:0] ra, rb;\n"
        "  always @(posedge clk) begin ra <= a; rb <= b; q <= (ra + rb) ^ {ra[7:0], rb[15:8]}; end\nendmodule\n")
    subprocess.run(["yosys", "-q", "-p", f"read_verilog {tmp_path / 't.v'}; synth_xilinx -family xc7 -noiopad -top t; "
                    f"flatten; write_json {tmp_path / 't.json'}"], check=True, timeout=300)
    d = analyze(json.loads((tmp_path / "t.json").read_text()), top="t", net_ns=0.0)
    c = d["critical"]
    assert c["carry4"] == 4 == d["max_carry4"] and c["lut_levels"] == 2 == d["max_lut_levels"]
    assert c["from_cell"] == "FDRE" and c["to_cell"] == "FDRE" and c["to"].startswith("q[")
    assert c["nets"] == 4  # flop->LUT, LUT->CARRY4, CARRY4->LUT, LUT->flop; the CO->CI cascade is no net
    lib = cell_library()
    assert lib["FDRE"]["clk2q"]["Q"] == 303 and lib["CARRY4"]["comb"][("CI", None, "CO", 3)] == 114
    assert 0.303 + 3 * 0.114 < c["cells_ns"] < 0.303 + 2 * 0.642 + 4 * 0.6
    assert d["endpoints"] == 48  # 3 x 16 flop D inputs


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Debian yosys not installed")
def test_depth_note_quotes_the_cell_library():
    """The figures docs/resources.md's logic-depth note quotes are the installed library's arcs (ps)."""
    from rtl.depth import DSP48E1_COMB, cell_library
    from rtl.resources import DEPTH_NOTE

    lib = cell_library()
    lut = [ps for (_, _, _, _), ps in lib["LUT6"]["comb"].items()]
    enter = max(ps for (i, _, o, ob), ps in lib["CARRY4"]["comb"].items() if o == "CO" and ob == 3 and i != "CI")
    quoted = {min(lut): "0.127 to", max(lut): "to 0.642 ns", lib["CARRY4"]["comb"][("CI", None, "CO", 3)]: "0.114 ns per 4",
              enter: "up to 0.580 ns", lib["FDRE"]["clk2q"]["Q"]: "clock-to-output 0.303",
              lib["RAMB36E1"]["clk2q"]["DOADO"]: "2.454 ns", DSP48E1_COMB[("B", "P")]: "2.690 (B)",
              DSP48E1_COMB[("A", "P")]: "2.823 (A)"}
    text = " ".join(DEPTH_NOTE.split())
    for ps, words in quoted.items():
        assert words in text and f"{ps / 1000:.3f}" in words, (ps, words)
