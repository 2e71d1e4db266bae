"""Byte links (TCP socket, serial port, raw fd) and a message channel on top of them (stdlib + numpy).

A Link moves bytes: write(data), read(max, timeout) -> bytes (b"" = nothing yet), raising
BoardDisconnected when the other side is gone. Channel adds framing (host.protocol): send() and
recv(timeout) of whole Messages; corrupted frames surface as ChecksumError / ProtocolError.
"""
from __future__ import annotations

import os
import select
import socket
import time

from .boards.base import BoardDisconnected, BoardTimeout
from .protocol import MAX_PAYLOAD, ChecksumError, FrameReader, Message, ProtocolError, decode_frame, encode_frame

CHUNK = 1 << 16


class Link:
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, size: int, timeout: float) -> bytes:
        raise NotImplementedError

    def drain(self, quiet_s: float = 0.05, max_s: float = 2.0) -> int:
        """Discard input until the link is quiet for quiet_s (resynchronise after corruption); gives up
        after max_s so that a peer that never stops sending cannot hold the caller."""
        n = 0
        end = time.monotonic() + max_s
        while time.monotonic() < end:
            data = self.read(CHUNK, quiet_s)
            if not data:
                break
            n += len(data)
        return n

    def close(self) -> None:
        pass


class SocketLink(Link):
    def __init__(self, sock: socket.socket, peer: str = "tcp peer"):
        self.sock = sock
        self.peer = peer
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) if sock.family in (socket.AF_INET, socket.AF_INET6) else None

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise BoardDisconnected(f"link to {self.peer} broke while sending ({e}); is the agent still running?") from None

    def read(self, size: int, timeout: float) -> bytes:
        try:
            r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not r:
                return b""
            data = self.sock.recv(size)
        except OSError as e:
            raise BoardDisconnected(f"link to {self.peer} broke while receiving ({e}): the agent stopped or crashed") from None
        if not data:
            raise BoardDisconnected(f"{self.peer} closed the connection: the agent stopped or crashed")
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class FdLink(Link):
    """A raw file descriptor (e.g. the master side of an os.openpty() pair)."""

    def __init__(self, fd: int, peer: str = "fd peer", own: bool = False):
        self.fd = fd
        self.peer = peer
        self.own = own

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                select.select([], [self.fd], [], 5.0)
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as e:
            raise BoardDisconnected(f"link to {self.peer} broke while sending ({e})") from None

    def read(self, size: int, timeout: float) -> bytes:
        try:
            r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
            if not r:
                return b""
            data = os.read(self.fd, size)
        except OSError as e:  # EIO on a pty whose other side closed
            raise BoardDisconnected(f"link to {self.peer} broke while receiving ({e})") from None
        if not data:
            raise BoardDisconnected(f"{self.peer} closed the link")
        return data

    def close(self) -> None:
        if self.own:
            try:
                os.close(self.fd)
            except OSError:
                pass


class SerialLink(Link):
    """A pyserial port (a real UART, a pty path, or any pyserial URL such as loop://)."""

    def __init__(self, port):
        self.port = port

    @classmethod
    def open(cls, url: str, baud: int = 115200) -> "SerialLink":
        import serial  # pyserial: only needed for serial links

        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0)
        except (serial.SerialException, ValueError) as e:
            raise BoardDisconnected(
                f"cannot open serial port {url!r} at {baud} baud: {e}. Check the device name (ls /dev/ttyUSB* "
                "/dev/ttyACM*), that you may open it (the dialout group) and that no other program holds it; on the "
                "board the agent runs as `python -m host.agent --serial /dev/ttyPS0`. To work without the board, use "
                "the golden board (board \"golden\")") from None
        return cls(port)

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as e:
            raise BoardDisconnected(f"serial port {self.port.port!r} failed while sending ({e})") from None

    def read(self, size: int, timeout: float) -> bytes:
        import serial

        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while True:
                waiting = self.port.in_waiting
                if waiting:
                    return self.port.read(min(size, waiting))
                if time.monotonic() >= deadline:
                    return b""
                fd = getattr(self.port, "fd", None)
                if fd is not None:
                    select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                else:
                    time.sleep(0.001)
        except (serial.SerialException, OSError) as e:
            raise BoardDisconnected(f"serial port {self.port.port!r} failed while receiving ({e})") from None

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:
            pass


class Channel:
    """Whole messages over a Link. Every frame goes through host.protocol.decode_frame (schema checked);
    `max_payload` bounds what one received message may hold."""

    def __init__(self, link: Link, max_payload: int = MAX_PAYLOAD):
        self.link = link
        self.max_payload = max_payload
        self.reader = FrameReader(max_payload)

    def send(self, msg: Message) -> None:
        self.link.write(encode_frame(msg))

    def recv(self, timeout: float) -> Message:
        """The next message. `timeout` counts from the last byte received (inactivity), so a long frame on a
        slow line is not cut off while its bytes keep arriving. BoardTimeout if the link stays silent that
        long; ChecksumError / ProtocolError for a bad frame (the caller decides whether to retry);
        BoardDisconnected if the link died."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.reader.next_frame()
            if frame is not None:
                return decode_frame(frame, max_payload=self.max_payload)
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardTimeout(f"no complete message within {timeout:.1f} s of silence "
                                   f"({self.reader.pending} bytes of a partial frame pending)")
            data = self.link.read(CHUNK, min(left, 0.5))
            if data:
                self.reader.feed(data)
                deadline = time.monotonic() + timeout

    def resync(self) -> None:
        """Forget buffered bytes and anything still arriving (after a corrupted frame)."""
        self.reader.clear()
        self.link.drain()

    def close(self) -> None:
        self.link.close()


__all__ = ["Link", "SocketLink", "FdLink", "SerialLink", "Channel", "ChecksumError", "ProtocolError"]
