"""Resource estimate plumbing: yosys synth_xilinx on a tiny build maps the MAC lanes to DSP48E1s."""
import shutil

import pytest

from fixedpoint.spec import PYNQ_Z2, HardwareParams
from rtl.resources import count, cycle_accounting, report, synthesize


def test_cycle_accounting_pynq_within_five_percent():
    acc = cycle_accounting(PYNQ_Z2)
    assert acc["mac_bound"] == PYNQ_Z2.mac_cycles_per_step == 16512
    assert acc["step_model"] <= 1.05 * acc["mac_bound"]


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Debian yosys not installed")
def test_synthesize_tiny_build_uses_dsps(tmp_path):
    p = HardwareParams(8, 2, 4)
    cells, secs = synthesize(p, timeout_s=600)
    c = count(cells)
    assert c["DSP48E1"] >= 2 * p.lanes  # two multipliers per MAC lane
    assert c["LUT"] > 0 and c["FF"] > 0
    text = report(p, cells, secs)
    assert "| DSP48E1 |" in text and "Cycle accounting" in text


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
    md.write_text(named_report({"pynq-z2": (onchip, 5.0), "pynq-z2-streamed": (streamed, 7.0)}, {}))
    assert [(b, s) for b, _, s in recorded(md)] == [(build_line(CONFIGS["pynq-z2"]), 5.0),
                                                   (build_line(CONFIGS["pynq-z2-streamed"]), 7.0)]
    assert "K from DDR" in md.read_text() and "streamed from DDR over 2 AXI4 read ports" in md.read_text()
    assert resources_from_rtl_report(md, CONFIGS["pynq-z2"])["bram36"] == 128
    assert resources_from_rtl_report(md, CONFIGS["pynq-z2-streamed"])["bram36"] == 72
    # re-synthesizing one named build keeps the other's recorded counts
    kept = {b: (c, s) for b, c, s in recorded(md)}
    again = named_report({"pynq-z2-streamed": (dict(streamed, DSP48E1=128), 9.0)}, kept)
    assert [c["DSP48E1"] for _, c, _ in recorded(_write(tmp_path / "b.md", again))] == [132, 128]
    assert resources_from_rtl_report(md, HardwareParams(8, 2, 4)) is None


def _write(path, text):
    path.write_text(text)
    return path
