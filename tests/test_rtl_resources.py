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
