# Block design for the PYNQ-Z2 (xc7z020clg400-1): Zynq PS7 + AXI DMA (simple mode) + the oscillator core.
#
#   PS7 M_AXI_GP0 -> SmartConnect (1 SI, 3 MI) -> osc_core_0/s_axil      @ $CORE_BASE (4 KiB)
#                                              -> axi_dma_0/S_AXI_LITE   @ $DMA_BASE (64 KiB)
#                                              -> axi_intc_0/s_axi       @ $INTC_BASE (64 KiB)
#   axi_dma_0 M_AXI_MM2S + M_AXI_S2MM -> SmartConnect (2 SI, 1 MI) -> PS7 S_AXI_HP0 (DDR)
#   axi_dma_0/M_AXIS_MM2S -> osc_core_0/s_axis ;  osc_core_0/m_axis -> axi_dma_0/S_AXIS_S2MM
#   {osc_core irq, dma mm2s_introut, dma s2mm_introut} -> xlconcat -> axi_intc_0 -> PS7 IRQ_F2P (one line)
#   FCLK_CLK0 = $FCLK0_MHZ MHz clocks everything; proc_sys_reset makes the synchronous resets.
#
# Interrupts: PYNQ's interrupt support (pynq.Interrupt) walks from a pin through an AXI interrupt controller to
# IRQ_F2P, and the PYNQ image's device tree has one UIO node for IRQ_F2P[0]; so all three sources go through one
# axi_intc whose single irq output drives IRQ_F2P, as in PYNQ's own base overlay (system_interrupts).
# PS7: the settings of PYNQ's PYNQ-Z2 base overlay (Xilinx/PYNQ boards/Pynq-Z2/base/base.tcl, the 2020.1 script):
# DDR3 MT41K256M16 RE-125 entered as "Custom" with its DDR3-1066F timing at 525 MHz on a 16-bit bus, the board's
# trace delays, and the MIO map (QSPI, UART0, Ethernet 0, USB 0, SD 0, I2C 0) that the PYNQ Linux image expects.
#
# Expects (from build_config.tcl, written by `python -m bitstreams.build`): BD_NAME, FCLK0_MHZ, CORE_BASE,
# DMA_BASE, INTC_BASE, WRAPPER_MODULE, K_PORTS (0: K on chip; 2: the streamed-K build, whose K read masters
# block_design_k_ddr.tcl connects), and build_dir (build_bitstream.tcl). Sourced by build_bitstream.tcl after the sources are added to the project.
# Property names and values: PS7 = PG082 (Processing System 7) + UG585; AXI DMA = PG021 v7.1;
# AXI INTC = PG099 v4.1; SmartConnect = PG247; Processor System Reset = PG164; Concat = xlconcat.
# UNTESTED: no Vivado was available where this was written (docs/bitstreams.md).

create_bd_design $BD_NAME

# ---- Zynq PS7 ------------------------------------------------------------------------------------------
set ps7 [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7]
# DDR and FIXED_IO external; no board preset (the explicit PYNQ settings below are the single source).
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {make_external "FIXED_IO, DDR" apply_board_preset "0" Master "Disable" Slave "Disable"} $ps7
# Clocks and DDR3 (PYNQ base.tcl values).
set_property -dict [list \
    CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ {50} \
    CONFIG.PCW_APU_PERIPHERAL_FREQMHZ {650} \
    CONFIG.PCW_UIPARAM_DDR_ENABLE {1} \
    CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE {DDR 3} \
    CONFIG.PCW_UIPARAM_DDR_PARTNO {Custom} \
    CONFIG.PCW_UIPARAM_DDR_DEVICE_CAPACITY {4096 MBits} \
    CONFIG.PCW_UIPARAM_DDR_DRAM_WIDTH {16 Bits} \
    CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH {16 Bit} \
    CONFIG.PCW_UIPARAM_DDR_ECC {Disabled} \
    CONFIG.PCW_UIPARAM_DDR_SPEED_BIN {DDR3_1066F} \
    CONFIG.PCW_UIPARAM_DDR_FREQ_MHZ {525} \
    CONFIG.PCW_UIPARAM_DDR_BANK_ADDR_COUNT {3} \
    CONFIG.PCW_UIPARAM_DDR_ROW_ADDR_COUNT {15} \
    CONFIG.PCW_UIPARAM_DDR_COL_ADDR_COUNT {10} \
    CONFIG.PCW_UIPARAM_DDR_BL {8} \
    CONFIG.PCW_UIPARAM_DDR_CL {7} \
    CONFIG.PCW_UIPARAM_DDR_CWL {6} \
    CONFIG.PCW_UIPARAM_DDR_AL {0} \
    CONFIG.PCW_UIPARAM_DDR_T_RCD {13.125} \
    CONFIG.PCW_UIPARAM_DDR_T_RP {13.125} \
    CONFIG.PCW_UIPARAM_DDR_T_RC {50.625} \
    CONFIG.PCW_UIPARAM_DDR_T_RAS_MIN {35.0} \
    CONFIG.PCW_UIPARAM_DDR_T_FAW {40.0} \
    CONFIG.PCW_UIPARAM_DDR_HIGH_TEMP {Normal (0-85)} \
    CONFIG.PCW_UIPARAM_DDR_USE_INTERNAL_VREF {0} \
    CONFIG.PCW_UIPARAM_DDR_TRAIN_WRITE_LEVEL {1} \
    CONFIG.PCW_UIPARAM_DDR_TRAIN_READ_GATE {1} \
    CONFIG.PCW_UIPARAM_DDR_TRAIN_DATA_EYE {1} \
    CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY0 {0.223} \
    CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY1 {0.212} \
    CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY2 {0.085} \
    CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY3 {0.092} \
    CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_0 {0.040} \
    CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_1 {0.058} \
    CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_2 {0.000} \
    CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_3 {0.000} \
    CONFIG.PCW_UIPARAM_DDR_CLOCK_0_LENGTH_MM {25.8} \
    CONFIG.PCW_UIPARAM_DDR_CLOCK_1_LENGTH_MM {25.8} \
    CONFIG.PCW_UIPARAM_DDR_DQS_0_LENGTH_MM {15.6} \
    CONFIG.PCW_UIPARAM_DDR_DQS_1_LENGTH_MM {18.8} \
    CONFIG.PCW_UIPARAM_DDR_DQ_0_LENGTH_MM {16.5} \
    CONFIG.PCW_UIPARAM_DDR_DQ_1_LENGTH_MM {18} \
] $ps7
# MIO map and bank voltages (PYNQ base.tcl values): what the PYNQ Linux image's device tree expects.
set_property -dict [list \
    CONFIG.PCW_PRESET_BANK0_VOLTAGE {LVCMOS 3.3V} \
    CONFIG.PCW_PRESET_BANK1_VOLTAGE {LVCMOS 1.8V} \
    CONFIG.PCW_QSPI_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_QSPI_QSPI_IO {MIO 1 .. 6} \
    CONFIG.PCW_QSPI_GRP_SINGLE_SS_ENABLE {1} \
    CONFIG.PCW_QSPI_GRP_SINGLE_SS_IO {MIO 1 .. 6} \
    CONFIG.PCW_QSPI_GRP_FBCLK_ENABLE {1} \
    CONFIG.PCW_QSPI_GRP_FBCLK_IO {MIO 8} \
    CONFIG.PCW_QSPI_PERIPHERAL_FREQMHZ {200} \
    CONFIG.PCW_UART0_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_UART0_UART0_IO {MIO 14 .. 15} \
    CONFIG.PCW_UART0_BAUD_RATE {115200} \
    CONFIG.PCW_UART_PERIPHERAL_FREQMHZ {100} \
    CONFIG.PCW_ENET0_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_ENET0_ENET0_IO {MIO 16 .. 27} \
    CONFIG.PCW_ENET0_GRP_MDIO_ENABLE {1} \
    CONFIG.PCW_ENET0_GRP_MDIO_IO {MIO 52 .. 53} \
    CONFIG.PCW_ENET0_PERIPHERAL_FREQMHZ {1000 Mbps} \
    CONFIG.PCW_USB0_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_USB0_USB0_IO {MIO 28 .. 39} \
    CONFIG.PCW_USB0_RESET_ENABLE {0} \
    CONFIG.PCW_SD0_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_SD0_SD0_IO {MIO 40 .. 45} \
    CONFIG.PCW_SD0_GRP_CD_ENABLE {1} \
    CONFIG.PCW_SD0_GRP_CD_IO {MIO 47} \
    CONFIG.PCW_SDIO_PERIPHERAL_FREQMHZ {50} \
    CONFIG.PCW_I2C0_PERIPHERAL_ENABLE {1} \
    CONFIG.PCW_I2C0_I2C0_IO {MIO 50 .. 51} \
] $ps7
# GP0 master for registers, HP0 slave (64-bit, UG585 Table 22-8: ~1.2 GB/s) for the DMA, FCLK0, one PL->PS IRQ.
set_property -dict [list \
    CONFIG.PCW_USE_M_AXI_GP0 {1} \
    CONFIG.PCW_USE_S_AXI_HP0 {1} \
    CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64} \
    CONFIG.PCW_EN_CLK0_PORT {1} \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $FCLK0_MHZ \
    CONFIG.PCW_EN_RST0_PORT {1} \
    CONFIG.PCW_USE_FABRIC_INTERRUPT {1} \
    CONFIG.PCW_IRQ_F2P_INTR {1} \
    CONFIG.PCW_IRQ_F2P_MODE {DIRECT} \
] $ps7

# ---- reset, interconnects, DMA, core, interrupt concat -----------------------------------------------
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_fclk0]

set sc_gp [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc_gp0]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {3}] $sc_gp
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

# The core as a module reference (RTL added to the project by build_bitstream.tcl). Its clock pin's FREQ_HZ is
# not fixed in the wrapper: it is copied from FCLK_CLK0 as the PS7 actually configured it, so the core's clock
# frequency always follows FCLK0_MHZ (board_config.py) and validate_bd_design sees no mismatch.
set core [create_bd_cell -type module -reference $WRAPPER_MODULE osc_core_0]
set fclk0_hz [get_property CONFIG.FREQ_HZ [get_bd_pins ps7/FCLK_CLK0]]
set_property CONFIG.FREQ_HZ $fclk0_hz [get_bd_pins osc_core_0/aclk]

# Three interrupt sources -> one AXI interrupt controller -> the single IRQ_F2P line PYNQ supports.
set irqs [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat:2.1 irq_concat]
set_property -dict [list CONFIG.NUM_PORTS {3}] $irqs
# Default configuration, as PYNQ's base overlay uses it: IPI derives each input's level/edge kind from the
# connected pins' SENSITIVITY (the core's irq is LEVEL_HIGH, the DMA's introut too).
set intc [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_intc:4.1 axi_intc_0]

# ---- clocks and resets ---------------------------------------------------------------------------------
set fclk [get_bd_pins ps7/FCLK_CLK0]
foreach pin {ps7/M_AXI_GP0_ACLK ps7/S_AXI_HP0_ACLK sc_gp0/aclk sc_hp0/aclk axi_dma_0/s_axi_lite_aclk
             axi_dma_0/m_axi_mm2s_aclk axi_dma_0/m_axi_s2mm_aclk osc_core_0/aclk axi_intc_0/s_axi_aclk
             rst_fclk0/slowest_sync_clk} {
    connect_bd_net $fclk [get_bd_pins $pin]
}
connect_bd_net [get_bd_pins ps7/FCLK_RESET0_N] [get_bd_pins rst_fclk0/ext_reset_in]
foreach pin {sc_gp0/aresetn sc_hp0/aresetn axi_dma_0/axi_resetn osc_core_0/aresetn axi_intc_0/s_axi_aresetn} {
    connect_bd_net [get_bd_pins rst_fclk0/peripheral_aresetn] [get_bd_pins $pin]
}

# ---- buses ---------------------------------------------------------------------------------------------
connect_bd_intf_net [get_bd_intf_pins ps7/M_AXI_GP0] [get_bd_intf_pins sc_gp0/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_gp0/M00_AXI] [get_bd_intf_pins osc_core_0/s_axil]
connect_bd_intf_net [get_bd_intf_pins sc_gp0/M01_AXI] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
connect_bd_intf_net [get_bd_intf_pins sc_gp0/M02_AXI] [get_bd_intf_pins axi_intc_0/s_axi]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_MM2S] [get_bd_intf_pins sc_hp0/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_S2MM] [get_bd_intf_pins sc_hp0/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_hp0/M00_AXI] [get_bd_intf_pins ps7/S_AXI_HP0]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins osc_core_0/s_axis]
connect_bd_intf_net [get_bd_intf_pins osc_core_0/m_axis] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]

# ---- interrupts: In0 = core, In1 = DMA MM2S, In2 = DMA S2MM -> axi_intc_0 intr[2:0]; its irq -> IRQ_F2P -----
connect_bd_net [get_bd_pins osc_core_0/irq] [get_bd_pins irq_concat/In0]
connect_bd_net [get_bd_pins axi_dma_0/mm2s_introut] [get_bd_pins irq_concat/In1]
connect_bd_net [get_bd_pins axi_dma_0/s2mm_introut] [get_bd_pins irq_concat/In2]
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins axi_intc_0/intr]
connect_bd_net [get_bd_pins axi_intc_0/irq] [get_bd_pins ps7/IRQ_F2P]

# ---- address map: fixed addresses in the GP0 window (0x4000_0000-0x7FFF_FFFF) ----------------------------
assign_bd_address -offset $CORE_BASE -range 0x00001000 -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins osc_core_0/s_axil]]
assign_bd_address -offset $DMA_BASE -range 0x00010000 -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins axi_dma_0/S_AXI_LITE]]
assign_bd_address -offset $INTC_BASE -range 0x00010000 -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins axi_intc_0/s_axi]]
# The DMA reaches all of DDR through HP0.
assign_bd_address -target_address_space [get_bd_addr_spaces axi_dma_0/Data_MM2S] \
    [get_bd_addr_segs ps7/S_AXI_HP0/HP0_DDR_LOWOCM]
assign_bd_address -target_address_space [get_bd_addr_spaces axi_dma_0/Data_S2MM] \
    [get_bd_addr_segs ps7/S_AXI_HP0/HP0_DDR_LOWOCM]

# ---- streamed-K builds: the core's K read masters to DDR over their own HP ports ---------------------------
if {$K_PORTS > 0} {
    source [file join $build_dir block_design_k_ddr.tcl]
}

validate_bd_design
save_bd_design
