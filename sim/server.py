"""cocotb test that serves bus requests from a SimClient over an AF_UNIX socket (the host's "sim" board).

The simulator only advances while a request is being served; between requests it blocks on the socket. Waiting
for the interrupt free-runs the clock (one RisingEdge trigger on irq plus a timer), so a 10-step run at the
PYNQ-Z2 size costs no per-cycle Python.
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
from .protocol import SOCKET_ENV, recv_msg, send_msg


@cocotb.test()
async def serve(dut):
    drv = DirectDriver(dut)
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


def _cycles() -> int:
    return int(get_sim_time("ns") // CLOCK_NS)
