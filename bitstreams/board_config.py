"""Board configurations: the facts the Vivado build, the host drivers and the roadmap share (pure Python).

The PS-side addresses and the PL clock chosen here go into the block design (bitstreams/build.py) and are
what the host's simulated overlay (host/boards/simdevice.py) and the pynq-z2 board (host/boards/pynq_z2.py) use.
"""
from __future__ import annotations

from dataclasses import dataclass

from fixedpoint.spec import PYNQ_Z2, HardwareParams


#: The Vivado sources in bitstreams/<tcl_dir>/ that bitstreams.build copies into a build (the wrapper and the Tcl
#: that make the block design and the bitstream); the manifest hashes them with the Python the build imports.
VIVADO_SOURCES = ("osc_core_wrapper.v", "block_design.tcl", "build_bitstream.tcl")


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

    @property
    def core_vlnv(self) -> str:
        """The core's VLNV as the .hwh records it and pynq's ip_dict reports it: IP Integrator gives an RTL
        module reference (create_bd_cell -type module -reference) the VLNV xilinx.com:module_ref:<module>:1.0
        (UG994, "Referencing RTL Modules"). host.pynq_driver.OscillatorCore binds to it."""
        return f"xilinx.com:module_ref:{self.wrapper_module}:1.0"


CONFIGS = {
    # Addresses: the GP0 window starts at 0x4000_0000 (hardware.md §3); 0x4040_0000 is where Vivado's
    # address editor usually puts the first AXI DMA.
    "pynq-z2": BoardConfig("osc_pynq_z2", PYNQ_Z2, "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", 100.0,
                           0x4000_0000, 0x4040_0000, "pynq-z2"),
}
