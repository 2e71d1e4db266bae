# Block design for the PYNQ-Z2 (xc7z020clg400-1): Zynq PS7 + AXI DMA (simple mode) + the oscillator core.
#
#   PS7 M_AXI_GP0 -> SmartConnect (1 SI, 2 MI) -> osc_core_0/s_axil  @ $CORE_BASE (4 KiB)
#                                              -> axi_dma_0/S_AXI_LITE @ $DMA_BASE (64 KiB)
#   axi_dma_0 M_AXI_MM2S + M_AXI_S2MM -> SmartConnect (2 SI, 1 MI) -> PS7 S_AXI_HP0 (DDR)
#   axi_dma_0/M_AXIS_MM2S -> osc_core_0/s_axis ;  osc_core_0/m_axis -> axi_dma_0/S_AXIS_S2MM
#   {osc_core irq, dma mm2s_introut, dma s2mm_introut} -> xlconcat -> PS7 IRQ_F2P[2:0]
#   FCLK_CLK0 = $FCLK0_MHZ MHz clocks everything; proc_sys_reset makes the synchronous resets.
#
# Expects (from build_config.tcl, written by `python -m bitstreams.build`): BD_NAME, FCLK0_MHZ, CORE_BASE,
# DMA_BASE, WRAPPER_MODULE. Sourced by build_bitstream.tcl after the sources are added to the project.
# Property names and values: PS7 = PG082 (Processing System 7) + UG585; AXI DMA = PG021 v7.1;
# SmartConnect = PG247; Processor System Reset = PG164; Concat = xlconcat (IP catalog, "Concat").
# UNTESTED: no Vivado was available where this was written (docs/bitstreams.md).

create_bd_design $BD_NAME

# ---- Zynq PS7 ------------------------------------------------------------------------------------------
set ps7 [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7]
if {[llength [get_board_parts -quiet *pynq-z2*]] > 0 && [get_property BOARD_PART [current_project]] ne ""} {
    # With the TUL pynq-z2 board files installed the board preset sets MIO, DDR and clocks.
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps7
} else {
    # No board files: the DDR3 part of the PYNQ-Z2 (MT41K256M16 RE-125, 16-bit bus, 533 MHz, as in the
    # PYNQ base overlay's base.tcl) and a 50 MHz PS crystal [unverified against the TUL manual].
    set_property -dict [list \
        CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ {50} \
        CONFIG.PCW_APU_PERIPHERAL_FREQMHZ {650} \
        CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE {DDR 3} \
        CONFIG.PCW_UIPARAM_DDR_PARTNO {MT41K256M16 RE-125} \
        CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH {16 Bit} \
        CONFIG.PCW_UIPARAM_DDR_FREQ_MHZ {533.333333} \
    ] $ps7
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "0" Master "Disable" Slave "Disable"} $ps7
}
# GP0 master for registers, HP0 slave (64-bit, UG585 Table 22-8: ~1.2 GB/s) for the DMA, FCLK0, PL->PS IRQs.
set_property -dict [list \
    CONFIG.PCW_USE_M_AXI_GP0 {1} \
    CONFIG.PCW_USE_S_AXI_HP0 {1} \
    CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64} \
    CONFIG.PCW_EN_CLK0_PORT {1} \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $FCLK0_MHZ \
    CONFIG.PCW_EN_RST0_PORT {1} \
    CONFIG.PCW_USE_FABRIC_INTERRUPT {1} \
    CONFIG.PCW_IRQ_F2P_INTR {1} \
] $ps7

# ---- reset, interconnects, DMA, core, interrupt concat -----------------------------------------------
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_fclk0]

set sc_gp [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc_gp0]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {2}] $sc_gp
set sc_hp [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc_hp0]
set_property -dict [list CONFIG.NUM_SI {2} CONFIG.NUM_MI {1}] $sc_hp

# AXI DMA in Direct Register ("simple") mode: no scatter-gather engine (PG021 "Enable Scatter Gather
# Engine" unchecked = c_include_sg 0); 26-bit length register (max 64 MiB per transfer, PG021
# "Width of Buffer Length Register"); 32-bit streams matching the core; both channels enabled.
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0]
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {1} \
    CONFIG.c_m_axi_mm2s_data_width {32} \
    CONFIG.c_m_axis_mm2s_tdata_width {32} \
    CONFIG.c_m_axi_s2mm_data_width {32} \
    CONFIG.c_s_axis_s2mm_tdata_width {32} \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_s2mm_burst_size {16} \
] $dma

# The core as a module reference (RTL added to the project by build_bitstream.tcl).
set core [create_bd_cell -type module -reference $WRAPPER_MODULE osc_core_0]

set irqs [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat:2.1 irq_concat]
set_property -dict [list CONFIG.NUM_PORTS {3}] $irqs

# ---- clocks and resets ---------------------------------------------------------------------------------
set fclk [get_bd_pins ps7/FCLK_CLK0]
foreach pin {ps7/M_AXI_GP0_ACLK ps7/S_AXI_HP0_ACLK sc_gp0/aclk sc_hp0/aclk axi_dma_0/s_axi_lite_aclk
             axi_dma_0/m_axi_mm2s_aclk axi_dma_0/m_axi_s2mm_aclk osc_core_0/aclk rst_fclk0/slowest_sync_clk} {
    connect_bd_net $fclk [get_bd_pins $pin]
}
connect_bd_net [get_bd_pins ps7/FCLK_RESET0_N] [get_bd_pins rst_fclk0/ext_reset_in]
foreach pin {sc_gp0/aresetn sc_hp0/aresetn axi_dma_0/axi_resetn osc_core_0/aresetn} {
    connect_bd_net [get_bd_pins rst_fclk0/peripheral_aresetn] [get_bd_pins $pin]
}

# ---- buses ---------------------------------------------------------------------------------------------
connect_bd_intf_net [get_bd_intf_pins ps7/M_AXI_GP0] [get_bd_intf_pins sc_gp0/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_gp0/M00_AXI] [get_bd_intf_pins osc_core_0/s_axil]
connect_bd_intf_net [get_bd_intf_pins sc_gp0/M01_AXI] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_MM2S] [get_bd_intf_pins sc_hp0/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_S2MM] [get_bd_intf_pins sc_hp0/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_hp0/M00_AXI] [get_bd_intf_pins ps7/S_AXI_HP0]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins osc_core_0/s_axis]
connect_bd_intf_net [get_bd_intf_pins osc_core_0/m_axis] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]

# ---- interrupts: In0 = core, In1 = DMA MM2S, In2 = DMA S2MM -> IRQ_F2P[0..2] ------------------------------
connect_bd_net [get_bd_pins osc_core_0/irq] [get_bd_pins irq_concat/In0]
connect_bd_net [get_bd_pins axi_dma_0/mm2s_introut] [get_bd_pins irq_concat/In1]
connect_bd_net [get_bd_pins axi_dma_0/s2mm_introut] [get_bd_pins irq_concat/In2]
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps7/IRQ_F2P]

# ---- address map: fixed addresses in the GP0 window (0x4000_0000-0x7FFF_FFFF) ----------------------------
assign_bd_address -offset $CORE_BASE -range 0x00001000 -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins osc_core_0/s_axil]]
assign_bd_address -offset $DMA_BASE -range 0x00010000 -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins axi_dma_0/S_AXI_LITE]]
# The DMA reaches all of DDR through HP0.
assign_bd_address -target_address_space [get_bd_addr_spaces axi_dma_0/Data_MM2S] \
    [get_bd_addr_segs ps7/S_AXI_HP0/HP0_DDR_LOWOCM]
assign_bd_address -target_address_space [get_bd_addr_spaces axi_dma_0/Data_S2MM] \
    [get_bd_addr_segs ps7/S_AXI_HP0/HP0_DDR_LOWOCM]

validate_bd_design
save_bd_design
