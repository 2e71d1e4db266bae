# Streamed-K additions to the PYNQ-Z2 block design (sourced by block_design.tcl when K_PORTS is 2): the core's two
# AXI4 read masters reach DDR through their own HP ports.
#
#   osc_core_0/m_axi0 -> SmartConnect sc_k0 (1 SI, 1 MI) -> PS7 S_AXI_${K0_HP} (64-bit) -> DDR $DDR_BASE + $DDR_RANGE
#   osc_core_0/m_axi1 -> SmartConnect sc_k1 (1 SI, 1 MI) -> PS7 S_AXI_${K1_HP} (64-bit) -> DDR
#   (the AXI DMA keeps S_AXI_HP0; the AXI4-Lite slave, the interrupt path and FCLK0 are block_design.tcl's)
#
# Why these ports (bitstreams/board_config.py k_hp_ports; facts in hardware.md §8): the HP ports are AXI3, 64-bit,
# 16-beat bursts, 8 reads in flight; HP0/HP1 share one path into the DDR controller and HP2/HP3 the other (UG585
# ch. 5), so the planes go to HP1 and HP2, one per DDR controller port. The DMA on HP0 moves words only before START
# and after DONE, never while K streams. Each SmartConnect (PG247) converts the core's AXI4 read-only master to the
# port's AXI3 (ARLEN 8 -> 4 bits, ARLOCK 1 -> 2 bits, ID width); the core's bursts (INCR, ARLEN 15, 128-byte aligned)
# already meet AXI3's limits, so nothing is split and all 8 reads stay in flight. 64-bit mode: the 32-bit mode
# halves most commands (UG585 Table 22-8).
#
# Expects (build_config.tcl): K_PORTS, K0_HP, K1_HP, DDR_BASE, DDR_RANGE; cells ps7, rst_fclk0, osc_core_0 exist.
# UNTESTED: no Vivado was available where this was written (docs/bitstreams.md).

if {$K_PORTS != 2} { error "block_design_k_ddr.tcl connects exactly 2 K read masters, K_PORTS is $K_PORTS" }

# ---- PS7: the two HP slave ports, 64-bit --------------------------------------------------------------
set_property -dict [list \
    CONFIG.PCW_USE_S_AXI_${K0_HP} {1} \
    CONFIG.PCW_S_AXI_${K0_HP}_DATA_WIDTH {64} \
    CONFIG.PCW_USE_S_AXI_${K1_HP} {1} \
    CONFIG.PCW_S_AXI_${K1_HP}_DATA_WIDTH {64} \
] $ps7

# ---- one SmartConnect per K read master (protocol conversion only) --------------------------------------
set sc_k0 [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc_k0]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $sc_k0
set sc_k1 [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc_k1]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $sc_k1

# ---- clocks and resets: FCLK0 and the same synchronous reset as the rest of the design -------------------
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins ps7/S_AXI_${K0_HP}_ACLK]
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins ps7/S_AXI_${K1_HP}_ACLK]
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins sc_k0/aclk]
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins sc_k1/aclk]
connect_bd_net [get_bd_pins rst_fclk0/peripheral_aresetn] [get_bd_pins sc_k0/aresetn]
connect_bd_net [get_bd_pins rst_fclk0/peripheral_aresetn] [get_bd_pins sc_k1/aresetn]

# ---- buses ----------------------------------------------------------------------------------------------
connect_bd_intf_net [get_bd_intf_pins osc_core_0/m_axi0] [get_bd_intf_pins sc_k0/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_k0/M00_AXI] [get_bd_intf_pins ps7/S_AXI_${K0_HP}]
connect_bd_intf_net [get_bd_intf_pins osc_core_0/m_axi1] [get_bd_intf_pins sc_k1/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins sc_k1/M00_AXI] [get_bd_intf_pins ps7/S_AXI_${K1_HP}]

# ---- address map: each master sees all of DDR (pynq.allocate's buffers live there; K_ADDR<q> holds the
# physical address, rtl/regs.py) and nothing else -------------------------------------------------------------
assign_bd_address -offset $DDR_BASE -range $DDR_RANGE -target_address_space [get_bd_addr_spaces osc_core_0/m_axi0] \
    [get_bd_addr_segs ps7/S_AXI_${K0_HP}/${K0_HP}_DDR_LOWOCM]
assign_bd_address -offset $DDR_BASE -range $DDR_RANGE -target_address_space [get_bd_addr_spaces osc_core_0/m_axi1] \
    [get_bd_addr_segs ps7/S_AXI_${K1_HP}/${K1_HP}_DDR_LOWOCM]
