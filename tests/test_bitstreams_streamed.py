"""bitstreams.streamed: the streamed-K PYNQ-Z2 plan (batch that fits, DDR rate per port, cycle model regimes)."""
import pytest

from bitstreams import streamed
from fixedpoint.spec import FORMATS, HardwareParams
from rtl.resources import cycle_accounting, streamed_cycle_accounting


def test_planning_rate_per_port():
    # 1.45 GB/s over two 64-bit ports at 100 MHz = 7.25 B per clock each; one port is capped by its 8 B per clock.
    assert streamed.port_beats_per_cycle(2) == pytest.approx(7.25 / 8)
    assert streamed.port_beats_per_cycle(1) == 1.0


def test_cycle_model_regimes():
    p1 = HardwareParams(1024, 1, 64, FORMATS["pynq-z2-n1024"], batch=1, k_source="ddr", k_ports=2)
    p4 = HardwareParams(1024, 1, 64, FORMATS["pynq-z2-n1024"], batch=4, k_source="ddr", k_ports=2)
    rate = streamed.port_beats_per_cycle(2)
    a1, a4 = streamed_cycle_accounting(p1, rate, 40), streamed_cycle_accounting(p4, rate, 40)
    assert a1["bound"] == "ddr" and a1["step_model"] > a1["compute"]  # 2 wide beats per column, 1 clock per column
    assert a4["bound"] == "compute" and a4["step_model"] == cycle_accounting(p4)["step_model"]
    assert a4["compute"] >= p4.mac_cycles_per_step


def test_plan_for_the_flagship_needs_a_larger_cma_pool():
    r = streamed.plan(16384, 1, FORMATS["pynq-z2-n1024"])
    p = r["params"]
    assert p.k_streamed and p.k_ports == 2 and p.batch >= 2 and r["budget"].fits()
    assert r["cycles"]["bound"] == "ddr"
    assert r["k_ddr_bytes"] == 16384 * 16384 // 2 and not r["fits_stock_cma"] and r["cma_needed_mib"] >= 192
    bigger = HardwareParams(16384, 1, 64, FORMATS["pynq-z2-n1024"], batch=p.batch + 1, k_source="ddr", k_ports=2)
    assert not streamed.budget(bigger).fits()  # the batch is bounded by on-chip memory


def test_plan_n6656_fits_stock_cma():
    r = streamed.plan(6656, 1, FORMATS["pynq-z2-n1024"])
    assert r["fits_stock_cma"] and r["params"].batch >= 2


def test_bitstream_check_names_the_variant_difference():
    from bitstreams.manifest import param_differences
    from fixedpoint.spec import PYNQ_Z2

    need = streamed.pynq_z2_build(6656, 1, "imagenet64")
    diffs = param_differences(PYNQ_Z2, need)
    assert "k_source: built bram, needed ddr" in diffs and any(d.startswith("batch:") for d in diffs)
