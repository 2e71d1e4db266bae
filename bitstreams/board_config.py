"""Board configurations: the facts the Vivado build, the host drivers and the roadmap share (pure Python).

The PS-side addresses and the PL clock chosen here go into the block design (bitstreams/build.py) and are
what the host's simulated overlay (host/boards/simdevice.py) and the pynq-z2 board (host/boards/pynq_z2.py) use.
"""
from __future__ import annotations

from dataclasses import dataclass

from fixedpoint.spec import PYNQ_Z2, HardwareParams


#: The Vivado sources in bitstreams/<tcl_dir>/ that bitstreams.build copies into a build (the wrapper and the Tcl
#: that make the block design and the bitstream), as {source file: name in the build directory}: the on-chip-K
#: build's, and the streamed-K build's (its wrapper adds the K read masters; block_design_k_ddr.tcl connects them).
ONCHIP_VIVADO_FILES = {"osc_core_wrapper.v": "osc_core_wrapper.v", "block_design.tcl": "block_design.tcl",
                       "build_bitstream.tcl": "build_bitstream.tcl"}
STREAMED_VIVADO_FILES = {"osc_core_wrapper_k_ddr.v": "osc_core_wrapper.v", "block_design.tcl": "block_design.tcl",
                         "build_bitstream.tcl": "build_bitstream.tcl", "block_design_k_ddr.tcl": "block_design_k_ddr.tcl"}
#: Every Vivado source of either variant; the manifest hashes them with the Python the build imports.
VIVADO_SOURCES = tuple(sorted(set(ONCHIP_VIVADO_FILES) | set(STREAMED_VIVADO_FILES)))


def vivado_files(params: HardwareParams) -> dict[str, str]:
    """{source in bitstreams/<tcl_dir>/: name in the build directory} of the Vivado files a build of `params` uses."""
    return STREAMED_VIVADO_FILES if params.k_streamed else ONCHIP_VIVADO_FILES


@dataclass(frozen=True)
class BoardConfig:
    name: str  # output base name: <name>.bit / .hwh / .json
    params: HardwareParams
    part: str
    board_part: str
    fclk0_mhz: float
    core_base: int
    dma_base: int
    tcl_dir: str  # bitstreams/<dir> with the wrapper and Tcl
    #: the core's block-design cell (block_design.tcl) and so its attribute on pynq.Overlay: overlay.osc_core_0
    core_instance: str = "osc_core_0"
    #: the Verilog module the block design references (bitstreams/<tcl_dir>/osc_core_wrapper.v)
    wrapper_module: str = "osc_core_wrapper"
    intc_base: int = 0x4180_0000  # AXI interrupt controller (PYNQ's base overlay puts its axi_intc here)
    #: DDR as the PS7's HP ports see it (hardware.md §1/§8: 512 MiB DDR3 from 0x0000_0000); the streamed-K build's
    #: K read masters get this whole window, where pynq.allocate's buffers live
    ddr_base: int = 0x0000_0000
    ddr_bytes: int = 512 << 20
    #: PS7 HP port (S_AXI_<port>) of each K read master m_axi<q> of a streamed-K build (block_design_k_ddr.tcl).
    #: HP0/HP1 share one path into the DDR controller and HP2/HP3 the other (UG585 ch. 5, "PS interconnect"), so
    #: the two K planes go to HP1 and HP2 (one per DDR controller port); the AXI DMA keeps HP0 as in the on-chip
    #: build (block_design.tcl; it moves words only before START and after DONE, never while K streams).
    k_hp_ports: tuple[str, ...] = ("HP1", "HP2")

    @property
    def core_vlnv(self) -> str:
        """The core's VLNV as the .hwh records it and pynq's ip_dict reports it: IP Integrator gives an RTL
        module reference (create_bd_cell -type module -reference) the VLNV xilinx.com:module_ref:<module>:1.0
        (UG994, "Referencing RTL Modules"). host.pynq_driver.OscillatorCore binds to it."""
        return f"xilinx.com:module_ref:{self.wrapper_module}:1.0"

    def bitstream_name(self, params: HardwareParams) -> str:
        """<name> of the .bit/.hwh/.json set for a core build on this board: `name` for the board's recorded build,
        `<name>_ddr_n<n>_m<n_cond>_b<batch>` for a streamed-K build, `<name>_n<n>_l<lanes>` for any other."""
        if params == self.params:
            return self.name
        if params.k_streamed:
            return f"{self.name}_ddr_n{params.n}_m{params.n_cond}_b{params.batch}"
        return f"{self.name}_n{params.n}_l{params.lanes}"


def build_variant(params: HardwareParams) -> str:
    """The build family in words, for messages: "the streamed-K build (K in DDR over 2 HP ports, batch 3)" or
    "the on-chip-K build"."""
    if params.k_streamed:
        return f"the streamed-K build (K in DDR over {params.k_ports} HP ports, batch {params.batch})"
    return "the on-chip-K build"


CONFIGS = {
    # Addresses: the GP0 window starts at 0x4000_0000 (hardware.md §3); 0x4040_0000 is where Vivado's
    # address editor usually puts the first AXI DMA.
    "pynq-z2": BoardConfig("osc_pynq_z2", PYNQ_Z2, "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", 100.0,
                           0x4000_0000, 0x4040_0000, "pynq-z2"),
}
