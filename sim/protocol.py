"""Wire format between SimClient and the cocotb simulation server (see docs/rtl.md, "Simulation server").

Each message: 4-byte big-endian header length, a UTF-8 JSON header, then `header["payload"]` raw bytes
(little-endian uint32 words for streams). Requests carry {"op": ...}; replies {"ok": true, ...} or
{"ok": false, "error": str, "kind": "TimeoutError" | "ValueError" | "RuntimeError"}.
"""
from __future__ import annotations

import json
import socket
import struct

#: Environment variable holding the AF_UNIX socket path the server connects to.
SOCKET_ENV = "OSC_SIM_SOCKET"
#: Environment variable holding the pid of the process the simulation must not outlive (sim.launch).
PARENT_ENV = "OSC_SIM_PARENT"
OPS = ("write_reg", "read_reg", "stream_in", "stream_out", "wait_irq", "cycles", "reset", "close")


def send_msg(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    header = dict(header, payload=len(payload))
    h = json.dumps(header).encode()
    sock.sendall(struct.pack(">I", len(h)) + h + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("simulation connection closed")
        buf += chunk
    return bytes(buf)


def recv_msg(sock: socket.socket) -> tuple[dict, bytes]:
    (hlen,) = struct.unpack(">I", _recv_exact(sock, 4))
    header = json.loads(_recv_exact(sock, hlen))
    payload = _recv_exact(sock, header.get("payload", 0))
    return header, payload
