"""Register-level driver of the oscillator core, written once against pynq's objects (numpy only).

It needs three things, exactly what a PYNQ overlay gives:
  mmio      pynq.MMIO over the core's AXI4-Lite window: read(offset) -> int, write(offset, value)
  dma       pynq.lib.dma.DMA (AXI DMA, simple mode): sendchannel / recvchannel .transfer(buf) + .wait()
  allocate  pynq.allocate(shape, dtype) -> a contiguous buffer the DMA can reach
On the PYNQ-Z2 these are the real pynq objects; the sim board hands in the same pynq classes bound
to host.boards.simdevice.SimDevice, so this code path is identical on both.

Register offsets and fields come from rtl.regs (never typed here). Load protocol (the RTL's):
  model, once per image digest:  LOAD_TARGET=k|kcond|gain|omega + stream its words, GAIN_SHIFT
  per request: LOAD_TARGET=drive + the class's rows (skipped when the core already holds that class's
               rows for this image), LOAD_TARGET=phase + phase words, STEPS,
               CTRL.START, wait for STATUS.DONE, CTRL.READBACK + DMA n+M words back.
Streamed-K builds (BUILD.K_IN_DDR): the model has no "k" load; K's planes (fixedpoint.layout.k_ddr_planes) are
written into buffers from `allocate` (allocated before any transfer, so a pool too small fails first), flushed,
and their bus addresses written to K_ADDR<q>; the core reads them itself on every Euler step. A batch build
(BUILD.BATCH = B) runs up to B samples per request (run_batch), each with its own class and initial phases; a
request of k < B samples fills the rest of the batch with copies of its first sample (a sample's phases do not
depend on its batch) and reads back the first k.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fixedpoint.layout import (LOAD_TARGETS, k_ddr_planes, model_streams, request_streams, stream_lengths,
                               words_to_phases)
from fixedpoint.cli import counted
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import AXI_BURST_BYTES, HardwareParams
from rtl import regs

from .boards.base import BoardError, BoardTimeout, CoreMismatch, ImageMismatch

R = regs.OFFSETS
CTRL_START = regs.bits("CTRL", "START")
CTRL_ABORT = regs.bits("CTRL", "ABORT")
CTRL_READBACK = regs.bits("CTRL", "READBACK")
CTRL_CLEAR = regs.bits("CTRL", "CLEAR")
ST_BUSY = regs.bits("STATUS", "BUSY")
ST_DONE = regs.bits("STATUS", "DONE")
ST_OVERFLOW = regs.bits("STATUS", "OVERFLOW")
ST_LOAD_ERROR = regs.bits("STATUS", "LOAD_ERROR")
ST_AXI_ERROR = regs.bits("STATUS", "AXI_ERROR")
IRQ_DONE = regs.bits("IRQ_STATUS", "DONE")
MODEL_TARGETS = ("k", "kcond", "gain", "omega")
_PARAM_REGS = ("N", "N_COND", "LANES", "SPEC0", "SPEC1", "SPEC2", "BUILD", "BUILD_HASH")


@dataclass
class CoreInfo:
    core_id: int
    version: int
    build_hash: int
    params: HardwareParams


class CoreDriver:
    """Drives one core. `clock_hz` (the PL clock of the overlay) converts cycle counts to seconds."""

    def __init__(self, mmio, dma, allocate, *, clock_hz: float, run_timeout_s: float = 30.0,
                 expect_build_hash: int | None = None, check_build_hash: bool = True):
        self.mmio, self.dma, self._allocate = mmio, dma, allocate
        self.clock_hz = clock_hz
        self.run_timeout_s = run_timeout_s
        self._buffers: dict[int, object] = {}
        self._k_buffers: list = []  # streamed-K builds: one buffer per K plane
        self.info = self.identify(expect_build_hash, check_build_hash)
        self.params = self.info.params
        self.lengths = stream_lengths(self.params)
        self.loaded_digest: str | None = None
        self.loaded_drive: tuple[str, int] | None = None  # (digest, class) whose drive rows the core holds
        self.mmio.write(R["IRQ_ENABLE"], regs.bits("IRQ_ENABLE", "DONE"))

    # ---- identity -----------------------------------------------------------------------------------
    def identify(self, expect_build_hash: int | None, check: bool) -> CoreInfo:
        core_id = self.mmio.read(R["ID"])
        if core_id != regs.CORE_ID:
            raise CoreMismatch(f"no oscillator core at this address: ID register reads {core_id:#010x}, expected "
                               f"{regs.CORE_ID:#010x} ('OSC1'); wrong bitstream or base address?")
        version = self.mmio.read(R["VERSION"])
        if version >> 16 != regs.CORE_VERSION >> 16:
            raise CoreMismatch(f"core register-map version {version >> 16}.{version & 0xFFFF} but this host speaks "
                               f"{regs.CORE_VERSION >> 16}.x: rebuild the bitstream or update the host software")
        values = {name: self.mmio.read(R[name]) for name in _PARAM_REGS}
        try:
            params = regs.params_from_registers(values)
        except ValueError as e:
            raise CoreMismatch(f"core reports an inconsistent build: {e}") from None
        if check:
            if expect_build_hash is None:
                try:
                    expect_build_hash = regs.build_hash(params)
                except OSError:  # RTL sources absent (e.g. on a board): nothing to compare against
                    expect_build_hash = None
            if expect_build_hash is not None and values["BUILD_HASH"] != expect_build_hash:
                raise CoreMismatch(
                    f"core build hash {values['BUILD_HASH']:#010x} differs from {expect_build_hash:#010x} expected for "
                    f"n={params.n}, lanes={params.lanes} and this RTL source: the bitstream was built from other RTL; "
                    "rebuild it (or pass the bitstream's recorded hash)")
        return CoreInfo(core_id, version, values["BUILD_HASH"], params)

    # ---- primitives ---------------------------------------------------------------------------------
    def status(self) -> int:
        return self.mmio.read(R["STATUS"])

    def _buffer(self, words: int):
        buf = self._buffers.get(words)
        if buf is None:
            buf = self._allocate(shape=(words,), dtype=np.uint32)
            self._buffers[words] = buf
        return buf

    def stream(self, target: str, words: np.ndarray) -> float:
        """LOAD_TARGET + DMA the words in; checks LOAD_COUNT and LOAD_ERROR. Returns seconds spent."""
        t0 = time.perf_counter()
        words = np.asarray(words, dtype=np.uint32)
        want = self.lengths[target]
        if words.size != want:
            raise ImageMismatch(f"{target}: {words.size} words to load but the core expects {want}")
        self.mmio.write(R["LOAD_TARGET"], LOAD_TARGETS[target])
        buf = self._buffer(words.size)
        buf[:] = words
        self.dma.sendchannel.transfer(buf)
        self.dma.sendchannel.wait()
        count = self.mmio.read(R["LOAD_COUNT"])
        st = self.status()
        if st & ST_LOAD_ERROR or count != want:
            self.loaded_drive = None
            self.mmio.write(R["CTRL"], CTRL_CLEAR)
            raise BoardError(f"core rejected the {target} load: LOAD_COUNT={count} (expected {want}), "
                             f"LOAD_ERROR={bool(st & ST_LOAD_ERROR)}")
        return time.perf_counter() - t0

    def abort(self) -> None:
        self.loaded_drive = None
        self.mmio.write(R["CTRL"], CTRL_ABORT)
        self.mmio.write(R["CTRL"], CTRL_CLEAR)

    # ---- model and requests ----------------------------------------------------------------------------
    def load_model(self, image: HardwareImage) -> float:
        if image.params != self.params:
            raise ImageMismatch(f"image built for {image.params} does not fit the core ({self.params})")
        if self.status() & ST_BUSY:
            self.abort()
        self.loaded_digest = None
        self.loaded_drive = None
        t = self._load_k(image) if self.params.k_streamed else 0.0
        streams = model_streams(image)
        for name in MODEL_TARGETS:
            if name in streams:
                t += self.stream(name, streams[name])
        self.mmio.write(R["GAIN_SHIFT"], image.gain_shift)
        if self.mmio.read(R["GAIN_SHIFT"]) != image.gain_shift:
            raise BoardError(f"GAIN_SHIFT did not take the value {image.gain_shift}")
        self.loaded_digest = image.digest()
        return t

    def _load_k(self, image: HardwareImage) -> float:
        """Streamed-K builds: K's planes into DDR buffers (allocated first: nothing is transferred when the
        contiguous pool is too small), flushed, their bus addresses into K_ADDR<q>. Returns seconds spent."""
        from bitstreams.streamed import CMA_HEADROOM_BYTES, CMA_STOCK_BYTES

        t0 = time.perf_counter()
        p = self.params
        planes = k_ddr_planes(image)
        if len(self._k_buffers) != p.k_ports or any(b.shape != planes[0].shape for b in self._k_buffers):
            self._free_k()
            try:
                for _ in range(p.k_ports):
                    self._k_buffers.append(self._allocate(shape=planes[0].shape, dtype=np.uint32))
            except (RuntimeError, MemoryError, ValueError) as e:
                self._free_k()
                mib = p.k_plane_bytes / 2**20
                need = -(-(p.k_ddr_bytes + CMA_HEADROOM_BYTES) // (64 << 20)) * 64
                raise BoardError(
                    f"K of this model (n={p.n}, {p.spec.coupling_bits}-bit) needs {counted(p.k_ports, 'contiguous buffer')} of "
                    f"{mib:.1f} MiB in DDR, but allocating them failed ({type(e).__name__}: {e}). The stock PYNQ "
                    f"image's contiguous pool (CMA) is {CMA_STOCK_BYTES >> 20} MiB: boot the board with "
                    f"cma={need}M in the kernel bootargs (docs/host.md), or use a model with fewer oscillators or "
                    "4-bit K. Nothing was transferred.") from None
        for q, (buf, plane) in enumerate(zip(self._k_buffers, planes)):
            addr = int(buf.device_address)
            if addr % AXI_BURST_BYTES:
                raise BoardError(f"K plane {q} buffer at {addr:#x} is not {AXI_BURST_BYTES}-byte aligned")
            buf[:] = plane
            buf.flush()
            self.mmio.write(R[f"K_ADDR{q}"], addr)
            if self.mmio.read(R[f"K_ADDR{q}"]) != addr:
                raise BoardError(f"K_ADDR{q} did not take the value {addr:#x}")
        return time.perf_counter() - t0

    def _free_k(self) -> None:
        for buf in self._k_buffers:
            free = getattr(buf, "freebuffer", None)
            if free:
                free()
        self._k_buffers = []

    def run(self, image: HardwareImage, class_id: int, phases0: np.ndarray, steps: int) -> tuple[np.ndarray, dict, bool]:
        """One sample; returns (phases int64 (n_total,), timing, overflow)."""
        phases, timing, overflow = self.run_batch(image, [class_id], np.asarray(phases0).reshape(1, -1), steps)
        return phases[0], timing, overflow

    def run_batch(self, image: HardwareImage, class_ids, phases0: np.ndarray,
                  steps: int) -> tuple[np.ndarray, dict, bool]:
        """One request of k <= B samples (class_ids (k,), phases0 (k, n_total)); returns (phases int64 (k, n_total),
        timing of the run, the run's sticky overflow flag)."""
        if self.loaded_digest != image.digest():
            raise BoardError("the core holds another model image; load_model first")
        if not 0 <= steps < 1 << regs.BY_NAME["STEPS"].field("STEPS").width:
            raise ValueError(f"steps={steps} does not fit the STEPS register")
        batch = self.params.batch
        phases0 = np.asarray(phases0, dtype=np.int64).reshape(-1, self.params.n_total)
        ids = [int(c) for c in np.asarray(class_ids).reshape(-1)]
        k = len(ids)
        if not 1 <= k <= batch or phases0.shape[0] != k:
            raise ValueError(f"a request holds 1..{batch} samples with one class each, got {k} classes for "
                             f"{phases0.shape[0]} phase rows")
        # the free places of the batch carry copies of the first sample (their results are not read)
        ids_b = ids + [ids[0]] * (batch - k)
        req = request_streams(image, ids_b, np.concatenate([phases0, np.repeat(phases0[:1], batch - k, axis=0)]))
        transfer = 0.0
        key = (self.loaded_digest, tuple(ids_b))
        if self.loaded_drive != key:  # the drive memory keeps its rows between runs: resend on a class change
            self.loaded_drive = None
            transfer += self.stream("drive", req["drive"])
            self.loaded_drive = key
        transfer += self.stream("phase", req["phase"])
        m = self.mmio
        m.write(R["STEPS"], steps)
        m.write(R["CTRL"], CTRL_CLEAR)
        m.write(R["IRQ_STATUS"], IRQ_DONE)
        t0 = time.perf_counter()
        m.write(R["CTRL"], CTRL_START)
        st = self.wait_done()
        wait_s = time.perf_counter() - t0
        cycles = m.read(R["CYCLES_LO"]) | (m.read(R["CYCLES_HI"]) << 32)
        m.write(R["IRQ_STATUS"], IRQ_DONE)
        t1 = time.perf_counter()
        n_words = self.params.state_words
        buf = self._buffer(n_words)
        self.dma.recvchannel.transfer(buf)
        m.write(R["CTRL"], CTRL_READBACK)
        self.dma.recvchannel.wait()
        words = np.array(buf, dtype=np.uint32, copy=True)
        transfer += time.perf_counter() - t1
        phases = words_to_phases(words, self.params).reshape(batch, self.params.n_total)[:k]
        if st & ST_AXI_ERROR:
            raise BoardError("the core's K reads from DDR failed (STATUS.AXI_ERROR): K_ADDR points outside DDR or "
                             "the buffers were freed; reload the model")
        timing = {"transfer_s": transfer, "compute_cycles": int(cycles), "compute_s": cycles / self.clock_hz,
                  "wait_s": wait_s}
        return phases, timing, bool(st & ST_OVERFLOW)

    def wait_done(self) -> int:
        deadline = time.monotonic() + self.run_timeout_s
        while True:
            st = self.status()
            if st & ST_DONE and not st & ST_BUSY:
                return st
            if time.monotonic() > deadline:
                self.abort()
                raise BoardTimeout(f"core did not finish within {self.run_timeout_s:.1f} s (STATUS={st:#x}); "
                                   "run aborted")

    def close(self) -> None:
        self._free_k()
        for buf in self._buffers.values():
            free = getattr(buf, "freebuffer", None)
            if free:
                free()
        self._buffers.clear()
