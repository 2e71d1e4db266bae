// Vivado-facing wrapper of the streamed-K oscillator core (`python -m rtl.build --k-source ddr --k-ports 2`):
// the ports and interface attributes of the on-chip build's wrapper (osc_core_wrapper.v; tests check that this
// file repeats them unchanged) plus two AXI4 read masters m_axi0/m_axi1 through which the core reads its K
// planes from DDR. bitstreams/build.py copies this file as osc_core_wrapper.v into a streamed-K build (same module
// name, so the core keeps its VLNV xilinx.com:module_ref:osc_core_wrapper:1.0 and the host binds to it the
// same way) and checks the generated core's ports against bitstreams.build.wrapper_ports(params) first.
//
// m_axi<q>: AXI4, read only (AR and R channels; PG059/UG1118 names), 64-bit data, 32-bit addresses, one ID bit,
// INCR bursts of 16 beats at 128-byte boundaries, at most 8 in flight (rtl/core.py K reader). These bursts
// already meet AXI3's limits, so the SmartConnect between a master and its HP port only converts the protocol
// (ARLEN/ARLOCK widths), it never splits a burst (hardware.md §8). Interface attributes: UG994 "HDL Parameters
// for Interface Inference".
// UNTESTED IN VIVADO (no Vivado in the development environment); see docs/bitstreams.md.
`timescale 1ns / 1ps

module osc_core_wrapper (
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    // No FREQ_HZ here: block_design.tcl copies FCLK_CLK0's frequency onto this pin (it follows FCLK0_MHZ).
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axil:s_axis:m_axis:m_axi0:m_axi1, ASSOCIATED_RESET aresetn" *)
    input  wire        aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire        aresetn,

    // AXI4-Lite slave: the register map (rtl/regs.py), a 4 KiB window.
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil AWADDR" *)
    (* X_INTERFACE_PARAMETER = "PROTOCOL AXI4LITE, DATA_WIDTH 32, ADDR_WIDTH 12, READ_WRITE_MODE READ_WRITE, HAS_PROT 0, HAS_WSTRB 1" *)
    input  wire [11:0] s_axil_awaddr,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil AWVALID" *)
    input  wire        s_axil_awvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil AWREADY" *)
    output wire        s_axil_awready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil WDATA" *)
    input  wire [31:0] s_axil_wdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil WSTRB" *)
    input  wire [3:0]  s_axil_wstrb,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil WVALID" *)
    input  wire        s_axil_wvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil WREADY" *)
    output wire        s_axil_wready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil BRESP" *)
    output wire [1:0]  s_axil_bresp,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil BVALID" *)
    output wire        s_axil_bvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil BREADY" *)
    input  wire        s_axil_bready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil ARADDR" *)
    input  wire [11:0] s_axil_araddr,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil ARVALID" *)
    input  wire        s_axil_arvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil ARREADY" *)
    output wire        s_axil_arready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil RDATA" *)
    output wire [31:0] s_axil_rdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil RRESP" *)
    output wire [1:0]  s_axil_rresp,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil RVALID" *)
    output wire        s_axil_rvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil RREADY" *)
    input  wire        s_axil_rready,

    // AXI4-Stream slave: model and request loads (fed by the AXI DMA MM2S channel).
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TDATA" *)
    (* X_INTERFACE_PARAMETER = "TDATA_NUM_BYTES 4, HAS_TLAST 1, HAS_TKEEP 0, HAS_TSTRB 0, HAS_TREADY 1" *)
    input  wire [31:0] s_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TVALID" *)
    input  wire        s_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TREADY" *)
    output wire        s_axis_tready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TLAST" *)
    input  wire        s_axis_tlast,

    // AXI4-Stream master: phase readback (to the AXI DMA S2MM channel; TLAST on the last word, PG021).
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TDATA" *)
    (* X_INTERFACE_PARAMETER = "TDATA_NUM_BYTES 4, HAS_TLAST 1, HAS_TKEEP 0, HAS_TSTRB 0, HAS_TREADY 1" *)
    output wire [31:0] m_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TVALID" *)
    output wire        m_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TREADY" *)
    input  wire        m_axis_tready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TLAST" *)
    output wire        m_axis_tlast,

    // Level interrupt: run done (IRQ_STATUS & IRQ_ENABLE).
    (* X_INTERFACE_INFO = "xilinx.com:signal:interrupt:1.0 irq INTERRUPT" *)
    (* X_INTERFACE_PARAMETER = "SENSITIVITY LEVEL_HIGH" *)
    output wire        irq,

    // AXI4 read master 0: K plane 0 (K_ADDR0), to the PS7 through sc_k0 (block_design_k_ddr.tcl).
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARID" *)
    (* X_INTERFACE_PARAMETER = "PROTOCOL AXI4, READ_WRITE_MODE READ_ONLY, DATA_WIDTH 64, ADDR_WIDTH 32, ID_WIDTH 1, MAX_BURST_LENGTH 16, NUM_READ_OUTSTANDING 8, NUM_WRITE_OUTSTANDING 0, HAS_BURST 1, HAS_LOCK 1, HAS_CACHE 1, HAS_PROT 1, HAS_QOS 0, HAS_REGION 0, HAS_RRESP 1, HAS_BRESP 0, HAS_WSTRB 0, SUPPORTS_NARROW_BURST 0" *)
    output wire        m_axi0_arid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARADDR" *)
    output wire [31:0] m_axi0_araddr,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARLEN" *)
    output wire [7:0]  m_axi0_arlen,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARSIZE" *)
    output wire [2:0]  m_axi0_arsize,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARBURST" *)
    output wire [1:0]  m_axi0_arburst,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARLOCK" *)
    output wire        m_axi0_arlock,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARCACHE" *)
    output wire [3:0]  m_axi0_arcache,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARPROT" *)
    output wire [2:0]  m_axi0_arprot,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARVALID" *)
    output wire        m_axi0_arvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 ARREADY" *)
    input  wire        m_axi0_arready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RID" *)
    input  wire        m_axi0_rid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RDATA" *)
    input  wire [63:0] m_axi0_rdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RRESP" *)
    input  wire [1:0]  m_axi0_rresp,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RLAST" *)
    input  wire        m_axi0_rlast,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RVALID" *)
    input  wire        m_axi0_rvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi0 RREADY" *)
    output wire        m_axi0_rready,

    // AXI4 read master 1: K plane 1 (K_ADDR1), to the PS7 through sc_k1 (block_design_k_ddr.tcl).
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARID" *)
    (* X_INTERFACE_PARAMETER = "PROTOCOL AXI4, READ_WRITE_MODE READ_ONLY, DATA_WIDTH 64, ADDR_WIDTH 32, ID_WIDTH 1, MAX_BURST_LENGTH 16, NUM_READ_OUTSTANDING 8, NUM_WRITE_OUTSTANDING 0, HAS_BURST 1, HAS_LOCK 1, HAS_CACHE 1, HAS_PROT 1, HAS_QOS 0, HAS_REGION 0, HAS_RRESP 1, HAS_BRESP 0, HAS_WSTRB 0, SUPPORTS_NARROW_BURST 0" *)
    output wire        m_axi1_arid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARADDR" *)
    output wire [31:0] m_axi1_araddr,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARLEN" *)
    output wire [7:0]  m_axi1_arlen,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARSIZE" *)
    output wire [2:0]  m_axi1_arsize,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARBURST" *)
    output wire [1:0]  m_axi1_arburst,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARLOCK" *)
    output wire        m_axi1_arlock,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARCACHE" *)
    output wire [3:0]  m_axi1_arcache,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARPROT" *)
    output wire [2:0]  m_axi1_arprot,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARVALID" *)
    output wire        m_axi1_arvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 ARREADY" *)
    input  wire        m_axi1_arready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RID" *)
    input  wire        m_axi1_rid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RDATA" *)
    input  wire [63:0] m_axi1_rdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RRESP" *)
    input  wire [1:0]  m_axi1_rresp,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RLAST" *)
    input  wire        m_axi1_rlast,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RVALID" *)
    input  wire        m_axi1_rvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 m_axi1 RREADY" *)
    output wire        m_axi1_rready
);

    osc_core core (
        .clk(aclk),
        .rst(~aresetn),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready),
        .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid), .s_axil_bready(s_axil_bready),
        .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid), .s_axil_arready(s_axil_arready),
        .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp), .s_axil_rvalid(s_axil_rvalid),
        .s_axil_rready(s_axil_rready),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .s_axis_tlast(s_axis_tlast),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .m_axis_tlast(m_axis_tlast),
        .irq(irq),
        .m_axi0_arid(m_axi0_arid), .m_axi0_araddr(m_axi0_araddr), .m_axi0_arlen(m_axi0_arlen),
        .m_axi0_arsize(m_axi0_arsize), .m_axi0_arburst(m_axi0_arburst), .m_axi0_arlock(m_axi0_arlock),
        .m_axi0_arcache(m_axi0_arcache), .m_axi0_arprot(m_axi0_arprot), .m_axi0_arvalid(m_axi0_arvalid),
        .m_axi0_arready(m_axi0_arready), .m_axi0_rid(m_axi0_rid), .m_axi0_rdata(m_axi0_rdata),
        .m_axi0_rresp(m_axi0_rresp), .m_axi0_rlast(m_axi0_rlast), .m_axi0_rvalid(m_axi0_rvalid),
        .m_axi0_rready(m_axi0_rready),
        .m_axi1_arid(m_axi1_arid), .m_axi1_araddr(m_axi1_araddr), .m_axi1_arlen(m_axi1_arlen),
        .m_axi1_arsize(m_axi1_arsize), .m_axi1_arburst(m_axi1_arburst), .m_axi1_arlock(m_axi1_arlock),
        .m_axi1_arcache(m_axi1_arcache), .m_axi1_arprot(m_axi1_arprot), .m_axi1_arvalid(m_axi1_arvalid),
        .m_axi1_arready(m_axi1_arready), .m_axi1_rid(m_axi1_rid), .m_axi1_rdata(m_axi1_rdata),
        .m_axi1_rresp(m_axi1_rresp), .m_axi1_rlast(m_axi1_rlast), .m_axi1_rvalid(m_axi1_rvalid),
        .m_axi1_rready(m_axi1_rready)
    );

endmodule
