"""Remote boards: a host.agent reached over TCP (tcp://host:port) or a serial line
(serial:///dev/ttyUSB0?baud=115200). Retries corrupted or lost frames; a dead link is a clear error."""
from __future__ import annotations

import socket
import time
from urllib.parse import parse_qs, urlparse

import numpy as np

from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from ..link import Channel, Link, SerialLink, SocketLink
from ..protocol import ChecksumError, Message, MsgType, ProtocolError, image_message
from .base import Board, BoardDisconnected, BoardError, BoardTimeout, CoreMismatch, ImageMismatch, RunResult

KIND_ERRORS = {"image_mismatch": ImageMismatch, "core_mismatch": CoreMismatch, "timeout": BoardTimeout,
               "value": ValueError, "protocol": BoardError, "board": BoardError}


class RemoteBoard(Board):
    """Client side of the agent protocol. `timeout` bounds each request; `retries` resends per request."""

    def __init__(self, link: Link, name: str, timeout: float = 60.0, retries: int = 3):
        self.name = name
        self.channel = Channel(link)
        self.timeout = timeout
        self.retries = retries
        self._seq = 0
        self.stats = {"retries": 0, "requests": 0}
        self._closed = False
        hello = self.request(Message(MsgType.HELLO), timeout=min(timeout, 30.0))
        self.remote_info = hello.fields.get("info", {})
        p = self.remote_info.get("params")
        super().__init__(HardwareParams.from_dict(p) if p else None)

    @classmethod
    def open(cls, url: str, timeout: float | None = None, retries: int | None = None) -> "RemoteBoard":
        u = urlparse(url)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        timeout = float(q.get("timeout", timeout or 60.0))
        retries = int(q.get("retries", retries if retries is not None else 3))
        if u.scheme == "tcp":
            if not u.hostname or not u.port:
                raise ValueError(f"bad board URL {url!r}: use tcp://HOST:PORT")
            try:
                sock = socket.create_connection((u.hostname, u.port), timeout=min(timeout, 10.0))
            except OSError as e:
                raise BoardDisconnected(f"cannot reach the agent at {u.hostname}:{u.port} ({e}); start it with "
                                        f"`python -m host.agent --board golden --listen {u.hostname}:{u.port}`") from None
            sock.settimeout(None)
            return cls(SocketLink(sock, f"agent at {u.hostname}:{u.port}"), url, timeout, retries)
        if u.scheme == "serial":
            dev = u.path or u.netloc
            if not dev:
                raise ValueError(f"bad board URL {url!r}: use serial:///dev/ttyUSB0?baud=115200")
            link = SerialLink.open(dev if "://" not in dev else dev, int(q.get("baud", 115200)))
            return cls(link, url, timeout, retries)
        raise ValueError(f"unknown remote board URL {url!r}: use tcp://HOST:PORT or serial:///dev/DEVICE?baud=N")

    # ---- request/response with retries ----------------------------------------------------------------
    def request(self, msg: Message, timeout: float | None = None) -> Message:
        if self._closed:
            raise BoardDisconnected(f"{self.name}: board is closed")
        timeout = self.timeout if timeout is None else timeout
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        msg.seq = self._seq
        self.stats["requests"] += 1
        last = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
            self.channel.send(msg)
            deadline = time.monotonic() + timeout
            try:
                while True:
                    reply = self.channel.recv(max(0.0, deadline - time.monotonic()))
                    if reply.seq == msg.seq or (reply.type == MsgType.ERROR and reply.fields.get("kind") in ("checksum", "protocol")):
                        break  # else: a late answer to an earlier try; skip it
            except ChecksumError as e:
                last = f"corrupted reply ({e})"
                self.channel.resync()
                continue
            except ProtocolError as e:
                last = f"malformed reply ({e})"
                self.channel.resync()
                continue
            except BoardTimeout as e:
                last = f"no reply in {timeout:.1f} s ({e})"
                self.channel.reader.clear()
                continue
            if reply.type == MsgType.ERROR and reply.fields.get("kind") in ("checksum", "protocol"):
                last = f"agent received a corrupted request ({reply.fields.get('message')})"
                continue
            return reply
        if last and last.startswith("no reply"):
            raise BoardTimeout(f"{self.name}: {msg.type.name} failed after {self.retries + 1} tries: {last}; "
                               "is the agent alive and the link up?")
        raise BoardError(f"{self.name}: {msg.type.name} failed after {self.retries + 1} tries: {last}")

    @staticmethod
    def _raise_error(reply: Message):
        kind = reply.fields.get("kind", "board")
        raise KIND_ERRORS.get(kind, BoardError)(f"agent: {reply.fields.get('message', 'unknown error')}")

    # ---- Board API ---------------------------------------------------------------------------------------
    def info(self) -> dict:
        return dict(self.remote_info, board=self.name, remote_board=self.remote_info.get("board"))

    def _load(self, image: HardwareImage) -> None:
        digest = image.digest()
        r = self.request(Message(MsgType.HAS_IMAGE, {"digest": digest}))
        if r.type == MsgType.ERROR:
            self._raise_error(r)
        if not r.fields.get("loaded"):
            r = self.request(image_message(image))
            if r.type == MsgType.ERROR:
                self._raise_error(r)

    def _remote_run(self, class_id, phases0, steps, trajectory):
        msg = Message(MsgType.RUN, {"digest": self._digest_for_run, "class_id": class_id, "steps": steps,
                                    "trajectory": trajectory}, {"phases0": np.asarray(phases0, np.int64)})
        t0 = time.perf_counter()
        r = self.request(msg)
        if r.type == MsgType.ERROR and r.fields.get("kind") == "no_image":  # agent restarted or evicted it
            self._load(self._image)
            t0 = time.perf_counter()
            r = self.request(msg)
        wall = time.perf_counter() - t0
        if r.type == MsgType.ERROR:
            self._raise_error(r)
        if r.type != MsgType.RESULT or "phases" not in r.arrays:
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to RUN")
        timing = dict(r.fields.get("timing", {}))
        timing["link_s"] = max(0.0, wall - float(r.fields.get("agent_s", 0.0)))
        timing["total_s"] = wall
        return RunResult(r.arrays["phases"].astype(np.int64), timing, bool(r.fields.get("overflow")),
                         r.arrays.get("trajectory"))

    @property
    def _digest_for_run(self):
        return self._digest if self._digest is not None else self._image.digest()

    def _run(self, class_id: int, phases0: np.ndarray, steps: int) -> RunResult:
        return self._remote_run(class_id, phases0, steps, False)

    def run_trajectory(self, class_id: int, phases0: np.ndarray, steps: int | None = None) -> RunResult:
        """The agent chains the single steps itself: one round trip instead of T."""
        if self._image is None:
            raise BoardError(f"{self.name}: no model image loaded; call load_image first")
        steps = self._image.num_steps if steps is None else int(steps)
        res = self._remote_run(int(class_id), np.asarray(phases0, np.int64).reshape(-1), steps, True)
        if res.trajectory is None:
            raise BoardError(f"{self.name}: agent returned no trajectory")
        res.trajectory = res.trajectory.astype(np.int64)
        return res

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.channel.send(Message(MsgType.BYE, seq=0))
        except BoardError:
            pass
        self._closed = True
        self.channel.close()
