"""`python -m bitstreams.build` without Vivado: everything up to Vivado, consistent with itself."""
import json
import re
import shutil

import pytest

pytest.importorskip("rtl.build", reason="the RTL generator (rtl/) is not importable yet")
pytest.importorskip("amaranth")

from bitstreams.build import WRAPPER_PORTS, check_core_ports, main, top_ports  # noqa: E402
from bitstreams.manifest import REPO_ROOT, file_sha256, source_hash  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams  # noqa: E402

BOARD_DIR = REPO_ROOT / "bitstreams" / "pynq-z2"
SMALL = HardwareParams(64, 8, 8, FORMATS["default"])


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    rc = main(["--config", "pynq-z2", "--n", "64", "--lanes", "8", "--format", "default", "--skip-resources",
               "--vivado", "", "--out", str(out)])
    return rc, out


def test_build_without_vivado_writes_everything_before_vivado(small_build, capsys):
    rc, out = small_build
    assert rc == 0
    for rel in ("rtl/osc_core.v", "rtl/registers.json", "rtl/registers.md", "rtl/osc_core_regs.h",
                "osc_core_wrapper.v", "block_design.tcl", "build_bitstream.tcl", "build_config.tcl",
                "osc_pynq_z2_n64_l8.json"):
        assert (out / rel).is_file(), rel
    assert not (out / "osc_pynq_z2_n64_l8.bit").exists()
    man = json.loads((out / "osc_pynq_z2_n64_l8.json").read_text())
    assert man["vivado_ran"] is False and man["params"] == SMALL.to_dict()
    assert man["source_hash"] == source_hash()
    for rel, h in man["files"].items():
        assert file_sha256(out / rel) == h, rel
    from rtl.regs import build_hash

    assert man["build_hash"] == build_hash(SMALL)
    cfg = (out / "build_config.tcl").read_text()
    assert "set PART xc7z020clg400-1" in cfg and "set CORE_BASE 0x40000000" in cfg


def test_no_vivado_message(tmp_path, capsys):
    rc = main(["--config", "pynq-z2", "--n", "64", "--lanes", "8", "--format", "default", "--skip-resources",
               "--vivado", "", "--out", str(tmp_path)])
    assert rc == 0
    assert "vivado is not on PATH" in capsys.readouterr().out


def test_generated_core_matches_wrapper(small_build):
    _, out = small_build
    assert top_ports(out / "rtl" / "osc_core.v", "osc_core") == WRAPPER_PORTS
    check_core_ports(out / "rtl" / "osc_core.v", "osc_core")


def test_port_check_rejects_a_different_core(tmp_path):
    v = tmp_path / "x.v"
    v.write_text("module osc_core(clk, rst, irq);\n  input clk;\n  input rst;\n  output [1:0] irq;\nendmodule\n")
    with pytest.raises(ValueError, match="does not match the Vivado wrapper"):
        check_core_ports(v, "osc_core")


def test_wrapper_ports_and_interface_attributes():
    text = (BOARD_DIR / "osc_core_wrapper.v").read_text()
    decl = re.findall(r"^\s*(input|output)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+),?\s*$", text, re.M)
    ports = {name: (d, int(hi) + 1 if hi else 1) for d, hi, name in decl}
    # the wrapper exposes the core's ports with clk/rst replaced by aclk/aresetn
    expect = {("aclk" if k == "clk" else "aresetn" if k == "rst" else k): v for k, v in WRAPPER_PORTS.items()}
    assert ports == expect
    # every bus port carries an X_INTERFACE_INFO naming its interface and logical signal
    for name in ports:
        if name.startswith(("s_axil_", "s_axis_", "m_axis_")):
            bus, sig = name.rsplit("_", 1)
            assert re.search(rf'X_INTERFACE_INFO = "xilinx\.com:interface:(aximm|axis):1\.0 {bus} {sig.upper()}" \*\)\s*\n'
                             rf"\s*(?:\(\*.*\*\)\s*\n\s*)?(input|output)\s+wire\s+(\[\d+:0\]\s+)?{name}\b", text), name
    assert "POLARITY ACTIVE_LOW" in text and "PROTOCOL AXI4LITE" in text and ".rst(~aresetn)" in text


def test_block_design_tcl_is_consistent():
    bd = (BOARD_DIR / "block_design.tcl").read_text()
    flow = (BOARD_DIR / "build_bitstream.tcl").read_text()
    from bitstreams.build import CONFIGS, build_config_tcl

    cfg_vars = set(re.findall(r"^set (\w+) ", build_config_tcl(CONFIGS["pynq-z2"], 4), re.M))
    used = set(re.findall(r"\$([A-Z][A-Z0-9_]+)", bd + flow))
    assert used <= cfg_vars, used - cfg_vars
    for text in (bd, flow):
        assert text.count("{") == text.count("}") and text.count("[") == text.count("]")
    for needle in ("CONFIG.c_include_sg {0}", "CONFIG.PCW_USE_S_AXI_HP0 {1}", "CONFIG.PCW_USE_M_AXI_GP0 {1}",
                   "axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins osc_core_0/s_axis]",
                   "osc_core_0/m_axis] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]", "irq_concat/dout",
                   "CONFIG.NUM_PORTS {3}"):
        assert needle in bd, needle
    base = CONFIGS["pynq-z2"]
    assert 0x4000_0000 <= base.core_base < base.dma_base < 0x8000_0000
    # the host binds its pynq driver to the core by VLNV (a module reference of the wrapper, named as the
    # board config says) and finds the DMA by VLNV
    from host.pynq_driver import CORE_VLNV, DMA_TYPE_PREFIX, OscillatorCore

    assert f"create_bd_cell -type module -reference $WRAPPER_MODULE {base.core_instance}]" in bd
    assert re.search(rf"^module {base.wrapper_module}\b", (BOARD_DIR / "osc_core_wrapper.v").read_text(), re.M)
    assert f"set WRAPPER_MODULE {base.wrapper_module}" in build_config_tcl(base, 4)
    assert CORE_VLNV == f"xilinx.com:module_ref:{base.wrapper_module}:1.0" and OscillatorCore.bindto == [CORE_VLNV]
    assert DMA_TYPE_PREFIX + "7.1" in bd


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Debian yosys not installed")
def test_yosys_resource_report_on_a_tiny_design(tmp_path):
    from bitstreams.resources import resources_markdown, yosys_resources

    v = tmp_path / "mac.v"
    v.write_text("module mac(input clk, input [15:0] a, input [15:0] b, output reg [39:0] acc);\n"
                 "  always @(posedge clk) acc <= acc + a * b;\nendmodule\n")
    res = yosys_resources(v, "mac", timeout_s=300)
    assert res["dsp"] >= 1 and res["bram36"] == 0
    assert "DSP48E1" in resources_markdown(res)


def test_resources_from_the_rtl_report(tmp_path):
    rtl_res = pytest.importorskip("rtl.resources")
    from bitstreams.resources import resources_from_rtl_report
    from fixedpoint.spec import PYNQ_Z2

    cells = {"LUT6": 100, "LUT3": 20, "FDRE": 300, "DSP48E1": 132, "RAMB36E1": 120, "RAMB18E1": 16, "CARRY4": 7}
    md = tmp_path / "resources.md"
    md.write_text(rtl_res.report(PYNQ_Z2, cells, 1.0))
    d = resources_from_rtl_report(md, PYNQ_Z2)
    assert (d["dsp"], d["bram36"], d["ff"]) == (132, 128, 300) and d["lut"] >= 120
    assert resources_from_rtl_report(md, SMALL) is None  # a report for another build is not used
