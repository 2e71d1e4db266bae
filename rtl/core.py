"""The oscillator array: L MAC lanes over lane-banked coupling memories, one shared post-processor, a pipelined
CORDIC, an AXI4-Lite register block, an AXI4-Stream load port and an AXI4-Stream phase readback port.

Two builds share every part but the source of K (HardwareParams.k_source): "bram" keeps K in L on-chip banks;
"ddr" reads K from DDR once per Euler step through an AXI4 read master m_axi_* (16-beat INCR bursts, up to
8 in flight) into a beat FIFO and a column assembler; the sequencer waits (K_WAIT_CYCLES) when a column is late.
With a batch of B samples (HardwareParams.batch) every weight feeds B columns of trig (one per sample and
clock) into B accumulator pairs per lane (rtl/lanes.py), so one pass over K serves B phase vectors.

Every Euler step is computed exactly as fixedpoint/golden.py does it (see docs/rtl.md for the schedule):
  1. the conditioning group (rows n..n+M-1, columns n..n+M-1, lanes 0..M-1, weights at drive address B*G*M+m),
  2. main groups g = 0..G-1, G = ceil(n/L) (rows g*L+l; the last group may be ragged): first the drive columns
     n..n+M-1 (drive address b*G*M + g*M + m) once per digit of the drive weights, top digit first (Horner's rule
     in the lanes, HardwareParams.drive_passes), then the K columns 0..n-1 (K bank address g*n + j),
  each column broadcasting (sin, cos) of the old phase j to all lanes. When a group's last column is accumulated,
  its accumulators move into hold registers that feed the post-processor one row per clock while the next
  group's MACs run. The post-processor computes u, d and the wrapped new phase, writes the phase memory and feeds
  the CORDIC, whose results go into the "next" trig buffer. After the pipelines drain the buffers swap.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from fixedpoint.layout import LOAD_TARGETS, stream_lengths
from fixedpoint.spec import AXI_BURST_BEATS, AXI_BURST_BYTES, AXI_DATA_BITS, BUS_BITS, HardwareParams

from . import regs
from .cordic import CordicPipeline
from .lanes import MacBlock, lane_kinds

#: K read master: bursts in flight (the HP ports advertise 8 outstanding reads, hardware.md §8) and the beat
#: FIFO that holds them, so a burst is only requested when its beats have room.
K_READS_IN_FLIGHT = 8
K_FIFO_BEATS = K_READS_IN_FLIGHT * AXI_BURST_BEATS
#: MAC lanes per block: each block has its own registered copy of the trig broadcast, of the K / drive bank
#: address and of the control bits, so no register drives more than this many lanes (docs/rtl.md, "Timing").
MAC_BLOCK_LANES = 32
#: AXI encodings of the K read bursts: INCR, 8-byte beats, normal non-cacheable bufferable.
AXI_BURST_INCR, AXI_CACHE_NORMAL = 1, 0b0011


def _bits_for(n: int) -> int:
    return max(1, ceil_log2(n + 1))


def _pick(values, index):
    """values[index] as a chain of 2:1 multiplexers (values[0] when out of range). Not `Array`: its generated
    `case` with an x default stays x in Icarus until the index changes."""
    out = values[0]
    for k in range(1, len(values)):
        out = Mux(index == k, values[k], out)
    return out


class OscillatorCore(wiring.Component):
    """Top level. Ports: AXI4-Lite slave s_axil_*, AXI4-Stream slave s_axis_* (loads), master m_axis_* (readback), irq;
    streamed-K builds add the AXI4 read master m_axi_* (AR and R channels only)."""

    def __init__(self, params: HardwareParams):
        self.params = params
        a, d = regs.ADDR_BITS, regs.DATA_BITS
        axi = {}
        for q in range(params.k_ports if params.k_streamed else 0):
            axi.update({f"m_axi{q}_{name}": sig for name, sig in (
                ("arid", Out(1)), ("araddr", Out(32)), ("arlen", Out(8)), ("arsize", Out(3)), ("arburst", Out(2)),
                ("arlock", Out(1)), ("arcache", Out(4)), ("arprot", Out(3)), ("arvalid", Out(1)), ("arready", In(1)),
                ("rid", In(1)), ("rdata", In(AXI_DATA_BITS)), ("rresp", In(2)), ("rlast", In(1)), ("rvalid", In(1)),
                ("rready", Out(1)))})
        super().__init__({
            "s_axil_awaddr": In(a), "s_axil_awvalid": In(1), "s_axil_awready": Out(1),
            "s_axil_wdata": In(d), "s_axil_wstrb": In(d // 8), "s_axil_wvalid": In(1), "s_axil_wready": Out(1),
            "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
            "s_axil_araddr": In(a), "s_axil_arvalid": In(1), "s_axil_arready": Out(1),
            "s_axil_rdata": Out(d), "s_axil_rresp": Out(2), "s_axil_rvalid": Out(1), "s_axil_rready": In(1),
            "s_axis_tdata": In(BUS_BITS), "s_axis_tvalid": In(1), "s_axis_tready": Out(1), "s_axis_tlast": In(1),
            "m_axis_tdata": Out(BUS_BITS), "m_axis_tvalid": Out(1), "m_axis_tready": In(1), "m_axis_tlast": Out(1),
            "irq": Out(1), **axi,
        })

    # Timing facts the benchmark and docs use.
    MAC_LATENCY = 3 + MacBlock.latency  # issue -> addresses registered -> memory data -> lane block -> accumulate
    POST_LATENCY = 12  # row in -> phase write / CORDIC in (stages Q1..Q12)

    def elaborate(self, platform):
        m = Module()
        p, s = self.params, self.params.spec
        n, M, L, G, nt = p.n, p.n_cond, p.lanes, p.groups, p.n_total
        B, streamed = p.batch, p.k_streamed
        BN = B * nt  # phase words of one run (sample-major)
        P, S = s.phase_bits, s.trig_bits
        row_w = _bits_for(nt)
        idx_w = _bits_for(BN)  # sample * nt + row: phase-memory index
        b_w = max(1, ceil_log2(B))

        # ------------------------------------------------------------------ memories
        kbanks = [] if streamed else [memory.Memory(shape=signed(s.coupling_bits), depth=p.k_bank_depth, init=[])
                                      for _ in range(L)]
        # Drive banks are shallow ((G+1)*M words): distributed RAM, so the block RAM is left for the K banks.
        dbanks = [memory.Memory(shape=signed(s.drive_bits), depth=p.drive_bank_depth, init=[],
                                attrs={"ram_style": "distributed"}) for _ in range(L)]
        for l in range(L):
            if not streamed:
                m.submodules[f"kbank{l}"] = kbanks[l]
            m.submodules[f"dbank{l}"] = dbanks[l]
        gain_mem = memory.Memory(shape=unsigned(s.gain_bits), depth=nt, init=[])
        omega_mem = memory.Memory(shape=signed(BUS_BITS), depth=nt, init=[])
        phase_mem = memory.Memory(shape=signed(P), depth=BN, init=[])  # [b*nt + i]
        # Trig, double-buffered: trig_buf[h][b*nt + i] = Cat(sin, cos). Each buffer is its own memory with a read/write
        # port A (the post-processor's own-trig read while current, the CORDIC's write while next: one address, so
        # block RAM maps it to one true-dual-port port) and a read port B (the MAC broadcast). One memory of 2·B·nt
        # words with three ports would be built twice over (one copy per read port).
        trig_buf = [memory.Memory(shape=unsigned(2 * S), depth=BN, init=[]) for _ in range(2)]
        m.submodules.gain_mem, m.submodules.omega_mem = gain_mem, omega_mem
        m.submodules.phase_mem, m.submodules.trig_buf0, m.submodules.trig_buf1 = phase_mem, *trig_buf

        k_rd = [b.read_port() for b in kbanks]
        k_wr = [b.write_port() for b in kbanks]
        d_rd = [b.read_port() for b in dbanks]
        d_wr = [b.write_port() for b in dbanks]
        gain_rd, gain_wr = gain_mem.read_port(), gain_mem.write_port()
        omega_rd, omega_wr = omega_mem.read_port(), omega_mem.write_port()
        phase_rd, phase_wr = phase_mem.read_port(), phase_mem.write_port()
        trig_a_rd = [t.read_port() for t in trig_buf]
        trig_a_wr = [t.write_port() for t in trig_buf]
        trig_b_rd = [t.read_port() for t in trig_buf]

        # ------------------------------------------------------------------ registers
        ctrl_start, ctrl_abort, ctrl_readback, ctrl_clear = Signal(), Signal(), Signal(), Signal()
        busy, done, overflow, load_error, axi_error = Signal(), Signal(), Signal(), Signal(), Signal()
        rb_busy = Signal()
        irq_en = Signal(1)
        irq_st = Signal(1)
        steps_reg = Signal(16, init=regs.BY_NAME["STEPS"].reset)
        gain_shift = Signal(6, init=regs.BY_NAME["GAIN_SHIFT"].reset)
        load_target = Signal(4, init=regs.BY_NAME["LOAD_TARGET"].reset)
        load_count = Signal(32)
        cycles = Signal(64)
        step_cycles_cnt = Signal(32)
        step_cycles = Signal(32)
        step_count = Signal(16)
        scratch = Signal(32)
        k_addr = [Signal(32, name=f"k_addr{q}") for q in range(regs.K_PORTS_MAX)]
        k_wait_cnt = Signal(32)
        k_wait = Signal(32)
        irq_set = Signal()

        ro_values = {"ID": regs.CORE_ID, "VERSION": regs.CORE_VERSION, **regs.param_registers(p)}
        read_values = {
            **{k: Const(v, 32) for k, v in ro_values.items()},
            "CTRL": Const(0, 32),
            "STATUS": Cat(busy, done, overflow, load_error, rb_busy, axi_error),
            "IRQ_ENABLE": irq_en, "IRQ_STATUS": irq_st, "STEPS": steps_reg, "GAIN_SHIFT": gain_shift,
            "LOAD_TARGET": load_target, "LOAD_COUNT": load_count, "CYCLES_LO": cycles[:32], "CYCLES_HI": cycles[32:],
            "STEP_CYCLES": step_cycles, "STEP_COUNT": step_count, "SCRATCH": scratch,
            "K_WAIT_CYCLES": k_wait, **{f"K_ADDR{q}": k_addr[q] for q in range(regs.K_PORTS_MAX)},
        }
        missing = {r.name for r in regs.REGISTERS} ^ set(read_values)
        assert not missing, f"register table and RTL disagree on {missing}"

        # AXI4-Lite write channel: accept address and data together, then one response.
        wr_fire = Signal()
        load_sel = Signal()  # a LOAD_TARGET write happened
        m.d.comb += [
            wr_fire.eq(self.s_axil_awvalid & self.s_axil_wvalid & ~self.s_axil_bvalid),
            self.s_axil_awready.eq(wr_fire), self.s_axil_wready.eq(wr_fire),
        ]
        wdata = self.s_axil_wdata
        waddr = self.s_axil_awaddr
        with m.If(self.s_axil_bvalid & self.s_axil_bready):
            m.d.sync += self.s_axil_bvalid.eq(0)
        with m.If(wr_fire & (self.s_axil_wstrb != (1 << (regs.DATA_BITS // 8)) - 1)):
            # Registers are whole 32-bit words: a partial write is refused, not half-applied.
            m.d.sync += [self.s_axil_bvalid.eq(1), self.s_axil_bresp.eq(regs.RESP_SLVERR)]
        with m.Elif(wr_fire):
            m.d.sync += [self.s_axil_bvalid.eq(1), self.s_axil_bresp.eq(regs.RESP_SLVERR)]
            with m.Switch(waddr):
                for r in regs.REGISTERS:
                    with m.Case(r.offset):
                        m.d.sync += self.s_axil_bresp.eq(regs.RESP_OKAY)
                        if r.name == "CTRL":
                            m.d.comb += [ctrl_start.eq(wdata[0]), ctrl_abort.eq(wdata[1]),
                                         ctrl_readback.eq(wdata[2]), ctrl_clear.eq(wdata[3])]
                        elif r.name == "IRQ_ENABLE":
                            m.d.sync += irq_en.eq(wdata[:1])
                        elif r.name == "IRQ_STATUS":
                            pass  # handled below (W1C merges with the set from the core)
                        elif r.name == "SCRATCH":
                            m.d.sync += scratch.eq(wdata)
                        elif r.name in ("STEPS", "GAIN_SHIFT", "LOAD_TARGET") or r.name.startswith("K_ADDR"):
                            target = {"STEPS": steps_reg, "GAIN_SHIFT": gain_shift, "LOAD_TARGET": load_target,
                                      **{f"K_ADDR{q}": k_addr[q] for q in range(regs.K_PORTS_MAX)}}[r.name]
                            with m.If(~busy & ~rb_busy):
                                m.d.sync += target.eq(wdata[:len(target)])
                                if r.name == "LOAD_TARGET":
                                    m.d.comb += load_sel.eq(1)
        irq_clear = Signal()
        full_word = self.s_axil_wstrb == (1 << (regs.DATA_BITS // 8)) - 1
        m.d.comb += irq_clear.eq(wr_fire & full_word & (waddr == regs.offset("IRQ_STATUS")) & wdata[0])
        with m.If(irq_set):
            m.d.sync += irq_st.eq(1)
        with m.Elif(irq_clear):
            m.d.sync += irq_st.eq(0)
        m.d.comb += self.irq.eq(irq_st & irq_en)

        # AXI4-Lite read channel.
        m.d.comb += self.s_axil_arready.eq(~self.s_axil_rvalid)
        with m.If(self.s_axil_rvalid & self.s_axil_rready):
            m.d.sync += self.s_axil_rvalid.eq(0)
        with m.If(self.s_axil_arvalid & self.s_axil_arready):
            m.d.sync += [self.s_axil_rvalid.eq(1), self.s_axil_rdata.eq(0), self.s_axil_rresp.eq(regs.RESP_SLVERR)]
            with m.Switch(self.s_axil_araddr):
                for r in regs.REGISTERS:
                    with m.Case(r.offset):
                        m.d.sync += [self.s_axil_rdata.eq(read_values[r.name]), self.s_axil_rresp.eq(regs.RESP_OKAY)]

        # ------------------------------------------------------------------ load stream
        lengths = stream_lengths(p)
        per_k = p.lanes_per_word(s.coupling_bits)
        per_d = p.lanes_per_word(s.drive_bits)
        ld_addr = Signal(_bits_for(max(p.k_bank_depth, p.drive_bank_depth, BN)))
        ld_chunk = Signal(_bits_for(L))
        # What the selected target expects, decoded once when LOAD_TARGET is written (registered, so no stream
        # word waits on the decode): the words still expected and the last chunk index of a bank address.
        def target_len(code):
            return next((lengths[name] for name, c in LOAD_TARGETS.items() if c == code), 0)

        def target_last_chunk(code):
            name = next((name for name, c in LOAD_TARGETS.items() if c == code), None)
            return {"k": L // per_k, "drive": L // per_d, "kcond": L // per_d}.get(name, 1) - 1

        # ld_room = (ld_left != 0) and ld_last = (ld_left == 1) are registered too, so accepting a word is one gate.
        reset_target = regs.BY_NAME["LOAD_TARGET"].reset
        ld_left = Signal(32, init=target_len(reset_target))
        ld_room = Signal(init=target_len(reset_target) != 0)
        ld_last = Signal(init=target_len(reset_target) == 1)
        ld_last_chunk = Signal(_bits_for(L), init=target_last_chunk(reset_target))
        with m.If(load_sel):
            with m.Switch(wdata[:len(load_target)]):
                for name, code in LOAD_TARGETS.items():
                    with m.Case(code):
                        m.d.sync += [ld_left.eq(target_len(code)), ld_last_chunk.eq(target_last_chunk(code)),
                                     ld_room.eq(target_len(code) != 0), ld_last.eq(target_len(code) == 1)]
                with m.Default():
                    m.d.sync += [ld_left.eq(0), ld_last_chunk.eq(0), ld_room.eq(0), ld_last.eq(0)]
        ld_fire = Signal()
        ld_ok = Signal()
        m.d.comb += [self.s_axis_tready.eq(~busy & ~rb_busy & ~load_sel),
                     ld_fire.eq(self.s_axis_tvalid & self.s_axis_tready),
                     ld_ok.eq(ld_fire & ld_room)]
        word = self.s_axis_tdata
        with m.If(load_sel):
            m.d.sync += [load_count.eq(0), ld_addr.eq(0), ld_chunk.eq(0)]
        with m.Elif(ld_fire):
            with m.If(ld_ok):
                m.d.sync += [load_count.eq(load_count + 1), ld_left.eq(ld_left - 1), ld_room.eq(~ld_last),
                             ld_last.eq(ld_left == 2)]
                with m.If(ld_chunk == ld_last_chunk):
                    m.d.sync += [ld_chunk.eq(0), ld_addr.eq(ld_addr + 1)]
                with m.Else():
                    m.d.sync += ld_chunk.eq(ld_chunk + 1)
                # tlast must mark exactly the last expected word.
                with m.If(self.s_axis_tlast != ld_last):
                    m.d.sync += load_error.eq(1)
            with m.Else():
                m.d.sync += load_error.eq(1)  # too many words or no valid target: dropped
        is_tgt = {name: Signal(name=f"ld_{name}") for name in LOAD_TARGETS}
        for name, code in LOAD_TARGETS.items():
            m.d.comb += is_tgt[name].eq(ld_ok & (load_target == code))
        # The K and drive bank writes fan out to every lane: they take each word one clock later from registers
        # (bk_*), so the stream handshake and the lanes' write enables are separate, short paths.
        bk_word, bk_kaddr = Signal(BUS_BITS, name="bk_word"), Signal.like(ld_addr, name="bk_kaddr")
        bk_daddr = Signal(_bits_for(p.drive_bank_depth), name="bk_daddr")
        bk_chunk, bk_k, bk_d = Signal.like(ld_chunk, name="bk_chunk"), Signal(name="bk_k"), Signal(name="bk_d")
        m.d.sync += [bk_word.eq(word), bk_kaddr.eq(ld_addr), bk_chunk.eq(ld_chunk),
                     bk_daddr.eq(Mux(is_tgt["kcond"], B * G * M + ld_addr, ld_addr)),
                     bk_k.eq(is_tgt["k"]), bk_d.eq(is_tgt["drive"] | is_tgt["kcond"])]
        for l in range(L):
            ck, tk = divmod(l, per_k)
            cd, td = divmod(l, per_d)
            if not streamed:
                m.d.comb += [
                    k_wr[l].addr.eq(bk_kaddr),
                    k_wr[l].data.eq(bk_word[tk * s.coupling_bits:(tk + 1) * s.coupling_bits]),
                    k_wr[l].en.eq(bk_k & (bk_chunk == ck)),
                ]
            m.d.comb += [
                d_wr[l].addr.eq(bk_daddr),
                d_wr[l].data.eq(bk_word[td * s.drive_bits:(td + 1) * s.drive_bits]),
                d_wr[l].en.eq(bk_d & (bk_chunk == cd)),
            ]
        m.d.comb += [
            gain_wr.addr.eq(load_count), gain_wr.data.eq(word[:s.gain_bits]), gain_wr.en.eq(is_tgt["gain"]),
            omega_wr.addr.eq(load_count), omega_wr.data.eq(word), omega_wr.en.eq(is_tgt["omega"]),
        ]

        # ------------------------------------------------------------------ control FSM state
        cur = Signal()  # which trig buffer holds the trig of the current (old) phases
        cur_rd = Signal()  # cur when the trig read data now presented was addressed (one clock of read latency)
        m.d.sync += cur_rd.eq(cur)
        trig_mac = Signal(2 * S)
        trig_own = Signal(2 * S)
        m.d.comb += [trig_mac.eq(Mux(cur_rd, trig_b_rd[1].data, trig_b_rd[0].data)),
                     trig_own.eq(Mux(cur_rd, trig_a_rd[1].data, trig_a_rd[0].data))]
        flush = Signal()  # abort: clear every pipeline valid bit
        m.d.comb += flush.eq(ctrl_abort)
        steps_done = Signal(16)

        # MAC sequencer: groups (conditioning first); in each group the drive columns once per digit (top digit
        # first, Horner), then the n K columns; samples b innermost (one weight, B clocks).
        PD = p.drive_passes
        c_bits = s.coupling_bits
        seq_active = Signal()
        seq_cond = Signal()
        seq_g = Signal(_bits_for(G))
        seq_drv = Signal()  # in the drive passes of the group
        seq_m = Signal(_bits_for(M))  # drive column
        seq_pass = Signal(_bits_for(PD))  # digit of the drive weights (PD-1 .. 0)
        seq_j = Signal(row_w)  # K column
        seq_b = Signal(b_w)
        t_off = Signal(idx_w)  # seq_b * nt
        d_off = Signal(_bits_for(p.drive_bank_depth))  # seq_b * G * M (main groups' drive rows of sample b)
        gm = Signal(_bits_for(p.drive_bank_depth))  # seq_g * M
        kaddr = Signal(_bits_for(p.k_bank_depth))
        seq_first, seq_scale, seq_last, seq_usek, seq_lastb = Signal(), Signal(), Signal(), Signal(), Signal()
        seq_col = Signal(row_w)  # the column whose trig is broadcast
        seq_daddr = Signal(_bits_for(p.drive_bank_depth))
        drv_end = Signal()  # last drive column of the last pass
        stall = Signal()  # streamed K: this column's weights have not arrived yet
        col_valid, col_pop = Signal(), Signal()
        m.d.comb += [
            seq_usek.eq(~seq_drv),
            seq_first.eq(seq_drv & (seq_m == 0) & (seq_pass == PD - 1)),
            seq_scale.eq(seq_drv & (seq_m == 0) & (seq_pass != PD - 1)),
            drv_end.eq(seq_drv & (seq_m == M - 1) & (seq_pass == 0)),
            seq_last.eq(Mux(seq_cond, drv_end, ~seq_drv & (seq_j == n - 1))),
            seq_lastb.eq(seq_b == B - 1),
            seq_col.eq(Mux(seq_drv, n + seq_m, seq_j)),
            seq_daddr.eq(Mux(seq_cond, B * G * M, gm + d_off) + seq_m),
        ]
        if streamed:
            at_col = Signal()
            m.d.comb += [at_col.eq(seq_active & seq_usek & (seq_b == 0)),
                         stall.eq(at_col & ~col_valid), col_pop.eq(at_col & col_valid)]
        seq_start = Signal()
        with m.If(seq_start):
            m.d.sync += [seq_active.eq(1), seq_cond.eq(1), seq_g.eq(0), seq_drv.eq(1), seq_m.eq(0),
                         seq_pass.eq(PD - 1), seq_j.eq(0), seq_b.eq(0), t_off.eq(0), d_off.eq(0), gm.eq(0),
                         kaddr.eq(0)]
        with m.Elif(seq_active & ~stall):
            with m.If(~seq_lastb):
                m.d.sync += [seq_b.eq(seq_b + 1), t_off.eq(t_off + nt), d_off.eq(d_off + G * M)]
            with m.Else():
                m.d.sync += [seq_b.eq(0), t_off.eq(0), d_off.eq(0)]
                with m.If(seq_drv):
                    with m.If(seq_m == M - 1):
                        m.d.sync += [seq_m.eq(0), seq_pass.eq(seq_pass - 1)]
                        with m.If(seq_pass == 0):
                            m.d.sync += seq_pass.eq(PD - 1)
                            with m.If(seq_cond):
                                m.d.sync += seq_cond.eq(0)  # main group 0 starts with its drive passes
                            with m.Else():
                                m.d.sync += [seq_drv.eq(0), seq_j.eq(0)]
                    with m.Else():
                        m.d.sync += seq_m.eq(seq_m + 1)
                with m.Else():
                    m.d.sync += [seq_j.eq(seq_j + 1), kaddr.eq(kaddr + 1)]
                    with m.If(seq_j == n - 1):
                        m.d.sync += [seq_drv.eq(1), seq_g.eq(seq_g + 1), gm.eq(gm + M)]
                        with m.If(seq_g == G - 1):
                            m.d.sync += seq_active.eq(0)
        with m.If(flush):
            m.d.sync += seq_active.eq(0)
        with m.If(stall & ~flush):
            m.d.sync += k_wait_cnt.eq(k_wait_cnt + 1)

        # MAC pipeline: stage 1 = addresses registered (one K / drive address copy per block of lanes, so no
        # register drives every bank), stage 2 = memory data (weight digits selected), then the lane blocks
        # (rtl/lanes.py, MacBlock.latency stages: operands, DSP M / LUT half sums, products): accumulate at stage
        # 2 + MacBlock.latency.
        nblk = -(-L // MAC_BLOCK_LANES)
        blocks = [range(i * MAC_BLOCK_LANES, min(L, (i + 1) * MAC_BLOCK_LANES)) for i in range(nblk)]
        v1, first1, scale1, last1, cond1, g1, b1 = (Signal(name="v1"), Signal(name="first1"), Signal(name="scale1"),
                                                    Signal(name="last1"), Signal(name="cond1"),
                                                    Signal(_bits_for(G), name="g1"), Signal(b_w, name="b1"))
        v2, first2, scale2, last2, cond2, g2, b2 = (Signal(name="v2"), Signal(name="first2"), Signal(name="scale2"),
                                                    Signal(name="last2"), Signal(name="cond2"),
                                                    Signal(_bits_for(G), name="g2"), Signal(b_w, name="b2"))
        m.d.sync += [v1.eq(seq_active & ~stall & ~flush), first1.eq(seq_first), scale1.eq(seq_scale),
                     last1.eq(seq_last), cond1.eq(seq_cond), g1.eq(seq_g), b1.eq(seq_b),
                     v2.eq(v1 & ~flush), first2.eq(first1), scale2.eq(scale1), last2.eq(last1), cond2.eq(cond1),
                     g2.eq(g1), b2.eq(b1)]
        # The core's copy of the control through the lane blocks (MacBlock.latency stages): stage A accumulates.
        va, lasta, conda, ga, ba = v2, last2, cond2, g2, b2
        stage_valids = []
        for k in range(3, 3 + MacBlock.latency):
            nv, nl, nc, ng, nb = (Signal(name=f"v{k}"), Signal(name=f"last{k}"), Signal(name=f"cond{k}"),
                                  Signal(_bits_for(G), name=f"g{k}"), Signal(b_w, name=f"b{k}"))
            m.d.sync += [nv.eq(va & ~flush), nl.eq(lasta), nc.eq(conda), ng.eq(ga), nb.eq(ba)]
            va, lasta, conda, ga, ba = nv, nl, nc, ng, nb
            stage_valids.append(nv)
        trig_addr = Signal(_bits_for(BN))  # registered: the trig buffers' MAC read address (port B)
        m.d.sync += trig_addr.eq(t_off + seq_col)
        m.d.comb += [trig_b_rd[0].addr.eq(trig_addr), trig_b_rd[1].addr.eq(trig_addr)]
        trig_s = trig_mac[:S].as_signed()
        trig_c = trig_mac[S:].as_signed()
        acc_w = p.acc_bits
        kcol = self._k_stream(m, p, busy, seq_start, flush, col_valid, col_pop, k_addr, axi_error, ctrl_clear) \
            if streamed else None
        if streamed:
            kcol2 = Signal(len(kcol), name="kcol2")  # the column register, aligned with the stage-2 memory data
            m.d.sync += kcol2.eq(kcol)
        hand = Signal()
        m.d.comb += hand.eq(va & lasta & ~flush)
        kinds = lane_kinds(L, p.dsp_lanes, p.pack_shift)
        holds_s = [[None] * L for _ in range(B)]
        holds_c = [[None] * L for _ in range(B)]
        for bi, lanes_b in enumerate(blocks):
            blk = MacBlock([kinds[l] for l in lanes_b], p.digit_bits, S, acc_w, c_bits, p.pack_shift, B,
                           prefix=f"blk{bi}")
            m.submodules[f"macblk{bi}"] = blk
            # Per-block copies of the stage-1 addresses and of the stage-2 digit selects.
            bk_addr = Signal(_bits_for(p.k_bank_depth), name=f"kaddr_b{bi}")
            bd_addr = Signal(_bits_for(p.drive_bank_depth), name=f"daddr_b{bi}")
            usek_1, pass_1 = Signal(name=f"usek1_b{bi}"), Signal(_bits_for(PD), name=f"pass1_b{bi}")
            usek_2, pass_2 = Signal(name=f"usek2_b{bi}"), Signal(_bits_for(PD), name=f"pass2_b{bi}")
            m.d.sync += [bk_addr.eq(kaddr), bd_addr.eq(seq_daddr), usek_1.eq(seq_usek), pass_1.eq(seq_pass),
                         usek_2.eq(usek_1), pass_2.eq(pass_1)]
            m.d.comb += [blk.trig_s.eq(trig_s), blk.trig_c.eq(trig_c), blk.valid.eq(v2 & ~flush),
                         blk.first.eq(first2), blk.scale.eq(scale2), blk.last.eq(last2), blk.sample.eq(b2)]
            for i, l in enumerate(lanes_b):
                if streamed:
                    kw = kcol2[(l // per_k) * BUS_BITS + (l % per_k) * c_bits:][:c_bits].as_signed()
                else:
                    kw = k_rd[l].data
                    m.d.comb += k_rd[l].addr.eq(bk_addr)
                m.d.comb += d_rd[l].addr.eq(bd_addr)
                # Digits of the drive weight: PD fields of c bits, the top one signed, the others unsigned.
                wide = Signal(signed(PD * c_bits), name=f"dw{l}")
                m.d.comb += wide.eq(d_rd[l].data)
                digits = [Cat(wide[k * c_bits:(k + 1) * c_bits], Const(0, 1)).as_signed() for k in range(PD - 1)]
                digits.append(wide[(PD - 1) * c_bits:].as_signed())
                m.d.comb += blk.digit[i].eq(Mux(usek_2, kw, _pick(digits, pass_2)))
                for b in range(B):
                    holds_s[b][l], holds_c[b][l] = blk.hold_s[b][i], blk.hold_c[b][i]

        # Row feeders, one per sample: the hold registers of the finished group's accumulators, read one row per
        # clock through a multiplexer; the post-processor takes the rows of feeder fb, samples in order (feeder b is
        # loaded again B*(n + M*PD) clocks later). The ragged last group feeds its last_group_rows rows only.
        init_active = Signal()
        init_row = Signal(idx_w)
        fb = Signal(b_w)
        rows_left = [Signal(_bits_for(L), name=f"rows_left{b}") for b in range(B)]
        feed_row = [Signal(row_w, name=f"feed_row{b}") for b in range(B)]
        feed_lane = [Signal(max(1, ceil_log2(L)), name=f"feed_lane{b}") for b in range(B)]
        feeding = Signal()
        post_v, post_row, post_idx, post_init = Signal(), Signal(row_w), Signal(idx_w), Signal()
        post_s, post_c = Signal(signed(acc_w)), Signal(signed(acc_w))
        heads_s, heads_c = [], []
        for b in range(B):
            with m.If(hand & (ba == b)):
                m.d.sync += [rows_left[b].eq(Mux(conda, M, Mux(ga == G - 1, p.last_group_rows, L))),
                             feed_row[b].eq(Mux(conda, n, ga * L)), feed_lane[b].eq(0)]
            with m.Elif((fb == b) & (rows_left[b] != 0)):
                m.d.sync += [rows_left[b].eq(rows_left[b] - 1), feed_row[b].eq(feed_row[b] + 1),
                             feed_lane[b].eq(feed_lane[b] + 1)]
                with m.If(rows_left[b] == 1):
                    m.d.sync += fb.eq(0 if b == B - 1 else b + 1)
            heads_s.append(Cat(*holds_s[b]).word_select(feed_lane[b], acc_w).as_signed() if L > 1 else holds_s[b][0])
            heads_c.append(Cat(*holds_c[b]).word_select(feed_lane[b], acc_w).as_signed() if L > 1 else holds_c[b][0])
        m.d.comb += [feeding.eq(_pick(rows_left, fb) != 0),
                     post_v.eq((feeding | init_active) & ~flush), post_init.eq(init_active),
                     post_row.eq(_pick(feed_row, fb)),
                     post_idx.eq(Mux(init_active, init_row, _pick([Const(b * nt, idx_w) for b in range(B)], fb)
                                     + _pick(feed_row, fb))),
                     post_s.eq(_pick(heads_s, fb)), post_c.eq(_pick(heads_c, fb))]
        with m.If(flush):
            m.d.sync += [init_active.eq(0), fb.eq(0)] + [r.eq(0) for r in rows_left]

        # ------------------------------------------------------------------ post-processor
        # POST_LATENCY stages, one row per clock; each stage is one register deep so no path is long (docs/rtl.md,
        # docs/resources.md logic depth). Every row's side data (row index, init flag, theta, omega, gain) rides
        # along in its stage's registers.
        # Q0: issue reads for row i.
        m.d.comb += [gain_rd.addr.eq(post_row), omega_rd.addr.eq(post_row)]
        rb_addr = Signal(idx_w)
        m.d.comb += phase_rd.addr.eq(Mux(rb_busy, rb_addr, post_idx))

        def pipe(name, shape, src, valid_chain=False):
            sig = Signal(shape, name=name)
            m.d.sync += sig.eq(src & ~flush if valid_chain else src)
            return sig

        post_valid = [pipe("q1v", 1, post_v, True)]

        def stage(k, prev, **carried):
            """Stage Qk's valid bit (from Q(k-1)'s) and the registered copies of `carried` (name: source)."""
            post_valid.append(pipe(f"q{k}v", 1, prev, True))
            return post_valid[-1], {name: pipe(f"q{k}{name}", src.shape(), src)
                                    for name, src in carried.items()}

        q1row, q1init = pipe("q1row", idx_w, post_idx), pipe("q1init", 1, post_init)
        q1s, q1c = pipe("q1s", signed(acc_w), post_s), pipe("q1c", signed(acc_w), post_c)
        # Q1: memory data valid: register the operands of the sin/cos identity's products (the DSPs' A/B
        # registers) and the row's theta, omega, gain.
        own_s = trig_own[:S].as_signed()
        own_c = trig_own[S:].as_signed()
        q2v, q2 = stage(2, post_valid[0], row=q1row, init=q1init, s=q1s, c=q1c, own_s=own_s, own_c=own_c)
        q2th, q2om, q2g = (pipe("q2th", signed(P), phase_rd.data), pipe("q2om", signed(BUS_BITS), omega_rd.data),
                           pipe("q2g", unsigned(s.gain_bits), gain_rd.data))
        # Q2: the two products (DSP M registers); theta + omega.
        q3v, q3 = stage(3, q2v, row=q2["row"], init=q2["init"], th=q2th)
        q3a = pipe("q3a", signed(acc_w + S), q2["own_c"] * q2["s"])
        q3b = pipe("q3b", signed(acc_w + S), q2["own_s"] * q2["c"])
        q3tom = pipe("q3tom", signed(max(P, BUS_BITS) + 1), q2th + q2om)
        q3g = pipe("q3g", unsigned(s.gain_bits), q2g)
        # Q3: the products once more (DSP P registers: a cascade's partial sums end in a register).
        q4v, q4 = stage(4, q3v, row=q3["row"], init=q3["init"], th=q3["th"], tom=q3tom, g=q3g, a=q3a, b=q3b)
        # Q4: u.
        q5v, q5 = stage(5, q4v, row=q4["row"], init=q4["init"], th=q4["th"], tom=q4["tom"])
        q5u = pipe("q5u", signed(p.u_bits), q4["a"] - q4["b"])
        q5g = pipe("q5g", unsigned(s.gain_bits), q4["g"])
        # Q5: (u >> T) * g (DSP M registers), then Q6 once more (P registers).
        q6v, q6 = stage(6, q5v, row=q5["row"], init=q5["init"], th=q5["th"], tom=q5["tom"])
        q6x = pipe("q6x", signed(p.scaled_bits), (q5u >> p.pre_shift) * q5g)
        q7v, q7 = stage(7, q6v, row=q6["row"], init=q6["init"], th=q6["th"], tom=q6["tom"], x=q6x)
        # Q7: + 2**(R-1) (exact: SB+2 bits hold x + half for every R).
        half = Signal(p.scaled_bits + 1)
        m.d.comb += half.eq((Const(1, 1) << gain_shift)[1:])
        q8v, q8 = stage(8, q7v, row=q7["row"], init=q7["init"], th=q7["th"], tom=q7["tom"])
        q8y = pipe("q8y", signed(p.scaled_bits + 2), q7["x"] + half)
        # Q8, Q9: d = y >> R as two shifts, by 8*R[3:] and then by R[:3] (floor(floor(y/2^a)/2^b) = floor(y/2^(a+b))).
        q9v, q9 = stage(9, q8v, row=q8["row"], init=q8["init"], th=q8["th"], tom=q8["tom"])
        q9y = pipe("q9y", signed(p.scaled_bits + 2), q8y >> Cat(Const(0, 3), gain_shift[3:]))
        q10v, q10 = stage(10, q9v, row=q9["row"], init=q9["init"], th=q9["th"], tom=q9["tom"])
        q10d = pipe("q10d", signed(p.scaled_bits + 1), q9y >> gain_shift[:3])
        # Q10: the new phase before wrapping.
        q11v, q11 = stage(11, q10v, row=q10["row"], init=q10["init"], th=q10["th"])
        total = pipe("q11total", signed(max(P, BUS_BITS, p.scaled_bits + 1) + 2), q10["tom"] + q10d)
        # Q11: wrap the new phase, detect overflow.
        wrapped = Signal(signed(P))
        m.d.comb += wrapped.eq(total[:P])
        q12v, q12 = stage(12, q11v, row=q11["row"], init=q11["init"])
        q12ph = pipe("q12ph", signed(P), Mux(q11["init"], q11["th"], wrapped))
        q12ovf = pipe("q12ovf", 1, ~q11["init"] & (total != wrapped))
        assert len(post_valid) == self.POST_LATENCY
        # Q12: write back, start the CORDIC.
        m.d.comb += [phase_wr.en.eq(Mux(busy, q12v & ~q12["init"], is_tgt["phase"])),
                     phase_wr.addr.eq(Mux(busy, q12["row"], load_count)),
                     phase_wr.data.eq(Mux(busy, q12ph, word[:P]))]
        with m.If(q12v & q12ovf):
            m.d.sync += overflow.eq(1)
        cordic = CordicPipeline(s, tag_bits=idx_w)
        m.submodules.cordic = cordic
        m.d.comb += [cordic.in_valid.eq(q12v), cordic.in_phase.eq(q12ph), cordic.in_tag.eq(q12["row"]),
                     cordic.flush.eq(flush)]
        for h in range(2):  # port A of buffer h: own-trig read while current, CORDIC write while next
            m.d.comb += [trig_a_rd[h].addr.eq(Mux(cur == h, post_idx, cordic.out_tag)),
                         trig_a_wr[h].addr.eq(trig_a_rd[h].addr),
                         trig_a_wr[h].en.eq(Mux(cur != h, cordic.out_valid & busy, 0)),
                         trig_a_wr[h].data.eq(Cat(cordic.out_sin, cordic.out_cos))]

        # Anything still in flight (the step ends when this drops).
        inflight = Signal()
        m.d.comb += inflight.eq(seq_active | v1 | v2 | Cat(*stage_valids).any() | feeding | init_active
                                | Cat(*post_valid).any()
                                | self._cordic_busy(m, cordic) | (self._k_busy if streamed else 0))

        # ------------------------------------------------------------------ control FSM
        m.d.sync += cycles.eq(Mux(busy, cycles + 1, cycles))
        m.d.sync += step_cycles_cnt.eq(step_cycles_cnt + 1)
        with m.If(ctrl_clear):
            m.d.sync += [done.eq(0), overflow.eq(0), load_error.eq(0), axi_error.eq(0)]
        # The run state machine. ABORT wins over everything (flush clears the pipelines in the same clock).
        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                m.d.sync += busy.eq(0)
                with m.If(ctrl_start & ~rb_busy & ~ctrl_abort):
                    m.d.sync += [busy.eq(1), done.eq(0), overflow.eq(0), cycles.eq(1), steps_done.eq(0),
                                 step_count.eq(0), init_active.eq(1), init_row.eq(0), axi_error.eq(0)]
                    m.next = "INIT"
            with m.State("INIT"):
                with m.If(ctrl_abort):
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Elif(init_active):
                    m.d.sync += init_row.eq(init_row + 1)
                    with m.If(init_row == BN - 1):
                        m.d.sync += init_active.eq(0)
                with m.Elif(~inflight):
                    m.d.sync += cur.eq(~cur)
                    m.next = "NEXT"
            with m.State("NEXT"):
                with m.If(ctrl_abort):
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Elif(steps_done == steps_reg):
                    m.d.sync += [busy.eq(0), done.eq(1)]
                    m.d.comb += irq_set.eq(1)
                    m.next = "IDLE"
                with m.Elif(~self._k_draining if streamed else Const(1)):
                    m.d.comb += seq_start.eq(1)
                    m.d.sync += [step_cycles_cnt.eq(1), k_wait_cnt.eq(0)]
                    m.next = "STEP"
            with m.State("STEP"):
                with m.If(ctrl_abort):
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Elif(~inflight):
                    m.d.sync += [cur.eq(~cur), steps_done.eq(steps_done + 1), step_count.eq(steps_done + 1),
                                 step_cycles.eq(step_cycles_cnt), k_wait.eq(k_wait_cnt)]
                    m.next = "NEXT"

        # ------------------------------------------------------------------ readback stream
        rb_hold = Signal()
        m.d.comb += [self.m_axis_tvalid.eq(rb_busy & rb_hold), self.m_axis_tdata.eq(phase_rd.data),
                     self.m_axis_tlast.eq(rb_addr == BN - 1)]
        with m.If(rb_busy):
            with m.If(~rb_hold):
                m.d.sync += rb_hold.eq(1)  # read data for rb_addr arrives this clock
            with m.Elif(self.m_axis_tready):
                m.d.sync += rb_hold.eq(0)
                with m.If(rb_addr == BN - 1):
                    m.d.sync += rb_busy.eq(0)
                with m.Else():
                    m.d.sync += rb_addr.eq(rb_addr + 1)
        with m.Elif(ctrl_readback & ~busy):
            m.d.sync += [rb_busy.eq(1), rb_hold.eq(0), rb_addr.eq(0)]
        with m.If(ctrl_abort):
            m.d.sync += [rb_busy.eq(0), rb_hold.eq(0)]
        return m

    def _k_stream(self, m, p, busy, seq_start, flush, col_valid, col_pop, k_addr, axi_error, ctrl_clear):
        """The K reader of a streamed-K build; returns the column register the lanes read (k_column_words packed
        words, valid from the clock after `col_pop`).

        One AXI4 read master per port q (m_axi{q}_*, AR and R only): from `seq_start` it requests the step's
        p.k_bursts 16-beat INCR bursts of plane q from K_ADDR{q} (burst-aligned: the low bits are ignored)
        whenever its beat FIFO has room for a whole burst (at most K_READS_IN_FLIGHT in flight). The assembler
        takes one beat from every FIFO at once (a wide beat, plane q in bits [64q, 64q+64)), collects
        k_column_beats wide beats into a column and drops the padding beats after the last column. An ABORT
        drains the reads already issued before the next step may start (self._k_draining). A non-OKAY rresp sets
        STATUS.AXI_ERROR (sticky). self._k_busy: the step's beats are not all consumed.
        """
        D, Q, cb, cw = AXI_DATA_BITS, p.k_ports, p.k_column_beats, p.k_column_words
        W = Q * D
        used, total = p.k_beats_used, p.k_bursts * AXI_BURST_BEATS
        beat_idx = Signal(_bits_for(total))
        draining = Signal()
        asm = Signal(cb * W)
        asm_cnt = Signal(_bits_for(cb))
        col_next = Signal(cw * BUS_BITS)
        kcol = Signal(cw * BUS_BITS)
        self._k_busy = Signal(name="k_busy")
        self._k_draining = draining
        moving, take, drop, all_rdy, quiet = Signal(), Signal(), Signal(), Signal(), Signal()
        fifos, quiets = [], []
        for q in range(Q):
            def port(name, q=q):
                return getattr(self, f"m_axi{q}_{name}")
            kfifo = fifo.SyncFIFOBuffered(width=D, depth=K_FIFO_BEATS)
            m.submodules[f"kfifo{q}"] = kfifo
            fifos.append(kfifo)
            ar_count = Signal(_bits_for(p.k_bursts), name=f"ar_count{q}")
            ar_addr = Signal(32, name=f"ar_addr{q}")
            reserved = Signal(_bits_for(K_FIFO_BEATS), name=f"reserved{q}")  # in the FIFO + requested, not arrived
            in_flight = Signal(_bits_for(K_READS_IN_FLIGHT + 1), name=f"in_flight{q}")  # bursts not yet complete
            # AR: one ID, in order; bursts meet AXI3's limits, so an HP port takes them unsplit (PG059).
            m.d.comb += [port("arid").eq(0), port("araddr").eq(ar_addr), port("arlen").eq(AXI_BURST_BEATS - 1),
                         port("arsize").eq(ceil_log2(D // 8)), port("arburst").eq(AXI_BURST_INCR),
                         port("arlock").eq(0), port("arcache").eq(AXI_CACHE_NORMAL), port("arprot").eq(0)]
            ar_fire, r_fire, issue = Signal(name=f"ar_fire{q}"), Signal(name=f"r_fire{q}"), Signal(name=f"issue{q}")
            m.d.comb += [ar_fire.eq(port("arvalid") & port("arready")), r_fire.eq(port("rvalid") & port("rready")),
                         issue.eq(busy & ~draining & ~seq_start & ~port("arvalid") & (ar_count < p.k_bursts)
                                  & (reserved <= K_FIFO_BEATS - AXI_BURST_BEATS) & (in_flight < K_READS_IN_FLIGHT))]
            with m.If(seq_start):
                m.d.sync += [ar_count.eq(0), ar_addr.eq(Cat(Const(0, ceil_log2(AXI_BURST_BYTES)),
                                                            k_addr[q][ceil_log2(AXI_BURST_BYTES):]))]
            with m.Elif(ar_fire):
                m.d.sync += [port("arvalid").eq(0), ar_count.eq(ar_count + 1), ar_addr.eq(ar_addr + AXI_BURST_BYTES)]
            with m.Elif(issue):
                m.d.sync += port("arvalid").eq(1)
            with m.If(~busy & ~port("arvalid")):  # idle: no burst may leave before the next step's seq_start
                m.d.sync += ar_count.eq(p.k_bursts)
            # R into the FIFO (never full: every beat was reserved).
            m.d.comb += [port("rready").eq(kfifo.w_rdy), kfifo.w_data.eq(port("rdata")), kfifo.w_en.eq(r_fire)]
            with m.If(r_fire & (port("rresp") != 0)):
                m.d.sync += axi_error.eq(1)
            # Pops: a wide beat taken or dropped (all ports together), or, while draining, any beat of this port.
            pop = Signal(name=f"pop{q}")
            m.d.comb += [kfifo.r_en.eq(take | drop | draining), pop.eq(kfifo.r_en & kfifo.r_rdy)]
            m.d.sync += [in_flight.eq(in_flight + ar_fire - (r_fire & port("rlast"))),
                         reserved.eq(reserved + Mux(issue, AXI_BURST_BEATS, 0) - pop)]
            quiets.append(~port("arvalid") & (in_flight == 0) & (reserved == 0))

        # Column assembler: cb wide beats (lowest address first) -> col_next -> kcol (the lanes' weights).
        m.d.comb += [
            all_rdy.eq(Cat(*[f.r_rdy for f in fifos]).all()),
            quiet.eq(Cat(*quiets).all()),
            moving.eq((asm_cnt == cb) & (~col_valid | col_pop)),
            take.eq(all_rdy & ~draining & (beat_idx < used) & ((asm_cnt < cb) | moving)),
            drop.eq(all_rdy & ~draining & (beat_idx >= used) & (beat_idx < total)),
            self._k_busy.eq(beat_idx < total),
        ]
        wide = Cat(*[f.r_data for f in fifos])
        with m.If(take | drop):
            m.d.sync += beat_idx.eq(beat_idx + 1)
        with m.If(take):
            m.d.sync += asm.eq(wide if cb == 1 else Cat(asm[W:], wide))
        m.d.sync += asm_cnt.eq(Mux(moving, 0, asm_cnt) + take)
        with m.If(moving):
            m.d.sync += [col_next.eq(asm[:cw * BUS_BITS]), col_valid.eq(1)]
        with m.Elif(col_pop):
            m.d.sync += col_valid.eq(0)
        with m.If(col_pop):
            m.d.sync += kcol.eq(col_next)
        with m.If(seq_start):
            m.d.sync += [beat_idx.eq(0), asm_cnt.eq(0), col_valid.eq(0)]
        with m.If(~busy & ~seq_start):
            m.d.sync += beat_idx.eq(total)  # idle: no step's beats expected
        # ABORT: stop consuming; every port drops the beats of the bursts it already requested, then the next step
        # may start.
        with m.If(flush & (self._k_busy | ~quiet)):
            m.d.sync += [draining.eq(1), beat_idx.eq(total), asm_cnt.eq(0), col_valid.eq(0)]
        with m.Elif(draining & quiet):
            m.d.sync += draining.eq(0)
        return kcol

    @staticmethod
    def _cordic_busy(m, cordic):
        """OR of the CORDIC's internal valid bits (looked up by name after elaboration is not possible, so the
        pipeline exposes its depth and we track samples in flight with a counter)."""
        count = Signal(range(cordic.latency + 2), name="cordic_inflight")
        inc, dec = cordic.in_valid & ~cordic.flush, cordic.out_valid
        with m.If(cordic.flush):
            m.d.sync += count.eq(0)
        with m.Elif(inc & ~dec):
            m.d.sync += count.eq(count + 1)
        with m.Elif(dec & ~inc):
            m.d.sync += count.eq(count - 1)
        return (count != 0) | cordic.in_valid
