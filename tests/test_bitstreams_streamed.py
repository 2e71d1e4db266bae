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


def _block_ram_memories(elaboratable, path=""):
    """(path, Memory) of every amaranth.lib.memory.Memory the core elaborates, but LUT-RAM ones (ram_style)."""
    from amaranth.lib import memory

    if isinstance(elaboratable, memory.Memory):
        if elaboratable.attrs.get("ram_style") != "distributed":
            yield path, elaboratable
        return
    m = elaboratable.elaborate(None)
    while not hasattr(m, "_named_submodules") and hasattr(m, "elaborate"):
        m = m.elaborate(None)
    subs = list(getattr(m, "_named_submodules", {}).items()) + [("?", s) for s in getattr(m, "_anon_submodules", [])]
    for name, sub in subs:
        yield from _block_ram_memories(sub[0] if isinstance(sub, tuple) else sub, f"{path}/{name}")


@pytest.mark.parametrize("n,batch", [(256, 2), (320, 3)])
def test_budget_counts_every_block_ram_memory_of_the_rtl_once(n, batch):
    """Issue 11: the analytic budget said 72 BRAM36 for n6656 B 3 where yosys found 112.5, because the RTL's trig
    memory had two read ports and was built twice. The trig buffers are now two memories with one read/write and one
    read port each; the budget must count exactly the block-RAM memories the core elaborates (each once)."""
    from amaranth.hdl import Shape

    from bitstreams.power_model import bram18_for
    from rtl.core import OscillatorCore

    p = HardwareParams(n, 1, 64, FORMATS["pynq-z2-n1024"], batch=batch, k_source="ddr", k_ports=2)
    mems = dict(_block_ram_memories(OscillatorCore(p)))
    assert {"/trig_buf0", "/trig_buf1", "/phase_mem", "/gain_mem", "/omega_mem"} <= set(mems)
    assert all(len(mems[f"/trig_buf{h}"].read_ports) == 2 and len(mems[f"/trig_buf{h}"].write_ports) == 1
               and mems[f"/trig_buf{h}"].depth == p.state_words for h in (0, 1))
    r18 = sum(bram18_for(mem.depth, Shape.cast(mem.shape).width) for mem in mems.values())
    assert streamed.budget(p).bram36 == r18 / 2


def test_plans_fit_with_the_corrected_budget():
    # the budget the yosys run of docs/resources.md confirms: n6656 B 3 in 72.5 BRAM36, n16384 B 2 in 124.5 (of 136)
    r = streamed.plan(6656, 1, FORMATS["pynq-z2-n1024"])
    assert (r["params"].batch, r["budget"].bram36) == (3, 72.5)
    r = streamed.plan(16384, 1, FORMATS["pynq-z2-n1024"])
    assert (r["params"].batch, r["budget"].bram36) == (2, 124.5) and r["images_per_s"] >= 2
