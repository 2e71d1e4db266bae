"""cocotb test that serves bus requests from a SimClient over an AF_UNIX socket (the host's "sim" board).

The simulator only advances while a request is being served; between requests it blocks on the socket. Waiting
for the interrupt free-runs the clock (one RisingEdge trigger on irq plus a timer), so a 10-step run at the
PYNQ-Z2 size costs no per-cycle Python.

Streamed-K builds (ports m_axi<q>_*) read K from a simulated DDR: one cocotbext-axi AxiRamRead per read port on one
sparse memory of the board's 512 MiB; the client fills it with "mem_write" (host.boards.simdevice.SimDevice does so for
the buffers the core's K_ADDR registers point at, when the host starts a run).
"""
from __future__ import annotations

import os
import socket
import time
import traceback

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from .bfm import CLOCK_NS
from .direct import DirectDriver
from .env import OWN_CLOCK_ENV
from .protocol import SOCKET_ENV, recv_msg, send_msg


@cocotb.test()
async def serve(dut):
    drv = DirectDriver(dut, own_clock=os.environ.get(OWN_CLOCK_ENV) == "1")
    ddr = _ddr(dut)
    await drv.reset()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ[SOCKET_ENV])
    send_msg(sock, {"ok": True, "hello": "osc-core-sim"})
    try:
        while True:
            try:
                req, payload = recv_msg(sock)
            except ConnectionError:
                return  # client went away: end the simulation
            op = req.get("op")
            reply, out = {"ok": True}, b""
            cpu0 = time.process_time()
            try:
                if op == "write_reg":
                    await drv.write_reg(int(req["offset"]), int(req["value"]))
                elif op == "read_reg":
                    reply["value"] = await drv.read_reg(int(req["offset"]))
                elif op == "stream_in":
                    await drv.stream_in(np.frombuffer(payload, dtype="<u4"))
                elif op == "stream_out":
                    out = (await drv.stream_out(int(req["count"]), req.get("timeout_cycles"))).astype("<u4").tobytes()
                elif op == "wait_irq":
                    reply["waited"] = await drv.wait_irq(int(req["timeout_cycles"]))
                elif op == "mem_write":
                    if ddr is None:
                        raise ValueError("mem_write: this core build reads no memory (K is on chip)")
                    addr = int(req["address"])
                    if not 0 <= addr <= DDR_BYTES - len(payload):
                        raise ValueError(f"mem_write of {len(payload)} bytes at {addr:#x} outside the {DDR_BYTES >> 20} "
                                         "MiB DDR")
                    ddr.write(addr, payload)
                elif op == "cycles":
                    pass
                elif op == "reset":
                    await drv.reset()
                elif op == "close":
                    send_msg(sock, {"ok": True, "now": _cycles()})
                    return
                else:
                    raise ValueError(f"unknown op {op!r}")
            except (TimeoutError, ValueError, RuntimeError, KeyError) as e:
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "kind": type(e).__name__,
                         "trace": traceback.format_exc(limit=3)}
            reply["now"] = _cycles()
            reply["cpu_s"] = time.process_time() - cpu0  # simulator + Python CPU time of this request
            send_msg(sock, reply, out)
    finally:
        sock.close()


#: The PYNQ-Z2's DDR3 (hardware.md §1): the address range the simulated K read ports decode.
DDR_BYTES = 512 << 20


def _ddr(dut):
    """AxiRamRead on every K read port of a streamed-K build, sharing one memory; None for on-chip-K builds."""
    from cocotbext.axi import AxiRamRead, AxiReadBus

    rams, q = [], 0
    while hasattr(dut, f"m_axi{q}_araddr"):
        ram = AxiRamRead(AxiReadBus.from_prefix(dut, f"m_axi{q}"), dut.clk, dut.rst, size=DDR_BYTES,
                         mem=rams[0].mem if rams else None)
        ram.log.setLevel("WARNING")
        rams.append(ram)
        q += 1
    return rams[0] if rams else None


def _cycles() -> int:
    return int(get_sim_time("ns") // CLOCK_NS)
