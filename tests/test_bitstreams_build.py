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


# ---- the Vivado flow (issue 13 item 5): parsed from the generated Tcl ------------------------------------------
#: PS7 settings of PYNQ's own PYNQ-Z2 base overlay (Xilinx/PYNQ boards/Pynq-Z2/base/base.tcl, 2020.1 script):
#: DDR3 MT41K256M16 RE-125 as "Custom" with its DDR3-1066F timing, trace delays, and the MIO map.
PYNQ_Z2_PS7 = {
    "PCW_CRYSTAL_PERIPHERAL_FREQMHZ": "50", "PCW_APU_PERIPHERAL_FREQMHZ": "650",
    "PCW_UIPARAM_DDR_MEMORY_TYPE": "DDR 3", "PCW_UIPARAM_DDR_PARTNO": "Custom",
    "PCW_UIPARAM_DDR_DEVICE_CAPACITY": "4096 MBits", "PCW_UIPARAM_DDR_DRAM_WIDTH": "16 Bits",
    "PCW_UIPARAM_DDR_BUS_WIDTH": "16 Bit", "PCW_UIPARAM_DDR_SPEED_BIN": "DDR3_1066F", "PCW_UIPARAM_DDR_FREQ_MHZ": "525",
    "PCW_UIPARAM_DDR_ROW_ADDR_COUNT": "15", "PCW_UIPARAM_DDR_COL_ADDR_COUNT": "10",
    "PCW_UIPARAM_DDR_BANK_ADDR_COUNT": "3", "PCW_UIPARAM_DDR_CL": "7", "PCW_UIPARAM_DDR_CWL": "6",
    "PCW_UIPARAM_DDR_T_RCD": "13.125", "PCW_UIPARAM_DDR_T_RP": "13.125", "PCW_UIPARAM_DDR_T_RC": "50.625",
    "PCW_UIPARAM_DDR_T_RAS_MIN": "35.0", "PCW_UIPARAM_DDR_T_FAW": "40.0",
    "PCW_UIPARAM_DDR_BOARD_DELAY0": "0.223", "PCW_UIPARAM_DDR_BOARD_DELAY1": "0.212",
    "PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_0": "0.040", "PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_1": "0.058",
    "PCW_PRESET_BANK0_VOLTAGE": "LVCMOS 3.3V", "PCW_PRESET_BANK1_VOLTAGE": "LVCMOS 1.8V",
    "PCW_QSPI_QSPI_IO": "MIO 1 .. 6", "PCW_QSPI_GRP_FBCLK_IO": "MIO 8", "PCW_UART0_UART0_IO": "MIO 14 .. 15",
    "PCW_ENET0_ENET0_IO": "MIO 16 .. 27", "PCW_ENET0_GRP_MDIO_IO": "MIO 52 .. 53", "PCW_USB0_USB0_IO": "MIO 28 .. 39",
    "PCW_SD0_SD0_IO": "MIO 40 .. 45", "PCW_SD0_GRP_CD_IO": "MIO 47", "PCW_I2C0_I2C0_IO": "MIO 50 .. 51",
    "PCW_IRQ_F2P_INTR": "1", "PCW_IRQ_F2P_MODE": "DIRECT",
}


def _tcl_commands(text: str) -> list[str]:
    """Logical commands of a Tcl script: comments dropped, backslash-newline continuations joined."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _cell_config(cmds: list[str], cell_var: str) -> dict[str, str]:
    """CONFIG.* values that `set_property -dict [list ...] $cell_var` commands set (later ones win)."""
    out = {}
    for c in cmds:
        if c.startswith("set_property -dict") and c.rstrip().endswith(f"${cell_var}"):
            for k, v in re.findall(r"CONFIG\.(\w+) (\{[^}]*\}|\$\w+)", c):
                out[k] = v.strip("{}")
    return out


def _nets(cmds: list[str]) -> list[tuple[str, str]]:
    """(pin, pin) of every connect_bd_net between two literal pins (loops over $pin variables are skipped)."""
    pairs = [tuple(re.findall(r"get_bd_pins ([\w/]+)\]", c)) for c in cmds if c.startswith("connect_bd_net ")]
    return [p for p in pairs if len(p) == 2]


def test_vivado_flow_one_interrupt_through_an_axi_intc(small_build):
    _, out = small_build
    cmds = _tcl_commands((out / "block_design.tcl").read_text())
    nets = _nets(cmds)
    into_f2p = [a for a, b in nets if b == "ps7/IRQ_F2P"] + [b for a, b in nets if a == "ps7/IRQ_F2P"]
    assert into_f2p == ["axi_intc_0/irq"], into_f2p  # exactly one driver: the interrupt controller
    assert any("xilinx.com:ip:axi_intc:4.1 axi_intc_0" in c for c in cmds)
    assert ("irq_concat/dout", "axi_intc_0/intr") in nets
    sources = sorted(a for a, b in nets if b.startswith("irq_concat/In"))
    assert sources == ["axi_dma_0/mm2s_introut", "axi_dma_0/s2mm_introut", "osc_core_0/irq"]
    # the controller is reachable from GP0 at the configured address
    assert any("sc_gp0/M02_AXI] [get_bd_intf_pins axi_intc_0/s_axi]" in c for c in cmds)
    assert any(c.startswith("assign_bd_address -offset $INTC_BASE") and "axi_intc_0/s_axi" in c for c in cmds)
    cfg = (out / "build_config.tcl").read_text()
    from bitstreams.board_config import CONFIGS

    assert f"set INTC_BASE 0x{CONFIGS['pynq-z2'].intc_base:08X}" in cfg


def test_vivado_flow_ps7_matches_pynq_base_overlay(small_build):
    _, out = small_build
    cmds = _tcl_commands((out / "block_design.tcl").read_text())
    ps7 = _cell_config(cmds, "ps7")
    wrong = {k: (ps7.get(k), v) for k, v in PYNQ_Z2_PS7.items() if ps7.get(k) != v}
    assert not wrong, f"PS7 settings differ from PYNQ's PYNQ-Z2 base overlay (got, want): {wrong}"
    assert not any('apply_board_preset "1"' in c for c in cmds)  # no generic preset overriding the above
    assert ps7["PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "$FCLK0_MHZ"


def test_vivado_flow_core_clock_follows_fclk0(small_build, tmp_path):
    from dataclasses import replace

    from bitstreams.build import CONFIGS, build_config_tcl

    _, out = small_build
    wrapper = (out / "osc_core_wrapper.v").read_text()
    assert "FREQ_HZ" not in re.sub(r"//.*", "", wrapper)  # no hard-coded clock in the wrapper
    cmds = _tcl_commands((out / "block_design.tcl").read_text())
    i_get = next(i for i, c in enumerate(cmds) if c == "set fclk0_hz [get_property CONFIG.FREQ_HZ [get_bd_pins ps7/FCLK_CLK0]]")
    i_set = next(i for i, c in enumerate(cmds) if c == "set_property CONFIG.FREQ_HZ $fclk0_hz [get_bd_pins osc_core_0/aclk]")
    i_ps7 = max(i for i, c in enumerate(cmds) if "PCW_FPGA0_PERIPHERAL_FREQMHZ $FCLK0_MHZ" in c)
    assert i_ps7 < i_get < i_set
    assert "set FCLK0_MHZ 100" in (out / "build_config.tcl").read_text()
    assert "set FCLK0_MHZ 125" in build_config_tcl(replace(CONFIGS["pynq-z2"], fclk0_mhz=125.0), 4)


def test_vivado_flow_signs_off_before_the_bitstream(small_build):
    _, out = small_build
    cmds = _tcl_commands((out / "build_bitstream.tcl").read_text())

    def first(pred):
        return next(i for i, c in enumerate(cmds) if pred(c))

    assert not any("-to_step write_bitstream" in c for c in cmds)
    i_impl = first(lambda c: c.startswith("launch_runs impl_1") and "-to_step route_design" in c)
    i_drc = first(lambda c: c.startswith("report_drc"))
    i_meth = first(lambda c: c.startswith("report_methodology"))
    i_setup = first(lambda c: "get_timing_paths -delay_type max" in c)
    i_hold = first(lambda c: "get_timing_paths -delay_type min" in c)
    i_wns = first(lambda c: c.startswith("if {$wns < 0}"))
    i_whs = first(lambda c: c.startswith("if {$whs < 0}"))
    i_drc_chk = first(lambda c: "get_drc_violations" in c)
    i_meth_chk = first(lambda c: "get_methodology_violations" in c)
    i_fail = first(lambda c: 'error "sign-off checks failed' in c)
    i_bit = first(lambda c: c.startswith("write_bitstream"))
    assert i_impl < min(i_drc, i_meth, i_setup, i_hold)
    assert max(i_wns, i_whs, i_drc_chk, i_meth_chk) < i_fail < i_bit
    assert sum(c.startswith("write_bitstream") for c in cmds) == 1


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_vivado_tcl_scripts_are_complete_tcl(small_build, tmp_path):
    """Each generated script is one complete Tcl script (balanced braces, brackets and quotes) for tclsh."""
    import subprocess

    _, out = small_build
    for name in ("block_design.tcl", "build_bitstream.tcl", "build_config.tcl"):
        script = f'set f [open {{{out / name}}}]; set t [read $f]; close $f; puts [info complete $t]'
        res = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "1", (name, res.stdout, res.stderr)


# ---- the streamed-K variant (issue 11 item 7): parsed from the generated Tcl --------------------------------------
STREAMED_SMALL = HardwareParams(256, 1, 64, FORMATS["pynq-z2-n1024"], batch=2, k_source="ddr", k_ports=2)


@pytest.fixture(scope="module")
def streamed_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("streamed")
    rc = main(["--config", "pynq-z2", "--n", "256", "--n-cond", "1", "--lanes", "64", "--format", "pynq-z2-n1024",
               "--k-source", "ddr", "--batch", "2", "--skip-resources", "--vivado", "", "--out", str(out)])
    return rc, out


def _tcl_vars(build_config: str) -> dict[str, str]:
    return dict(re.findall(r"^set (\w+) (\S+)$", build_config, re.M))


def _subst(text: str, variables: dict[str, str]) -> str:
    """Substitute ${NAME} and $NAME of build_config.tcl's variables (the others stay)."""
    for k in sorted(variables, key=len, reverse=True):
        text = text.replace("${" + k + "}", variables[k])
        text = re.sub(rf"\${k}\b", variables[k], text)
    return text


def test_streamed_build_writes_its_variant(streamed_build):
    from bitstreams.board_config import CONFIGS

    rc, out = streamed_build
    assert rc == 0
    name = CONFIGS["pynq-z2"].bitstream_name(STREAMED_SMALL)
    assert name == "osc_pynq_z2_ddr_n256_m1_b2"
    for rel in ("rtl/osc_core.v", "osc_core_wrapper.v", "block_design.tcl", "block_design_k_ddr.tcl",
                "build_bitstream.tcl", "build_config.tcl", f"{name}.json"):
        assert (out / rel).is_file(), rel
    man = json.loads((out / f"{name}.json").read_text())
    assert HardwareParams.from_dict(man["params"]) == STREAMED_SMALL
    assert (man["variant"], man["batch"], man["k_ports"]) == ("ddr", 2, 2)
    assert man["k_hp_ports"] == {"m_axi0": "S_AXI_HP1", "m_axi1": "S_AXI_HP2"}
    assert man["serves"] == {"n": 256, "n_cond": 1, "models": []} and man["largest_model"] is None
    for rel, h in man["files"].items():
        assert file_sha256(out / rel) == h, rel
    assert "block_design_k_ddr.tcl" in man["files"]
    v = _tcl_vars((out / "build_config.tcl").read_text())
    assert (v["K_PORTS"], v["K0_HP"], v["K1_HP"], v["DDR_BASE"], v["DDR_RANGE"]) == \
        ("2", "HP1", "HP2", "0x00000000", "0x20000000")


def test_onchip_build_has_no_k_masters(small_build):
    _, out = small_build
    assert _tcl_vars((out / "build_config.tcl").read_text())["K_PORTS"] == "0"
    assert not (out / "block_design_k_ddr.tcl").exists()
    man = json.loads((out / "osc_pynq_z2_n64_l8.json").read_text())
    assert (man["variant"], man["batch"], man["k_ports"], man["k_hp_ports"]) == ("bram", 1, 0, {})


def test_streamed_core_matches_its_wrapper(streamed_build):
    from bitstreams.build import wrapper_ports

    _, out = streamed_build
    ports = top_ports(out / "rtl" / "osc_core.v", "osc_core")
    assert ports == wrapper_ports(STREAMED_SMALL) and "m_axi1_rdata" in ports and "m_axi2_rdata" not in ports
    check_core_ports(out / "rtl" / "osc_core.v", "osc_core", STREAMED_SMALL)
    with pytest.raises(ValueError, match="does not match the Vivado wrapper"):  # the on-chip list lacks the masters
        check_core_ports(out / "rtl" / "osc_core.v", "osc_core")
    text = (out / "osc_core_wrapper.v").read_text()
    decl = re.findall(r"^\s*(input|output)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+),?\s*$", text, re.M)
    got = {name: (d, int(hi) + 1 if hi else 1) for d, hi, name in decl}
    expect = {("aclk" if k == "clk" else "aresetn" if k == "rst" else k): v
              for k, v in wrapper_ports(STREAMED_SMALL).items()}
    assert got == expect
    assert re.search(r"^module osc_core_wrapper \($", text, re.M)  # same module, so the same VLNV for the host
    assert "ASSOCIATED_BUSIF s_axil:s_axis:m_axis:m_axi0:m_axi1," in text
    for q in range(2):
        assert text.count(f"aximm:1.0 m_axi{q} ") == 16
        assert re.search(rf'm_axi{q} ARID" \*\)\n\s*\(\* X_INTERFACE_PARAMETER = "PROTOCOL AXI4, READ_WRITE_MODE '
                         r'READ_ONLY, DATA_WIDTH 64, ADDR_WIDTH 32, ID_WIDTH 1, MAX_BURST_LENGTH 16', text)
        assert f".m_axi{q}_rdata(m_axi{q}_rdata)" in text
    # every line of the on-chip wrapper's port list is repeated unchanged (but the clock's bus list)
    onchip = (BOARD_DIR / "osc_core_wrapper.v").read_text()
    shared = onchip.split("module osc_core_wrapper (")[1].split("    output wire        irq")[0]
    assert shared.replace("m_axis,", "m_axis:m_axi0:m_axi1,") in text


def test_streamed_vivado_flow_reaches_ddr_over_two_hp_ports(streamed_build):
    _, out = streamed_build
    v = _tcl_vars((out / "build_config.tcl").read_text())
    bd = _tcl_commands((out / "block_design.tcl").read_text())
    k = _tcl_commands(_subst((out / "block_design_k_ddr.tcl").read_text(), v))
    # block_design.tcl sources the K part only for a streamed build, before validating the design
    i_src = next(i for i, c in enumerate(bd) if c == "source [file join $build_dir block_design_k_ddr.tcl]")
    assert bd[i_src - 1] == "if {$K_PORTS > 0} {"
    assert i_src < next(i for i, c in enumerate(bd) if c == "validate_bd_design")
    # PS7: HP1 and HP2 enabled in 64-bit mode (HP0 stays the DMA's)
    ps7 = _cell_config(k, "ps7")
    assert ps7 == {"PCW_USE_S_AXI_HP1": "1", "PCW_S_AXI_HP1_DATA_WIDTH": "64", "PCW_USE_S_AXI_HP2": "1",
                   "PCW_S_AXI_HP2_DATA_WIDTH": "64"}
    assert _cell_config(bd, "ps7")["PCW_USE_S_AXI_HP0"] == "1"
    # each master -> its own SmartConnect (1 SI, 1 MI) -> its HP port; nothing else on those ports
    intf = [tuple(re.findall(r"get_bd_intf_pins ([\w/]+)\]", c)) for c in bd + k if c.startswith("connect_bd_intf_net")]
    for q, hp in ((0, "HP1"), (1, "HP2")):
        assert f"xilinx.com:ip:smartconnect:1.0 sc_k{q}]" in " ".join(k)
        assert _cell_config(k, f"sc_k{q}") == {"NUM_SI": "1", "NUM_MI": "1"}
        assert (f"osc_core_0/m_axi{q}", f"sc_k{q}/S00_AXI") in intf
        assert [a for a, b in intf if b == f"ps7/S_AXI_{hp}"] == [f"sc_k{q}/M00_AXI"]
        assert sum(f"osc_core_0/m_axi{q}" in pair for pair in intf) == 1
    assert [a for a, b in intf if b == "ps7/S_AXI_HP0"] == ["sc_hp0/M00_AXI"]  # the DMA's, as on chip
    # clocks from FCLK0, resets from the shared proc_sys_reset
    nets = _nets(k)
    for pin in ("ps7/S_AXI_HP1_ACLK", "ps7/S_AXI_HP2_ACLK", "sc_k0/aclk", "sc_k1/aclk"):
        assert ("ps7/FCLK_CLK0", pin) in nets, pin
    for pin in ("sc_k0/aresetn", "sc_k1/aresetn"):
        assert ("rst_fclk0/peripheral_aresetn", pin) in nets, pin
    # address map: each master sees all 512 MiB of DDR through its own port
    for q, hp in ((0, "HP1"), (1, "HP2")):
        cmd = next(c for c in k if c.startswith("assign_bd_address") and f"osc_core_0/m_axi{q}]" in c)
        assert "-offset 0x00000000 -range 0x20000000" in cmd and f"ps7/S_AXI_{hp}/{hp}_DDR_LOWOCM]" in cmd
    # the interrupt stays one line into IRQ_F2P through the AXI interrupt controller; the K part adds no source
    all_nets = _nets(bd) + nets
    assert [a for a, b in all_nets if b == "ps7/IRQ_F2P"] == ["axi_intc_0/irq"]
    assert not any("irq" in a or "irq" in b for a, b in nets)


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_streamed_tcl_is_complete_tcl(streamed_build):
    import subprocess

    _, out = streamed_build
    for name in ("block_design.tcl", "block_design_k_ddr.tcl", "build_config.tcl"):
        script = f'set f [open {{{out / name}}}]; set t [read $f]; close $f; puts [info complete $t]'
        res = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "1", (name, res.stdout, res.stderr)


def test_build_params_from_a_model_and_refusals(capsys):
    from types import SimpleNamespace

    from bitstreams.build import build_params
    from bitstreams.board_config import CONFIGS
    from bitstreams.streamed import pynq_z2_build

    none = dict(n=None, n_cond=None, lanes=None, format=None, k_source=None, batch=None)
    cfg = CONFIGS["pynq-z2"]
    assert build_params(cfg, SimpleNamespace(model="cifar10-n1024", **none)) == cfg.params
    need = build_params(cfg, SimpleNamespace(model="imagenet64-n6656", **none))
    assert need == pynq_z2_build(6656, 1, "imagenet64") and need.k_streamed and need.k_ports == 2
    with pytest.raises(ValueError, match="--model: unknown model config"):
        build_params(cfg, SimpleNamespace(model="imagenet64-n9999", **none))
    with pytest.raises(SystemExit) as e:
        main(["--config", "pynq-z2", "--batch", "2", "--skip-resources", "--vivado", ""])
    assert e.value.code == 2 and "--batch needs --k-source ddr" in capsys.readouterr().err
