"""Board-side agent: serves one board over TCP or a serial port (numpy + stdlib; runs on a PYNQ-Z2).

    python -m host.agent --make-key agent.key                       # once; copy the file to the host (chmod 600)
    python -m host.agent --board pynq-z2 --bitfile osc.bit --listen 0.0.0.0:7967 --key agent.key
    python -m host.agent --board golden --listen 127.0.0.1:7967    # loopback only: a key is optional
    python -m host.agent --board pynq-z2 --serial /dev/ttyPS0 [--baud 115200] [--key agent.key]

Request/response over host.protocol frames. With a key, every TCP connection and every serial session
starts with the mutual HMAC challenge-response of host.auth; nothing else is served before it. Several
clients may be connected at once (one thread each); their requests reach the one board in arrival order
(a FIFO lock). Every size, count and step number from the wire is checked against the board and the
stated limits (Limits) before any work or allocation. Images are cached by digest (LRU, bounded in bytes),
so a host that reconnects does not resend its model. A request frame with a bad checksum is answered
with ERROR kind=checksum (the client resends); a repeated seq gets the cached reply (no double run).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fixedpoint.cli import counted

from .auth import KEY_ENV, KeyFileError, agent_proof, load_key, make_key, new_nonce, verify
from .boards import bitfile_flag_error
from .boards.base import Board, BoardDisconnected, BoardTimeout, CoreMismatch, ImageMismatch
from .link import CHUNK, FdLink, Link, SerialLink, SocketLink
from .protocol import (MAX_PAYLOAD, PROTOCOL_VERSION, ChecksumError, FrameReader, LimitError, Message, MsgType,
                       ProtocolError, decode_frame, encode_frame, image_descriptor_check, image_from_message)

#: exception class -> ERROR kind (the client maps kinds back to the same classes); first match wins
ERROR_KINDS = {ImageMismatch: "image_mismatch", CoreMismatch: "core_mismatch", BoardTimeout: "timeout",
               LimitError: "limit", ProtocolError: "protocol", ValueError: "value"}
MAX_ERROR_TEXT = 2000  # ERROR messages are cut to this (the schema allows 4096)


def error_kind(e: Exception) -> str:
    for cls, kind in ERROR_KINDS.items():
        if isinstance(e, cls):
            return kind
    return "board"


@dataclass(frozen=True)
class Limits:
    """What one agent promises to bound (docs/host.md, "Security and reliability").

    memory_mib is the budget B for what the wire can make the agent hold: the image cache takes at most
    B/2 (images counted as their int64 arrays), one image at most B/4, one request or reply payload at most
    min(B/8, 64 MiB) after decompression. Frames are refused from their 16-byte header when they announce
    more, so a connection buffers at most that much; before authentication at most `unauth_frame` bytes.
    """

    memory_mib: int = 256
    max_steps: int = 1000  # Euler steps of one RUN (the trained models use 10)
    max_n_total: int = 8192 + 64  # oscillators of an image (n + n_cond)
    max_classes: int = 1000
    max_clients: int = 8  # connections served at once; more are answered ERROR kind=busy and closed
    idle_timeout: float = 120.0  # seconds without a byte before a session is closed
    first_request_s: float = 10.0  # a new connection must authenticate (or send its first request) by then
    frame_gap: float = 2.0  # seconds without a byte inside a frame before the partial frame is dropped
    unauth_frame: int = 4096

    @property
    def budget(self) -> int:
        return self.memory_mib << 20

    @property
    def payload_bytes(self) -> int:
        return min(MAX_PAYLOAD, self.budget // 8)

    @property
    def image_bytes(self) -> int:
        return self.budget // 4

    @property
    def cache_bytes(self) -> int:
        return self.budget // 2


class FifoLock:
    """A lock granted strictly in the order it was asked for (ticket lock): no client can starve another."""

    def __init__(self):
        self._cv = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self):
        with self._cv:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cv.wait()
        return self

    def __exit__(self, *exc):
        with self._cv:
            self._serving += 1
            self._cv.notify_all()


def _image_bytes(img) -> int:
    return sum(a.size * 8 for a in (img.k, img.drive, img.kcond, img.gain, img.omega_inc))


class Agent:
    """Serves one board to any number of links (serve_link per link, serve_tcp for a listening socket).

    `key`: the shared secret (bytes) every session must prove, or None (no authentication: loopback and
    tests only). `stats`: counters for monitoring and the soak benchmark.
    """

    def __init__(self, board: Board, log=None, key: bytes | None = None, limits: Limits | None = None):
        self.board = board
        self.key = key
        self.limits = limits or Limits()
        self.images: OrderedDict = OrderedDict()
        self.cache_bytes = 0
        self.log = log or (lambda s: print(f"[agent] {s}", file=sys.stderr, flush=True))
        self._board_lock = FifoLock()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self.active = 0
        self._sessions: set = set()
        self.stats = {"requests": 0, "errors": 0, "protocol_errors": 0, "auth_failures": 0, "sessions": 0,
                      "refused_clients": 0, "evicted": 0, "dropped_partial": 0, "timeouts": 0}

    @property
    def requests(self) -> int:
        return self.stats["requests"]

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def stop(self) -> None:
        """Ask serve_tcp and every session to finish (within about half a second)."""
        self._stop.set()

    # ---- message handling ---------------------------------------------------------------------------
    def handle(self, msg: Message) -> Message:
        """One authenticated request -> its reply (never raises). Requests are serialised in FIFO order."""
        t0 = time.perf_counter()
        with self._board_lock:
            try:
                reply = self._dispatch(msg)
            except Exception as e:  # every failure goes back to the host as a clear error
                reply = Message(MsgType.ERROR, {"kind": error_kind(e),
                                                "message": f"{type(e).__name__}: {e}"[:MAX_ERROR_TEXT]})
        if reply.type == MsgType.ERROR:
            self._count("errors")
        reply.seq = msg.seq
        reply.fields["agent_s"] = time.perf_counter() - t0
        return reply

    def admit(self, mtype: MsgType, fields: dict, descs: list[dict]) -> None:
        """Called by the decoder before a message's arrays are inflated: refuse what exceeds the limits."""
        lim = self.limits
        if mtype != MsgType.LOAD_IMAGE:
            return
        p, classes, nbytes = image_descriptor_check(fields, descs)
        if p.n_total > lim.max_n_total:
            raise LimitError(f"image has n + n_cond = {p.n_total} oscillators; this agent takes at most {lim.max_n_total}")
        if classes > lim.max_classes:
            raise LimitError(f"image has {classes} classes; this agent takes at most {lim.max_classes}")
        if fields["num_steps"] > lim.max_steps:
            raise LimitError(f"image asks for {fields['num_steps']} steps; this agent runs at most {lim.max_steps} "
                             "(--max-steps)")
        if nbytes > lim.image_bytes:
            raise LimitError(f"image needs {nbytes / 2**20:.1f} MiB in the agent; one image may take at most "
                             f"{lim.image_bytes / 2**20:.0f} MiB (a quarter of --memory-mib {lim.memory_mib})")

    def _dispatch(self, msg: Message) -> Message:
        t, f, lim = msg.type, msg.fields, self.limits
        if t == MsgType.HELLO:
            return Message(MsgType.INFO, {"info": self.board.info(), "protocol": PROTOCOL_VERSION,
                                          "images": list(self.images), "auth": self.key is not None,
                                          "idle_s": lim.idle_timeout,
                                          "stats": dict(self.stats, active=self.active, cache_bytes=self.cache_bytes)})
        if t == MsgType.HAS_IMAGE:
            return Message(MsgType.OK, {"loaded": f["digest"] in self.images})
        if t == MsgType.LOAD_IMAGE:
            img = image_from_message(msg)
            digest = img.digest()
            self.board.check_image(img)
            size = _image_bytes(img)
            if digest not in self.images:
                self.images[digest] = (img, size)
                self.cache_bytes += size
            self.images.move_to_end(digest)
            while self.cache_bytes > lim.cache_bytes and len(self.images) > 1:
                _, (_, s) = self.images.popitem(last=False)
                self.cache_bytes -= s
            return Message(MsgType.OK, {"digest": digest})
        if t == MsgType.RUN:
            entry = self.images.get(f["digest"])
            if entry is None:
                return Message(MsgType.ERROR, {"kind": "no_image", "message": "image not loaded on the agent"})
            img = entry[0]
            self.images.move_to_end(f["digest"])
            n_total = img.params.n_total
            steps = img.num_steps if f.get("steps") is None else f["steps"]
            phases0 = msg.arrays["phases0"]
            if phases0.shape != (n_total,):
                raise ValueError(f"initial phases must hold n + n_cond = {n_total} words, got {phases0.shape}")
            if steps > lim.max_steps:
                raise LimitError(f"RUN asks for {steps} steps; this agent runs at most {lim.max_steps} (--max-steps)")
            if f.get("trajectory") and (steps + 1) * n_total * 8 > lim.payload_bytes:
                raise LimitError(f"a trajectory of {steps} steps x {n_total} oscillators takes "
                                 f"{(steps + 1) * n_total * 8 / 2**20:.1f} MiB; replies are limited to "
                                 f"{lim.payload_bytes / 2**20:.0f} MiB (--memory-mib / 8)")
            self.board.load_image(img)  # no-op while the same image is loaded
            if f.get("trajectory"):
                res = self.board.run_trajectory(f["class_id"], phases0, steps)
            else:
                res = self.board.run(f["class_id"], phases0, steps)
            arrays = {"phases": res.phases}
            if res.trajectory is not None:
                arrays["trajectory"] = res.trajectory
            timing = {k: v for k, v in res.timing.items() if isinstance(v, (int, float))}
            return Message(MsgType.RESULT, {"timing": timing, "overflow": bool(res.overflow)}, arrays)
        if t == MsgType.BYE:
            return Message(MsgType.OK, {"bye": True})
        raise ProtocolError(f"the agent does not handle {t.name} requests")

    # ---- serving a link ---------------------------------------------------------------------------------
    def serve_link(self, link: Link, idle_timeout: float | None = None, wait_for_peer: bool = False) -> None:
        """Serve one session on `link` until BYE, EOF, a failed authentication, stop(), or idle_timeout
        seconds without a byte (default: limits.idle_timeout). wait_for_peer (serial lines): the session's
        timers start with its first byte, so a line nobody talks to waits quietly. Never raises for anything
        the peer sends."""
        _Session(self, link, self.limits.idle_timeout if idle_timeout is None else idle_timeout, wait_for_peer).run()

    def serve_tcp(self, host: str, port: int, ready=None, once: bool = False) -> None:
        """Listen on host:port; each connection gets its own session thread (at most limits.max_clients)."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, addr = infos[0]
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(addr)
        srv.listen(16)
        srv.settimeout(0.25)
        actual = srv.getsockname()[1]
        self.log(f"serving {self.board.name} on tcp://{host}:{actual} "
                 f"({'key required' if self.key else 'NO KEY: any local user can use this board'})")
        print(f"LISTENING {host}:{actual}", flush=True)  # machine-readable line for launchers
        if ready is not None:
            ready(actual)
        threads: list[threading.Thread] = []
        served = 0
        try:
            while not self._stop.is_set():
                threads = [t for t in threads if t.is_alive()]
                if once and served and not threads:
                    return
                try:
                    conn, peer = srv.accept()
                except socket.timeout:
                    continue
                conn.settimeout(None)
                name = f"{peer[0]}:{peer[1]}"
                if len(threads) >= self.limits.max_clients and not (once and served) and self._evict_one():
                    self.log(f"client {name} accepted in place of a connection that had not authenticated")
                elif len(threads) >= self.limits.max_clients or (once and served):
                    self._count("refused_clients")
                    self.log(f"client {name} refused: {counted(len(threads), 'client')} connected "
                             f"(limit {self.limits.max_clients})")
                    _refuse(conn, f"the agent is serving {counted(len(threads), 'client')} (its limit); try again later")
                    continue
                served += 1
                th = threading.Thread(target=self._serve_conn, args=(conn, name), daemon=True, name=f"agent {name}")
                th.start()
                threads.append(th)
        finally:
            srv.close()
            self._stop.set()
            for th in threads:
                th.join(2.0)

    def _evict_one(self, min_age: float = 0.5) -> bool:
        """All slots taken: end the oldest session that has not authenticated (or, without a key, sent a
        request) for min_age seconds, so that silent connections cannot lock honest clients out."""
        now = time.monotonic()
        with self._stats_lock:
            idle = [s for s in self._sessions if not s.established and not s.evicted and now - s.started > min_age]
            if not idle:
                return False
            victim = min(idle, key=lambda s: s.started)
            victim.evicted = True
            self.stats["evicted"] += 1
        return True

    def _serve_conn(self, conn: socket.socket, name: str) -> None:
        self.log(f"client {name} connected")
        link = SocketLink(conn, name)
        try:
            self.serve_link(link)
        except Exception as e:  # a bug here must not take the agent down; it ends this session only
            self.log(f"session {name} ended by an internal error: {type(e).__name__}: {e}")
        finally:
            link.close()
        self.log(f"client {name} disconnected")


def _refuse(conn: socket.socket, message: str) -> None:
    try:
        conn.settimeout(1.0)
        conn.sendall(encode_frame(Message(MsgType.ERROR, {"kind": "busy", "message": message})))
    except OSError:
        pass
    finally:
        conn.close()


class _Session:
    """One connection (TCP) or one session on a serial line: authentication state, the retry cache, timers."""

    MAX_UNAUTH_REQUESTS = 1  # a request before authentication is answered, then the session ends

    def __init__(self, agent: Agent, link: Link, idle_timeout: float | None, wait_for_peer: bool = False):
        self.agent, self.link, self.idle_timeout = agent, link, idle_timeout
        lim = agent.limits
        self.authed = agent.key is None
        self.reader = FrameReader(lim.payload_bytes if self.authed else lim.unauth_frame)
        self.challenge: tuple[str, str] | None = None
        self.strikes = 0
        self.started = self.last_byte = time.monotonic()
        self.waiting = wait_for_peer  # no byte yet on a line that may stay silent for days
        self.requests = 0
        self.evicted = False
        self.last_seq, self.last_reply = None, None

    @property
    def established(self) -> bool:
        """Authenticated (with a key) or past its first request (without one)."""
        return self.authed and (self.agent.key is not None or self.requests > 0)

    def send(self, msg: Message) -> bool:
        try:
            self.link.write(encode_frame(msg))
            return True
        except BoardDisconnected:
            return False

    def error(self, kind: str, message: str, seq: int | None) -> bool:
        return self.send(Message(MsgType.ERROR, {"kind": kind, "message": message[:MAX_ERROR_TEXT]}, seq=seq or 0))

    def run(self) -> None:
        a, lim = self.agent, self.agent.limits
        a._count("sessions")
        with a._stats_lock:
            a.active += 1
            a._sessions.add(self)
        try:
            while not a._stop.is_set() and not self.evicted:
                try:
                    raw = self.reader.next_frame()
                except LimitError as e:
                    a._count("protocol_errors")
                    kind = "limit" if self.authed else "auth"
                    if not self.error(kind, f"{e}{'' if self.authed else ' (before authentication)'}", e.seq):
                        return
                    if not self.authed and not self.strike():
                        return
                    continue
                if raw is None:
                    if not self.wait_for_bytes(lim):
                        return
                    continue
                if not self.on_frame(raw):
                    return
        finally:
            with a._stats_lock:
                a.active -= 1
                a._sessions.discard(self)

    def wait_for_bytes(self, lim: Limits) -> bool:
        """Read what arrives; apply the inactivity timers. False when the session is over."""
        try:
            data = self.link.read(CHUNK, 0.25)
        except BoardDisconnected:
            return False
        now = time.monotonic()
        if data:
            if self.waiting:
                self.waiting = False
                self.started = now
            self.reader.feed(data)
            self.last_byte = now
            return True
        if self.waiting:
            return True
        if self.reader.pending and now - self.last_byte > lim.frame_gap:  # inactivity, not frame length
            self.agent.log(f"dropping {self.reader.pending} bytes of an incomplete frame "
                           f"(nothing for {lim.frame_gap:.1f} s)")
            self.agent._count("dropped_partial")
            self.reader.clear()
        if (not self.authed or not self.requests) and now - self.started > lim.first_request_s:
            self.agent._count("timeouts")
            what = "authentication" if not self.authed else "request"
            self.agent.log(f"no {what} within {lim.first_request_s:.0f} s of connecting: closing")
            return False
        if self.idle_timeout is not None and now - self.last_byte > self.idle_timeout:
            self.agent._count("timeouts")
            self.agent.log(f"idle for {self.idle_timeout:.0f} s: closing")
            return False
        return True

    def on_frame(self, raw: bytes) -> bool:
        a = self.agent
        try:
            msg = decode_frame(raw, max_payload=self.reader.max_length, admit=a.admit if self.authed else None)
        except ChecksumError as e:
            a.log(f"bad frame: {e}; asking for a resend")
            a._count("protocol_errors")
            self.reader.clear()
            self.link.drain()
            return self.error("checksum", str(e), None)
        except ProtocolError as e:
            a._count("protocol_errors")
            a.log(f"malformed frame: {e}")
            if e.seq is None:  # the frame boundary is in doubt
                self.reader.clear()
                self.link.drain()
            kind = e.kind if self.authed else "auth"
            ok = self.error(kind, str(e), e.seq)
            return ok and self.strike() if not self.authed else ok
        self.requests += 1
        if msg.seq == self.last_seq and self.last_reply is not None:  # a retry of what we already did
            return self.send(self.last_reply)
        if not self.authed:
            reply, keep = self.authenticate(msg)
        elif msg.type in (MsgType.AUTH, MsgType.PROVE):
            reply, keep = Message(MsgType.ERROR, {"kind": "auth", "message": (
                "this agent has no key: connect without one" if a.key is None else "already authenticated")},
                seq=msg.seq), True
        else:
            a._count("requests")
            reply, keep = a.handle(msg), msg.type != MsgType.BYE
        self.last_seq, self.last_reply = msg.seq, reply
        return self.send(reply) and keep

    def strike(self) -> bool:
        self.strikes += 1
        return self.strikes < self.MAX_UNAUTH_REQUESTS

    def authenticate(self, msg: Message) -> tuple[Message, bool]:
        a, f = self.agent, msg.fields
        if msg.type == MsgType.AUTH:
            nonce = new_nonce()
            self.challenge = (f["client_nonce"], nonce)
            return Message(MsgType.CHALLENGE, {"agent_nonce": nonce,
                                               "agent_proof": agent_proof(a.key, f["client_nonce"], nonce)},
                           seq=msg.seq), True
        if msg.type == MsgType.PROVE and self.challenge is not None:
            from .auth import client_proof

            if verify(client_proof(a.key, *self.challenge), f["client_proof"]):
                self.authed = True
                self.reader.max_length = a.limits.payload_bytes
                return Message(MsgType.OK, {"authenticated": True}, seq=msg.seq), True
            a._count("auth_failures")
            a.log("authentication failed: the client's key differs")
            return Message(MsgType.ERROR, {"kind": "auth", "message": "authentication failed: the host's key is not "
                                           "this agent's key; copy the key file the agent was started with "
                                           "(its --key) to the host"}, seq=msg.seq), False
        if msg.type == MsgType.BYE:
            return Message(MsgType.OK, {"bye": True}, seq=msg.seq), False
        a._count("auth_failures")
        return Message(MsgType.ERROR, {"kind": "auth", "message": (
            f"this agent requires authentication before {msg.type.name}: give the host a copy of the agent's key "
            f"file (?key=PATH in the board URL, or ${KEY_ENV}=PATH)")}, seq=msg.seq), self.strike()


# ---- command line ------------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address (127.0.0.0/8, ::1)."""
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def board_build(name: str, args):
    """The core build (HardwareParams) the agent's board models: --n/--n-cond/--lanes/--format through
    fixedpoint.spec.default_build; without --n, sim models the default build of the bundled model
    (cifar10-n1024: the PYNQ-Z2 build, as `python -m host.run --board sim` does) and golden adopts the build of
    each image the host loads (None); pynq-z2 reads its build from the core (None)."""
    from fixedpoint.spec import PYNQ_Z2, default_build

    if args.n is not None:
        return default_build(args.n, args.n_cond, args.format, args.lanes)
    if name == "sim":
        return default_build(PYNQ_Z2.n, PYNQ_Z2.n_cond)
    return None


def make_board(name: str, args) -> Board:
    from .boards import open_board

    return open_board(name, params=board_build(name, args), bitfile=args.bitfile, simulator=args.simulator)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive(kind):
    def parse(s):
        try:
            v = kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a {'number' if kind is float else 'whole number'}") from None
        if not v > 0 or v != v or v == float("inf"):
            raise argparse.ArgumentTypeError(f"{s!r} must be a finite number > 0")
        return v
    return parse


def _hostport(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{s!r} is not HOST:PORT with a port in 0..65535 (0 picks a free one)")
    bracketed = host.startswith("[") and host.endswith("]") and len(host) > 2
    if ("[" in host or "]" in host or ":" in host) and not (bracketed and "[" not in host[1:-1] and "]" not in host[1:-1]):
        raise argparse.ArgumentTypeError(f"{s!r}: write an IPv6 host in brackets, [::1]:7967 (other hosts without)")
    return (host[1:-1] if bracketed else host) or "127.0.0.1", int(port)


def parse_args(argv=None):
    ap = _Parser(prog="python -m host.agent", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="golden", choices=["golden", "pynq-z2", "sim"], help="board to serve (default golden)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--listen", metavar="HOST:PORT", type=_hostport,
                   help="serve over TCP (port 0 picks a free port); a non-loopback HOST requires --key")
    g.add_argument("--serial", metavar="DEVICE", help="serve over a serial port, e.g. /dev/ttyPS0")
    g.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # an inherited descriptor (tests)
    g.add_argument("--make-key", metavar="PATH", help="create a new key file (mode 0600) and exit")
    ap.add_argument("--key", metavar="PATH", default=None,
                    help=f"shared-secret key file (mode 0600) every client must prove; default ${KEY_ENV}")
    ap.add_argument("--baud", type=_positive(int), default=115200, help="serial line rate (default 115200)")
    ap.add_argument("--bitfile", default=None, help="pynq-z2: overlay .bit (with its .hwh beside it)")
    ap.add_argument("--simulator", default=None, choices=["verilator", "icarus"], help="sim: the simulator")
    ap.add_argument("--n", type=_positive(int), default=None, help="sim/golden: core build to model (with --lanes, --format; default: sim models "
                    "the PYNQ-Z2 build of cifar10-n1024, golden the build of each loaded image)")
    ap.add_argument("--n-cond", type=_positive(int), default=None,
                    help="sim/golden with --n: conditioning oscillators (default 8)")
    ap.add_argument("--lanes", type=_positive(int), default=None,
                    help="sim/golden with --n: MAC lanes (default: fixedpoint.spec.default_build)")
    ap.add_argument("--format", default=None, help="sim/golden with --n: numerics format (default: "
                    "fixedpoint.spec.default_build, the PYNQ-Z2 build for n=1024)")
    ap.add_argument("--once", action="store_true", help="exit after the first client disconnects")
    d = Limits()
    ap.add_argument("--memory-mib", type=_positive(int), default=d.memory_mib,
                    help="memory budget B for what clients can make the agent hold (cache B/2, image B/4, message B/8)")
    ap.add_argument("--max-steps", type=_positive(int), default=d.max_steps, help="most Euler steps one RUN may ask for")
    ap.add_argument("--max-clients", type=_positive(int), default=d.max_clients, help="connections served at once")
    ap.add_argument("--idle-timeout", type=_positive(float), default=d.idle_timeout,
                    help="seconds without a byte before a connection is closed")
    args = ap.parse_args(argv)
    if not (args.listen or args.serial or args.fd is not None or args.make_key):
        ap.error("one of --listen HOST:PORT, --serial DEVICE or --make-key PATH is required")
    if args.fd is not None and args.fd < 0:
        ap.error("--fd must be an open file descriptor (>= 0)")
    if args.n is None and (args.n_cond or args.lanes or args.format):
        ap.error("--n-cond, --lanes and --format describe a core build: give --n too")
    if args.n is not None and args.board == "pynq-z2":
        ap.error("--n/--lanes/--format model a build for golden or sim; pynq-z2 reads its build from the core")
    if not args.make_key and (msg := bitfile_flag_error(args.board, args.bitfile)):
        ap.error(msg)
    if args.simulator and args.board != "sim":
        ap.error("--simulator is for --board sim")
    if args.memory_mib < 16:
        ap.error("--memory-mib must be at least 16")
    args.n_cond = 8 if args.n_cond is None else args.n_cond
    args.simulator = args.simulator or "verilator"
    if args.n is not None:
        from fixedpoint.spec import default_build

        try:
            default_build(args.n, args.n_cond, args.format, args.lanes)
        except ValueError as e:
            ap.error(str(e))
    args.key_bytes = None
    if not args.make_key:
        try:
            args.key_bytes = load_key(args.key or os.environ[KEY_ENV]) if (args.key or os.environ.get(KEY_ENV)) else None
        except KeyFileError as e:
            ap.error(str(e))
        if args.listen and args.key_bytes is None and not is_loopback(args.listen[0]):
            ap.error(f"refusing to listen on {args.listen[0]} without a key: anyone who reaches the port could run "
                     f"the board. Create one with `python -m host.agent --make-key agent.key`, copy it to the host "
                     f"(chmod 600) and pass --key agent.key here and on the host")
    return ap, args


def main(argv=None) -> int:
    ap, args = parse_args(argv)
    if args.make_key:
        try:
            make_key(args.make_key)
        except KeyFileError as e:
            ap.error(str(e))
        print(f"wrote a new key to {args.make_key} (mode 0600). Copy it to the host over a secure channel "
              f"(e.g. scp), chmod 600 it there, and give both sides --key {args.make_key} (or ${KEY_ENV})")
        return 0
    try:
        board = make_board(args.board, args)
    except Exception as e:
        print(f"error: cannot open board {args.board!r}: {e}", file=sys.stderr)
        return 2
    limits = Limits(memory_mib=args.memory_mib, max_steps=args.max_steps, max_clients=args.max_clients,
                    idle_timeout=args.idle_timeout)
    agent = Agent(board, key=args.key_bytes, limits=limits)
    if args.key_bytes is None:
        agent.log("WARNING: no key: anyone who can reach this link can use the board "
                  "(see `python -m host.agent --make-key`)")
    try:
        if args.listen:
            agent.serve_tcp(*args.listen, once=args.once)
        elif args.serial:
            try:
                link = SerialLink.open(args.serial, args.baud)
            except BoardDisconnected as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            print(f"LISTENING {args.serial}", flush=True)
            while True:  # a serial line outlives its clients: serve the next session after BYE or idle
                agent.serve_link(link, wait_for_peer=True)
                if args.once:
                    break
        else:
            print(f"LISTENING fd {args.fd}", flush=True)
            agent.serve_link(FdLink(args.fd, "fd"))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"error: cannot serve: {e}", file=sys.stderr)
        return 2
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
