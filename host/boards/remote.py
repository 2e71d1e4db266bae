"""Remote boards: a host.agent reached over TCP (tcp://host:port) or a serial line
(serial:///dev/ttyUSB0?baud=115200). Retries corrupted or lost frames; a dead link is a clear error.

With a key (the `key` argument, `?key=PATH` in the URL, or $OSC_AGENT_KEY naming the key file) every
connection starts with host.auth's mutual challenge-response: the host proves it holds the key and checks
that the agent does too before it trusts any result. Every reply is checked against the protocol schema
and against the request (shapes, lengths) before it is used; anything else is a BoardError."""
from __future__ import annotations

import socket
import time
import ipaddress
from urllib.parse import unquote, urlsplit

import numpy as np

from fixedpoint.cli import counted
from fixedpoint.quantize import HardwareImage
from fixedpoint.spec import HardwareParams

from ..auth import KEY_ENV, KeyFileError, agent_proof, client_proof, key_from, new_nonce, verify
from ..link import Channel, Link, SerialLink, SocketLink
from ..protocol import ChecksumError, Message, MsgType, ProtocolError, image_message
from .base import Board, BoardDisconnected, BoardError, BoardTimeout, CoreMismatch, ImageMismatch, RunResult

class AgentBusy(BoardError):
    """The agent serves as many connections as its limit allows; try again later."""


KIND_ERRORS = {"image_mismatch": ImageMismatch, "core_mismatch": CoreMismatch, "timeout": BoardTimeout,
               "value": ValueError, "protocol": BoardError, "board": BoardError, "limit": BoardError,
               "auth": BoardError, "busy": AgentBusy}


#: The query keys a board URL may carry, per scheme (RemoteBoard.open reads them).
URL_KEYS = {"tcp": ("timeout", "retries", "key"), "serial": ("timeout", "retries", "key", "baud")}
URL_FORMS = "tcp://HOST:PORT, tcp://[IPv6]:PORT or serial:///dev/DEVICE?baud=N"
#: Longest request timeout (seconds) a URL's ?timeout= or the API's timeout= may ask for.
MAX_TIMEOUT_S = 1e6


def parse_url(url: str) -> tuple[str, object, dict[str, str]]:
    """A remote board URL -> (scheme, where, query). tcp: where = (host, port) (an IPv6 host in brackets,
    port 1..65535); serial: where = the device path (or a pyserial URL such as loop://). query: {key: value}
    of the keys in URL_KEYS (each at most once). Raises ValueError saying what is wrong and the accepted form."""
    try:
        u = urlsplit(url)
    except ValueError as e:  # unbalanced [ ], or brackets around something that is no IPv6 address
        raise ValueError(f"bad board URL {url!r} ({e}): write an IPv6 host in brackets, tcp://[::1]:7967, "
                         "and other hosts without them") from None
    scheme = u.scheme.lower()
    if scheme not in URL_KEYS:
        raise ValueError(f"unknown remote board URL {url!r}: use {URL_FORMS}")
    if u.fragment:
        raise ValueError(f"bad board URL {url!r}: remove '#{u.fragment}' (a board URL has no fragment)")
    query: dict[str, str] = {}
    known = URL_KEYS[scheme]
    for part in filter(None, u.query.split("&")):
        k, sep, v = part.partition("=")
        k, v = unquote(k), unquote(v)
        if k not in known:
            raise ValueError(f"bad board URL {url!r}: unknown option {k!r}; a {scheme}:// URL takes "
                             f"{', '.join(f'{x}=' for x in known)}")
        if not sep or not v:
            raise ValueError(f"bad board URL {url!r}: option {k!r} has no value; write {k}=VALUE")
        if k in query:
            raise ValueError(f"bad board URL {url!r}: option {k!r} is given twice; give it once")
        query[k] = v
    if scheme == "serial":
        dev = unquote(u.path or u.netloc)
        if not dev or (u.netloc and u.path):
            raise ValueError(f"bad board URL {url!r}: use serial:///dev/DEVICE?baud=N (three slashes, then the path)")
        return scheme, dev, query
    form = "use tcp://HOST:PORT (an IPv6 host in brackets: tcp://[::1]:7967), port 1..65535"
    if u.path or "@" in u.netloc:
        raise ValueError(f"bad board URL {url!r}: a tcp:// URL is only HOST:PORT and options, "
                         f"no {'path ' + repr(u.path) if u.path else 'user@'}; {form}")
    try:
        host, port = u.hostname, u.port
    except ValueError as e:  # a port that is not a number or out of range, an IPv6 host without brackets
        raise ValueError(f"bad board URL {url!r} ({e}): {form}") from None
    if not host or not port:
        raise ValueError(f"bad board URL {url!r}: {'no port' if host else 'no host'}; {form}")
    bracketed = u.netloc.startswith("[")
    if bracketed != (":" in host) or (bracketed and not u.netloc.partition("]")[2].startswith(":")):
        raise ValueError(f"bad board URL {url!r}: {form}")
    return scheme, (host, port), query


def _hostport_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unreachable_message(host: str, port: int, err: OSError, keyed: bool) -> str:
    """What a failed TCP connect says: the cause (no such host, nothing listening, no answer), the checks that
    fit it, how the agent is started there, and the golden board only as the way to work without the board."""
    where = _hostport_text(host, port)
    if _is_loopback(host):
        start = f"`python -m host.agent --board BOARD --listen {where}`"
    else:
        start = (f"`python -m host.agent --board BOARD --listen 0.0.0.0:{port} --key FILE` (beyond loopback the agent "
                 f"needs a key file; this host needs the same file: ?key=PATH in the URL or ${KEY_ENV}"
                 f"{', which you gave' if keyed else ''})")
    if isinstance(err, socket.gaierror):
        cause = f"cannot resolve the host name {host!r} ({err.strerror or err}): check the address in the URL"
    elif isinstance(err, ConnectionRefusedError):
        cause = (f"nothing listens on {where} (connection refused): check the port, and that the agent runs there, "
                 f"started with {start}")
    elif isinstance(err, TimeoutError):
        cause = (f"no answer from {where} (timed out): check the address, that the machine is up and that no "
                 f"firewall drops port {port}; the agent there is started with {start}")
    else:
        cause = (f"{err}: check the address and port, the network, and that the agent runs there, started with "
                 f"{start}")
    return (f"cannot reach the agent at {where}: {cause}. To work without the board, use the golden board "
            "(board \"golden\")")


class RemoteBoard(Board):
    """Client side of the agent protocol. `timeout` bounds each request (seconds of silence on the link);
    `retries` resends per request; `key` the shared secret (bytes) or None; `reopen` a callable that makes a
    fresh Link (TCP), used when the agent has closed an idle connection."""

    def __init__(self, link: Link, name: str, timeout: float = 60.0, retries: int = 3, key: bytes | None = None,
                 reopen=None):
        self.name = name
        self.channel = Channel(link)
        self.timeout = timeout
        self.retries = retries
        self._key = key
        self._reopen = reopen
        self._seq = 0
        self.stats = {"retries": 0, "requests": 0, "reconnects": 0}
        self._closed = False
        self._idle_s = None
        self._last = time.monotonic()
        hello = self._start_session()
        self.remote_info = hello.fields["info"]
        self.agent_auth = bool(hello.fields.get("auth", False))
        self.agent_stats = hello.fields.get("stats", {})
        p = self.remote_info.get("params")
        super().__init__(HardwareParams.from_dict(p) if p else None)

    def agent_status(self) -> dict:
        """The agent's counters now (requests, errors, sessions, timeouts, cache_bytes, ...), from a HELLO."""
        r = self.request(Message(MsgType.HELLO))
        if r.type != MsgType.INFO:
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to HELLO")
        return r.fields.get("stats", {})

    def _start_session(self) -> Message:
        try:
            if self._key is not None:
                self._authenticate()
            hello = self.request(Message(MsgType.HELLO), timeout=min(self.timeout, 30.0), _fresh=True)
            if hello.type == MsgType.ERROR:
                self._raise_error(hello)
            if hello.type != MsgType.INFO:
                raise BoardError(f"{self.name}: unexpected reply {hello.type.name} to HELLO")
        except BaseException:
            self.channel.close()
            raise
        self._idle_s = hello.fields.get("idle_s")
        return hello

    def _authenticate(self) -> None:
        nc = new_nonce()
        r = self.request(Message(MsgType.AUTH, {"client_nonce": nc}), timeout=min(self.timeout, 30.0), _fresh=True)
        if r.type == MsgType.ERROR and r.fields["kind"] == "busy":
            self._raise_error(r)
        if r.type == MsgType.ERROR:
            raise BoardError(f"{self.name}: authentication refused: {r.fields['message']}")
        if r.type != MsgType.CHALLENGE:
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to AUTH")
        na = r.fields["agent_nonce"]
        if not verify(agent_proof(self._key, nc, na), r.fields["agent_proof"]):
            raise BoardError(f"{self.name}: the agent could not prove it holds our key: it has another key, or it "
                             "is not our agent; refusing to use it")
        r = self.request(Message(MsgType.PROVE, {"client_proof": client_proof(self._key, nc, na)}),
                         timeout=min(self.timeout, 30.0), _fresh=True)
        if r.type == MsgType.ERROR:
            raise BoardError(f"{self.name}: {r.fields['message']}")
        if r.type != MsgType.OK or not r.fields.get("authenticated"):
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to PROVE")

    @classmethod
    def open(cls, url: str, timeout: float | None = None, retries: int | None = None,
             key: bytes | str | None = None) -> "RemoteBoard":
        """`key`: bytes, or the path of a key file; default `?key=PATH` in the URL, then $OSC_AGENT_KEY.
        Raises ValueError for a malformed URL (parse_url), BoardDisconnected when the agent cannot be reached."""
        scheme, where, q = parse_url(url)
        for name, arg in (("timeout", timeout), ("retries", retries), ("key", key)):
            if arg is not None and name in q:
                raise ValueError(f"bad board URL {url!r}: {name} is given twice, in the URL (?{name}=) and apart from "
                                 f"it ({name}=, or --{name} on a command line); give it once")
        try:
            timeout = float(q.get("timeout", timeout or 60.0))
            retries = int(q.get("retries", retries if retries is not None else 3))
            baud = int(q.get("baud", 115200))
        except ValueError:
            raise ValueError(f"bad board URL {url!r}: timeout, retries and baud must be numbers") from None
        if not (0 < timeout < MAX_TIMEOUT_S) or not 0 <= retries <= 100 or baud <= 0:
            raise ValueError(f"bad board URL {url!r}: need 0 < timeout < {MAX_TIMEOUT_S:g}, 0 <= retries <= 100, "
                             "baud > 0")
        try:
            key = key if isinstance(key, bytes) else key_from(key or q.get("key"))
        except KeyFileError as e:
            raise ValueError(str(e)) from None
        if scheme == "tcp":
            host, port = where

            def connect():
                try:
                    sock = socket.create_connection((host, port), timeout=min(timeout, 10.0))
                except OSError as e:
                    raise BoardDisconnected(unreachable_message(host, port, e, key is not None)) from None
                sock.settimeout(None)
                return SocketLink(sock, f"agent at {_hostport_text(host, port)}")

            for wait in (0.2, 0.5, 1.0, 2.0, None):  # a full agent frees slots within seconds
                try:
                    return cls(connect(), url, timeout, retries, key, reopen=connect)
                except AgentBusy:
                    if wait is None:
                        raise
                    time.sleep(wait)
        link = SerialLink.open(where, baud)
        return cls(link, url, timeout, retries, key)

    def _refresh_session(self) -> None:
        """The agent ends a session after idle_s seconds of silence: start a new one before that bites."""
        if self._idle_s is None or time.monotonic() - self._last < 0.8 * self._idle_s:
            return
        self.stats["reconnects"] += 1
        if self._reopen is not None:
            self.channel.close()
            self.channel = Channel(self._reopen())
        elif self._key is None:
            return  # serial without a key: a new session needs no handshake
        self._start_session()

    # ---- request/response with retries ----------------------------------------------------------------
    def request(self, msg: Message, timeout: float | None = None, _fresh: bool = False) -> Message:
        """Send `msg` and return its reply (any type, ERROR included), retrying corrupted or lost frames."""
        if self._closed:
            raise BoardDisconnected(f"{self.name}: board is closed")
        if not _fresh:
            self._refresh_session()
        timeout = self.timeout if timeout is None else timeout
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        msg.seq = self._seq
        self.stats["requests"] += 1
        last = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
            self.channel.send(msg)
            try:
                while True:
                    reply = self.channel.recv(timeout)
                    if reply.seq == msg.seq or (reply.type == MsgType.ERROR and
                                                (reply.seq == 0 or reply.fields["kind"] == "checksum")):
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
            self._last = time.monotonic()
            if reply.type == MsgType.ERROR and reply.fields["kind"] == "checksum":
                last = f"agent received a corrupted request ({reply.fields['message']})"
                continue
            return reply
        if last and last.startswith("no reply"):
            raise BoardTimeout(f"{self.name}: {msg.type.name} failed after {counted(self.retries + 1, 'try', 'tries')}: {last}; "
                               "is the agent alive and the link up?")
        raise BoardError(f"{self.name}: {msg.type.name} failed after {counted(self.retries + 1, 'try', 'tries')}: {last}")

    def _raise_error(self, reply: Message):
        kind = reply.fields["kind"]
        hint = {"limit": " (the agent's limits: see its --memory-mib and --max-steps)"}.get(kind, "")
        raise KIND_ERRORS.get(kind, BoardError)(f"agent ({kind}): {reply.fields['message']}{hint}")

    # ---- Board API ---------------------------------------------------------------------------------------
    def info(self) -> dict:
        return dict(self.remote_info, board=self.name, remote_board=self.remote_info.get("board"), auth=self.agent_auth)

    def _load(self, image: HardwareImage) -> None:
        digest = image.digest()
        r = self._expect(self.request(Message(MsgType.HAS_IMAGE, {"digest": digest})), MsgType.OK, "HAS_IMAGE")
        if not r.fields.get("loaded"):
            r = self._expect(self.request(image_message(image)), MsgType.OK, "LOAD_IMAGE")
            if r.fields.get("digest") != digest:
                raise BoardError(f"{self.name}: the agent acknowledged image {r.fields.get('digest')} instead of {digest}")

    def _expect(self, r: Message, mtype: MsgType, what: str) -> Message:
        if r.type == MsgType.ERROR:
            self._raise_error(r)
        if r.type != mtype:
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to {what}")
        return r

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
        if r.type != MsgType.RESULT:
            raise BoardError(f"{self.name}: unexpected reply {r.type.name} to RUN")
        n_total = len(msg.arrays["phases0"])
        phases, traj = r.arrays["phases"], r.arrays.get("trajectory")
        if phases.shape != (n_total,) or (trajectory and (traj is None or traj.shape != (steps + 1, n_total))) \
                or (not trajectory and traj is not None):
            raise BoardError(f"{self.name}: the agent's RESULT has phases {phases.shape} and trajectory "
                             f"{None if traj is None else traj.shape}; expected ({n_total},)"
                             f"{f' and ({steps + 1}, {n_total})' if trajectory else ''}")
        timing = dict(r.fields.get("timing", {}))
        timing["link_s"] = max(0.0, wall - float(r.fields.get("agent_s", 0.0)))
        timing["total_s"] = wall
        return RunResult(phases.astype(np.int64), timing, bool(r.fields.get("overflow")),
                         None if traj is None else traj.astype(np.int64))

    @property
    def _digest_for_run(self):
        return self._digest if self._digest is not None else self._image.digest()

    @property
    def batch(self) -> int:
        """One sample per RUN message (the protocol carries one phase vector; a batch build on the agent's side
        fills its batch with copies): run_batch on a remote board takes one sample."""
        return 1

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
