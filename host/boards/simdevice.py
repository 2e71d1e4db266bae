"""A pynq Device whose register space is the RTL simulation (SimClient) plus an emulated Xilinx AXI DMA.

With it the *real* pynq code runs unchanged against the simulated core: pynq.MMIO (REGISTER_RW path),
pynq.lib.dma.DMA (simple mode, polled) and pynq.allocate (buffers with device addresses). Address map
(a PYNQ-Z2 style block design):

    CORE_BASE  0x4000_0000  the core's 4 KiB AXI4-Lite window -> SimClient.read_reg / write_reg
    DMA_BASE   0x4040_0000  AXI DMA register file (PG021, simple mode):
               MM2S_DMACR 0x00, MM2S_DMASR 0x04, MM2S_SA 0x18/0x1C, MM2S_LENGTH 0x28
               S2MM_DMACR 0x30, S2MM_DMASR 0x34, S2MM_DA 0x48/0x4C, S2MM_LENGTH 0x58
    buffers    0x1000_0000 upwards (allocate())

Writing MM2S_LENGTH streams the source buffer into the core (SimClient.stream_in, tlast on the last
word). Writing S2MM_LENGTH arms the receive side; the words are pulled (SimClient.stream_out) when the
driver polls S2MM_DMASR, i.e. after it has told the core to start its readback, as on hardware.
Simulated time only advances when the host waits: a STATUS read that finds the core busy lets the
simulation run until the done interrupt (or a chunk of cycles), standing in for the wall time that
passes between two polls on a real board.

Streamed-K cores read K planes from DDR themselves (AXI4 read masters on HP ports). The buffers live here
(allocate()); the simulated DDR behind the core's read ports is a copy that SimDevice refreshes when the host
writes CTRL.START: every allocation a K_ADDR<q> register points at is sent (SimClient.mem_write) if its bytes
changed since it was last sent, so the simulated core reads what the host wrote, as the real core reads DDR.
"""
from __future__ import annotations

import weakref

import numpy as np
from pynq.buffer import PynqBuffer
from pynq.pl_server.device import Device

from bitstreams.board_config import CONFIGS as BOARDS
from rtl import regs

from .base import BoardDisconnected, BoardError, BoardTimeout

PYNQ_Z2_BOARD = BOARDS["pynq-z2"]  # the simulated overlay has the PYNQ-Z2 build's address map
CORE_BASE = PYNQ_Z2_BOARD.core_base
CORE_RANGE = 1 << regs.ADDR_BITS
DMA_BASE = PYNQ_Z2_BOARD.dma_base
DMA_RANGE = 0x1_0000
BUFFER_BASE = 0x1000_0000
#: cycles the simulation may run per busy STATUS poll
POLL_CHUNK_CYCLES = 1 << 22

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
CORE_VLNV = PYNQ_Z2_BOARD.core_vlnv  # what the .hwh of the PYNQ-Z2 build records for the core

# PG021 register bits
DMACR_RS, DMACR_RESET = 0x1, 0x4
DMASR_HALTED, DMASR_IDLE, DMASR_INT_ERR, DMASR_SLV_ERR, DMASR_DEC_ERR, DMASR_IOC = 0x1, 0x2, 0x10, 0x20, 0x40, 0x1000
_SIM_ERRORS = (OSError, EOFError, ConnectionError, BrokenPipeError)

_STATUS = regs.OFFSETS["STATUS"]
_CTRL = regs.OFFSETS["CTRL"]
_START = regs.bits("CTRL", "START")
_K_ADDR = {regs.OFFSETS[f"K_ADDR{q}"] for q in range(regs.K_PORTS_MAX)}
_BUSY = regs.bits("STATUS", "BUSY")
_DONE = regs.bits("STATUS", "DONE")


class _Channel:
    def __init__(self, base: int):
        self.base = base  # 0x00 MM2S, 0x30 S2MM
        self.cr = 0
        self.sr = DMASR_HALTED
        self.addr = 0
        self.length = 0
        self.pending = None  # S2MM: (address, nbytes) armed, not yet pulled


#: pynq.allocate hands out whole pages of the contiguous pool (the kernel's dma_alloc_coherent / CMA allocate in
#: pages), so every buffer address is 4096-byte aligned; the streamed-K driver relies on 128-byte alignment.
PAGE_BYTES = 4096


class SimDevice(Device):
    """pynq Device for a SimClient (any object with read_reg/write_reg/stream_in/stream_out/wait_irq)."""

    def __init__(self, client, tag: str = "sim0"):
        super().__init__(tag)
        self.capabilities = {"REGISTER_RW": True}
        self.client = client
        self._chan = {0x00: _Channel(0x00), 0x30: _Channel(0x30)}
        self._allocs: dict[int, tuple[weakref.ref, int]] = {}
        self._next = BUFFER_BASE
        self._k_addr: dict[int, int] = {}  # K_ADDR<q> offset -> bus address written
        self._ddr_sent: dict[int, bytes] = {}  # allocation base -> digest of the bytes the simulated DDR holds
        self.poll_chunk_cycles = POLL_CHUNK_CYCLES
        self.stats = {"reg_reads": 0, "reg_writes": 0, "words_in": 0, "words_out": 0, "polls_waited": 0,
                      "sim_cpu_s": 0.0}
        self.ip_dict = self.make_ip_dict()
        self.mem_dict, self.gpio_dict, self.interrupt_controllers, self.interrupt_pins = {}, {}, {}, {}
        self.hierarchy_dict = {}

    # ---- what an HWH would say -------------------------------------------------------------------------
    def make_ip_dict(self) -> dict:
        """The two IP entries of the block design, in pynq's ip_dict shape."""
        dma_params = {"c_include_sg": "0", "c_micro_dma": "0", "c_sg_length_width": "26",
                      "c_include_mm2s": "1", "c_include_s2mm": "1", "c_include_mm2s_dre": "0",
                      "c_include_s2mm_dre": "0", "c_m_axi_mm2s_data_width": "32", "c_m_axi_s2mm_data_width": "32"}
        return {
            PYNQ_Z2_BOARD.core_instance: {"fullpath": PYNQ_Z2_BOARD.core_instance, "type": CORE_VLNV, "phys_addr": CORE_BASE,
                           "addr_range": CORE_RANGE, "parameters": {}, "interrupts": {}, "gpio": {},
                           "device": self, "state": None},
            "axi_dma_0": {"fullpath": "axi_dma_0", "type": DMA_VLNV, "phys_addr": DMA_BASE, "addr_range": DMA_RANGE,
                          "parameters": dma_params, "interrupts": {}, "gpio": {}, "device": self, "state": None},
        }

    def get_bitfile_metadata(self, bitfile_name, partial=False):
        return None

    # ---- memory ---------------------------------------------------------------------------------------
    def allocate(self, shape, dtype, **kwargs):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        addr = self._next  # page-aligned, as pynq.allocate's contiguous (CMA) buffers are on the board
        self._next += (max(nbytes, 1) + PAGE_BYTES - 1) // PAGE_BYTES * PAGE_BYTES
        buf = PynqBuffer(shape, dtype, device=self, device_address=addr, bo=None, coherent=True)
        self._allocs[addr] = (weakref.ref(buf), nbytes)
        return buf

    def flush(self, bo, offset, ptr, size):  # coherent buffers: nothing to do
        pass

    def invalidate(self, bo, offset, ptr, size):
        pass

    def _memory(self, addr: int, nbytes: int) -> np.ndarray | None:
        """A uint8 view of [addr, addr+nbytes) inside one live allocation, or None (decode error)."""
        for base, (ref, size) in self._allocs.items():
            if base <= addr and addr + nbytes <= base + size:
                buf = ref()
                if buf is None:
                    return None
                flat = np.asarray(buf).reshape(-1).view(np.uint8)
                return flat[addr - base:addr - base + nbytes]
        return None

    # ---- register space ---------------------------------------------------------------------------------
    def read_registers(self, address, length):
        if length != 4:
            raise ValueError(f"SimDevice supports 32-bit register reads only (got {length} bytes)")
        return int(self._read(address)).to_bytes(4, "little")

    def write_registers(self, address, data):
        data = bytes(data)
        if len(data) % 4:
            raise ValueError("register writes must be whole 32-bit words")
        for i in range(0, len(data), 4):
            self._write(address + i, int.from_bytes(data[i:i + 4], "little"))

    def _read(self, address: int) -> int:
        self.stats["reg_reads"] += 1
        if CORE_BASE <= address < CORE_BASE + CORE_RANGE:
            off = address - CORE_BASE
            value = self._sim(self.client.read_reg, off)
            if off == _STATUS and value & _BUSY and not value & _DONE:
                self._advance()
                value = self._sim(self.client.read_reg, off)
            return value
        if DMA_BASE <= address < DMA_BASE + DMA_RANGE:
            return self._dma_read(address - DMA_BASE)
        raise BoardDisconnected(f"read of unmapped address {address:#x} (bus error on hardware)")

    def _write(self, address: int, value: int) -> None:
        self.stats["reg_writes"] += 1
        if CORE_BASE <= address < CORE_BASE + CORE_RANGE:
            off = address - CORE_BASE
            if off in _K_ADDR:
                self._k_addr[off] = value
            elif off == _CTRL and value & _START and self._k_addr:
                self._sync_ddr()
            self._sim(self.client.write_reg, off, value)
        elif DMA_BASE <= address < DMA_BASE + DMA_RANGE:
            self._dma_write(address - DMA_BASE, value)
        else:
            raise BoardDisconnected(f"write to unmapped address {address:#x} (bus error on hardware)")

    def _sync_ddr(self) -> None:
        """Send every allocation a K_ADDR register points at to the simulated DDR, if it changed."""
        import hashlib

        for addr in sorted(set(self._k_addr.values())):
            for base, (ref, size) in self._allocs.items():
                buf = ref()
                if buf is None or not base <= addr < base + size:
                    continue
                data = np.asarray(buf).reshape(-1).view(np.uint8).tobytes()
                digest = hashlib.sha256(data).digest()
                if self._ddr_sent.get(base) != digest:
                    self._sim(self.client.mem_write, base, data)
                    self._ddr_sent[base] = digest

    def _advance(self) -> None:
        """Let simulated time pass while the host waits for the core."""
        self.stats["polls_waited"] += 1
        try:
            self.client.wait_irq(self.poll_chunk_cycles)
        except TimeoutError:
            pass  # still busy after a chunk: the driver polls again (and owns the wall-clock timeout)
        except _SIM_ERRORS as e:
            raise BoardDisconnected(f"the RTL simulation went away ({type(e).__name__}: {e})") from None
        self._count_cpu()

    def _count_cpu(self) -> None:
        """CPU seconds the simulator spent on the last call, when the client reports it (load-independent)."""
        self.stats["sim_cpu_s"] += float(getattr(self.client, "last_cpu_s", 0.0) or 0.0)

    def _sim(self, fn, *args):
        try:
            out = fn(*args)
            self._count_cpu()
            return out
        except _SIM_ERRORS as e:
            raise BoardDisconnected(f"the RTL simulation went away ({type(e).__name__}: {e})") from None
        except TimeoutError as e:
            raise BoardTimeout(f"the RTL simulation did not answer: {e}") from None
        except (RuntimeError, ValueError) as e:  # a bus error response or a malformed stream in the simulation
            raise BoardError(f"the simulated core reported an error: {e}") from None

    # ---- AXI DMA emulation ---------------------------------------------------------------------------------
    def _channel(self, off: int) -> tuple[_Channel, int]:
        base = 0x30 if off >= 0x30 else 0x00
        return self._chan[base], off - base

    def _dma_read(self, off: int) -> int:
        ch, reg = self._channel(off)
        if reg == 0x00:
            return ch.cr
        if reg == 0x04:
            if ch.pending is not None:
                self._pull(ch)
            return ch.sr
        if reg == 0x18:
            return ch.addr & 0xFFFFFFFF
        if reg == 0x1C:
            return ch.addr >> 32
        if reg == 0x28:
            return ch.length
        return 0

    def _dma_write(self, off: int, value: int) -> None:
        ch, reg = self._channel(off)
        if reg == 0x00:
            if value & DMACR_RESET:
                ch.cr, ch.sr, ch.pending = 0, DMASR_HALTED, None
                return
            ch.cr = value
            if value & DMACR_RS:
                ch.sr &= ~DMASR_HALTED
            else:
                ch.sr |= DMASR_HALTED
                ch.pending = None
        elif reg == 0x04:  # W1C interrupt bits
            ch.sr &= ~(value & 0x7000)
        elif reg == 0x18:
            ch.addr = (ch.addr & ~0xFFFFFFFF) | value
        elif reg == 0x1C:
            ch.addr = (ch.addr & 0xFFFFFFFF) | (value << 32)
        elif reg == 0x28:
            self._start(ch, value)

    def _start(self, ch: _Channel, nbytes: int) -> None:
        if ch.sr & DMASR_HALTED:
            return  # PG021: LENGTH writes are ignored while halted
        ch.sr &= ~(DMASR_IDLE | DMASR_INT_ERR | DMASR_DEC_ERR)
        ch.length = nbytes
        if nbytes == 0 or nbytes % 4:
            ch.sr |= DMASR_INT_ERR | DMASR_HALTED
            return
        if self._memory(ch.addr, nbytes) is None:
            ch.sr |= DMASR_DEC_ERR | DMASR_HALTED
            return
        if ch.base == 0x00:  # MM2S: memory -> core now
            words = self._memory(ch.addr, nbytes).view(np.uint32).copy()
            self._sim(self.client.stream_in, words)
            self.stats["words_in"] += words.size
            ch.sr |= DMASR_IDLE | DMASR_IOC
        else:
            ch.pending = (ch.addr, nbytes)

    def _pull(self, ch: _Channel) -> None:
        addr, nbytes = ch.pending
        ch.pending = None
        words = np.asarray(self._sim(self.client.stream_out, nbytes // 4), dtype=np.uint32)
        mem = self._memory(addr, nbytes)
        if mem is None:
            ch.sr |= DMASR_DEC_ERR | DMASR_HALTED
            return
        mem[:words.nbytes] = words.view(np.uint8)
        self.stats["words_out"] += words.size
        ch.length = words.nbytes
        ch.sr |= DMASR_IDLE | DMASR_IOC


class SimOverlay:
    """What pynq.Overlay(bitfile) is on the board, for the simulated PL: each IP of SimDevice.ip_dict is an
    attribute bound to its driver by pynq's own VLNV binding (pynq.overlay), so `SimOverlay(dev).osc_core_0`
    is a host.boards.pynq_ip.OscillatorIP (host.pynq_driver.OscillatorCore once that is imported) and `.axi_dma_0` a pynq.lib.dma.DMA, exactly as on the PYNQ-Z2.
    (pynq has no public constructor for an overlay without a .hwh file; its description builder is used.)"""

    def __init__(self, device: SimDevice, ip_dict: dict | None = None):
        import pynq.lib.dma  # noqa: F401  (registers pynq's DMA driver, as Overlay's driver discovery does)
        from pynq import overlay as _ov

        from . import pynq_ip  # noqa: F401  (registers the core's IP class for its VLNV)

        self.device = device
        self.ip_dict = {k: dict(v) for k, v in (ip_dict or device.ip_dict).items()}
        self._ip_map = _ov._IPMap(_ov._complete_description(self.ip_dict, {}, False, {}, device, self))

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        return getattr(self._ip_map, key)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.ip_dict))
