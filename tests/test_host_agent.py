"""The board agent under attack and on slow links (issue 12, items 1-5 and the agent's command line).

1. malformed messages (hypothesis at message level: descriptors, fields and arrays of every wrong type) are
   answered or dropped while the agent keeps serving; malformed replies are a clean BoardError on the host;
2. shared-secret authentication (mutual HMAC challenge-response) on TCP and serial, key-file rules;
3. an idle client does not block others; requests are served in FIFO order;
4. sizes, steps and memory from the wire are bounded before any work;
5. a serial upload that takes seconds at 115200 baud is not cut off.
"""
import json
import os
import socket
import stat
import struct
import threading
import time
import tty
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixedpoint.golden import initial_phases
from fixedpoint.quantize import quantize
from fixedpoint.spec import HardwareParams
from host.agent import Agent, FifoLock, Limits, main as agent_main
from host.auth import KEY_ENV, KeyFileError, load_key, make_key
from host.boards import BoardError, open_board
from host.boards.golden import GoldenBoard
from host.boards.remote import RemoteBoard
from host.link import Channel, FdLink, SerialLink, SocketLink
from host.protocol import (_DTYPES, HEADER, MAGIC, MESSAGE_SCHEMA, LimitError, Message, MsgType, ProtocolError,
                           decode_frame, encode_frame, image_message)
from host.testing import PacedLink, agent_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _image(n=16, m=8, classes=3, lanes=8, seed=0, steps=10):
    rng = np.random.default_rng(seed)
    eff = {"K": rng.normal(0, 0.3, (n, n)), "K_drive": rng.normal(0, 0.3, (classes, n, m)),
           "K_cond": rng.normal(0, 0.3, (m, m)), "omega": rng.normal(0, 1, n), "omega_cond": rng.normal(0, 1, m)}
    np.fill_diagonal(eff["K"], 0)
    np.fill_diagonal(eff["K_cond"], 0)
    return quantize(eff, HardwareParams(n, m, lanes), 0.1, steps, {"relativization": "mean_relative"})


@pytest.fixture(scope="module")
def image():
    return _image()


@pytest.fixture(scope="module")
def golden(image):
    g = GoldenBoard()
    g.load_image(image)
    p0 = initial_phases(5, 3, image.params.n_total, image.params.spec)
    return p0, [g.run(c, p0[c]).phases for c in range(3)]


def _frame(mtype: int, head: bytes, body: bytes = b"", seq: int = 1, compress: bool = False) -> bytes:
    """A correctly framed and checksummed frame around any payload header and body."""
    payload = struct.pack("<I", len(head)) + head + body
    flags = 0
    if compress:
        payload, flags = zlib.compress(payload, 1), 1
    h = HEADER.pack(MAGIC, 1, int(mtype), flags, seq, len(payload))
    return h + payload + struct.pack("<I", zlib.crc32(h + payload))


def _head(fields, arrays) -> bytes:
    return json.dumps({"fields": fields, "arrays": arrays}).encode()  # NaN/Infinity allowed: hostile input


class _InProcessAgent:
    """An Agent serving socketpair sessions in threads (fast enough for hypothesis)."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def session(self):
        a, b = socket.socketpair()
        th = threading.Thread(target=self.agent.serve_link, args=(SocketLink(b, "test peer"),), daemon=True)
        th.start()
        return a, b, th


def _exchange(sock, frames: list[bytes], hello_seq=0x7777):
    """Send frames then a HELLO; return the replies up to the INFO for that HELLO (None if the session ended)."""
    ch = Channel(SocketLink(sock, "agent"))
    for f in frames:
        sock.sendall(f)
    sock.sendall(encode_frame(Message(MsgType.HELLO, seq=hello_seq)))
    replies = []
    while True:
        try:
            m = ch.recv(5.0)
        except BoardError as e:
            _exchange.last_error = e
            return None
        replies.append(m)
        if m.type == MsgType.INFO and m.seq == hello_seq:
            return replies


# ---- 1. malformed messages ------------------------------------------------------------------------------
ISSUE_FRAMES = {
    "dtype is a list": _head({}, [{"name": "p", "dtype": ["int64"], "shape": [1], "offset": 0, "nbytes": 8}]),
    "33-dim shape": _head({}, [{"name": "p", "dtype": "int64", "shape": [1] * 33, "offset": 0, "nbytes": 8}]),
    "shape of strings": _head({}, [{"name": "p", "dtype": "int64", "shape": ["1"], "offset": 0, "nbytes": 8}]),
    "descriptor is a list": _head({}, [["p", "int64", [1], 0, 8]]),
    "name is a dict": _head({}, [{"name": {}, "dtype": "int64", "shape": [1], "offset": 0, "nbytes": 8}]),
    "huge shape": _head({}, [{"name": "p", "dtype": "int64", "shape": [2**62, 2**62], "offset": 0, "nbytes": 8}]),
    "NaN field": _head({"digest": "0" * 64, "class_id": float("nan")}, []),
    "steps a string": _head({"digest": "0" * 64, "class_id": 0, "steps": "10"}, []),
}


@pytest.mark.parametrize("name", sorted(ISSUE_FRAMES))
def test_issue_frames_are_protocol_errors(name):
    for mtype in (MsgType.RUN, MsgType.RESULT):
        with pytest.raises(ProtocolError):
            decode_frame(_frame(mtype, ISSUE_FRAMES[name], b"\0" * 8))


def test_agent_survives_the_issue_frames(image, golden):
    """A real agent process: every crash frame of the issue is answered with ERROR and the agent keeps serving."""
    with agent_process("--board", "golden") as (url, proc):
        host, port = url[len("tcp://"):].split(":")
        with socket.create_connection((host, int(port))) as s:
            frames = [_frame(MsgType.RUN, h, b"\0" * 8, seq=i + 1) for i, h in enumerate(ISSUE_FRAMES.values())]
            replies = _exchange(s, frames)
        assert replies is not None and proc.poll() is None
        errors = [r for r in replies if r.type == MsgType.ERROR]
        assert sorted(r.seq for r in errors) == list(range(1, len(frames) + 1))
        assert all(r.fields["kind"] == "protocol" for r in errors)
        with open_board(url) as b:  # and it still computes exactly
            b.load_image(image)
            np.testing.assert_array_equal(b.run(1, golden[0][1]).phases, golden[1][1])


# hostile values of every JSON type, including the ones a strict encoder would never write
_any = st.recursive(st.none() | st.booleans() | st.integers(-2**80, 2**80) | st.text(max_size=6)
                    | st.floats(allow_nan=True, allow_infinity=True),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                    max_leaves=6)
_dims = st.lists(st.integers(-3, 2**40) | st.sampled_from([0, 1, 2, 8]), max_size=40)
_desc = st.dictionaries(
    st.sampled_from(["name", "dtype", "shape", "offset", "nbytes", "extra"]),
    _any, max_size=6) | st.fixed_dictionaries({
        "name": st.sampled_from(["phases0", "phases", "trajectory", "k", "drive", "x"]) | _any,
        "dtype": st.sampled_from(sorted(_DTYPES) + ["object", "<i8", "float16", "S8"]) | _any,
        "shape": _dims | _any,
        "offset": st.integers(-8, 2**34) | _any,
        "nbytes": st.integers(-8, 2**34) | _any})


@st.composite
def _hostile_fields(draw, mtype):
    """Each schema field either right-typed, wrong-typed or missing; plus stray fields."""
    req, opt, _, _ = MESSAGE_SCHEMA[mtype]
    good = {"digest": "ab" * 32, "class_id": 1, "steps": 3, "trajectory": False, "kind": "value", "message": "m",
            "loaded": True, "client_nonce": "cd" * 32}
    fields = {}
    for name in list(req) + list(opt):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            fields[name] = good.get(name, draw(_any))
        elif choice == 1:
            fields[name] = draw(_any)
    fields.update(draw(st.dictionaries(st.text(max_size=5), _any, max_size=2)))
    return fields


@st.composite
def hostile_frames(draw, types=tuple(MsgType)):
    """A correctly framed, checksummed frame whose message is wrong in any way (or occasionally right)."""
    mtype = draw(st.sampled_from(types) | st.integers(0, 255).filter(lambda t: t in types or t not in set(MsgType)))
    fields = draw(_hostile_fields(mtype)) if mtype in MsgType.__members__.values() else draw(_any)
    if draw(st.booleans()):  # real arrays, wrong dtypes / shapes / names
        arrays = {draw(st.sampled_from(["phases0", "phases", "trajectory", "k", "zz"])):
                  np.zeros(draw(st.lists(st.integers(0, 4), max_size=4)),
                           dtype=draw(st.sampled_from(["int8", "int64", "uint64", "float32", "bool"])))
                  for _ in range(draw(st.integers(0, 3)))}
        descs, off = [], 0
        for name, a in arrays.items():
            descs.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape), "offset": off, "nbytes": a.nbytes})
            off += a.nbytes
        body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    else:
        descs = draw(st.lists(_desc, max_size=4) | _any)
        body = draw(st.binary(max_size=64))
    top = draw(st.sampled_from(["normal", "odd"]))
    head = _head(fields, descs) if top == "normal" else json.dumps(draw(_any)).encode()
    return _frame(int(mtype), head, body, seq=draw(st.integers(1, 2**32 - 1)), compress=draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(hostile_frames())
def test_fuzz_messages_decode_to_schema_valid_messages_or_protocol_error(frame):
    try:
        msg = decode_frame(frame)
    except ProtocolError as e:
        assert e.seq is not None  # the checksum was good: the receiver can answer this request
        return
    req, opt, req_arr, opt_arr = MESSAGE_SCHEMA[msg.type]
    assert set(req) <= set(msg.fields) and set(req_arr) <= set(msg.arrays)
    assert all(a.dtype.kind in "iu" for a in msg.arrays.values())


@pytest.fixture(scope="module")
def inproc_agent(image):
    agent = Agent(GoldenBoard(), log=lambda s: None, limits=Limits(first_request_s=5))
    agent.handle(decode_frame(encode_frame(image_message(image))))
    return _InProcessAgent(agent)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(hostile_frames(types=tuple(t for t in MsgType if t != MsgType.BYE)), min_size=1, max_size=3))
def test_fuzz_agent_answers_and_keeps_serving(inproc_agent, frames):
    a, b, th = inproc_agent.session()
    try:
        replies = _exchange(a, frames)
        assert replies is not None, f"the agent ended the session: {_exchange.last_error}"
        assert replies[-1].fields["info"]["board"] == "golden"
    finally:
        a.close()
        th.join(5)
        b.close()
    assert not th.is_alive()


class _FakeAgent:
    """Answers HELLO and HAS_IMAGE honestly, then RUN with a hostile reply (the host side of item 1)."""

    def __init__(self, reply_for_run):
        self.reply_for_run = reply_for_run
        self.sock, peer = socket.socketpair()
        self.th = threading.Thread(target=self._serve, args=(peer,), daemon=True)
        self.th.start()

    def _serve(self, peer):
        ch = Channel(SocketLink(peer, "host"))
        try:
            while True:
                m = ch.recv(10)
                if m.type == MsgType.HELLO:
                    ch.send(Message(MsgType.INFO, {"info": {"board": "fake", "params": None}, "protocol": 1}, seq=m.seq))
                elif m.type == MsgType.HAS_IMAGE:
                    ch.send(Message(MsgType.OK, {"loaded": True}, seq=m.seq))
                elif m.type == MsgType.RUN:
                    peer.sendall(self.reply_for_run(m.seq))
                else:
                    return
        except BoardError:
            return
        finally:
            peer.close()


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fuzz_host_gets_a_clean_board_error_for_any_reply(image, data):
    frame_for = data.draw(hostile_frames(types=(MsgType.RESULT, MsgType.ERROR, MsgType.OK, MsgType.INFO)))
    fake = _FakeAgent(lambda seq: frame_for[:8] + struct.pack("<I", seq) + frame_for[12:-4]
                      + struct.pack("<I", zlib.crc32(frame_for[:8] + struct.pack("<I", seq) + frame_for[12:-4])))
    b = RemoteBoard(SocketLink(fake.sock, "fake"), "tcp://fake", timeout=3.0, retries=0)
    try:
        b.load_image(image)
        res = b.run(0, np.zeros(image.params.n_total, np.int64))
        assert res.phases.shape == (image.params.n_total,) and res.phases.dtype == np.int64
    except (BoardError, ValueError):  # ValueError: an ERROR kind=value, as the golden board raises it
        pass
    finally:
        b.close()
        fake.th.join(5)


def test_issue_frames_as_replies_are_a_board_error(image):
    for head in ISSUE_FRAMES.values():
        fake = _FakeAgent(lambda seq, head=head: _frame(MsgType.RESULT, head, b"\0" * 8, seq=seq))
        b = RemoteBoard(SocketLink(fake.sock, "fake"), "tcp://fake", timeout=3.0, retries=1)
        b.load_image(image)
        with pytest.raises(BoardError, match="malformed reply"):
            b.run(0, np.zeros(image.params.n_total, np.int64))
        b.close()


# ---- 2. authentication ------------------------------------------------------------------------------------
@pytest.fixture
def key_file(tmp_path):
    return make_key(str(tmp_path / "agent.key"))


def test_make_key_is_private_and_refuses_to_overwrite(key_file):
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(load_key(key_file)) == 32
    with pytest.raises(KeyFileError, match="already exists"):
        make_key(key_file)


def test_readable_key_file_is_refused(key_file):
    os.chmod(key_file, 0o640)
    with pytest.raises(KeyFileError, match=f"chmod 600 {key_file}"):
        load_key(key_file)


def test_make_key_cli(tmp_path, capsys):
    path = str(tmp_path / "k")
    assert agent_main(["--make-key", path]) == 0
    assert "mode 0600" in capsys.readouterr().out and len(load_key(path)) == 32


def test_tcp_with_key_matches_golden_and_refuses_others(image, golden, key_file, tmp_path, monkeypatch):
    with agent_process("--board", "golden", "--key", key_file) as (url, proc):
        with open_board(f"{url}?key={key_file}") as b:  # key in the URL
            b.load_image(image)
            for c in range(3):
                np.testing.assert_array_equal(b.run(c, golden[0][c]).phases, golden[1][c])
        monkeypatch.setenv(KEY_ENV, key_file)  # key from the environment
        with open_board(url) as b:
            assert b.info()["auth"] is True
        monkeypatch.delenv(KEY_ENV)
        with pytest.raises(BoardError, match=r"requires authentication.*\?key=PATH in the board URL"):
            open_board(url)  # no key
        other = make_key(str(tmp_path / "other.key"))
        with pytest.raises(BoardError, match="could not prove"):
            open_board(f"{url}?key={other}")  # a wrong key: the agent's proof does not check out
        # a raw client that skips the handshake gets nothing done: LOAD_IMAGE and RUN are refused
        host, port = url[len("tcp://"):].split(":")
        with socket.create_connection((host, int(port))) as s:
            s.sendall(encode_frame(Message(MsgType.HAS_IMAGE, {"digest": image.digest()}, seq=5)))
            r = Channel(SocketLink(s, "agent")).recv(5)
            assert r.type == MsgType.ERROR and r.fields["kind"] == "auth" and r.seq == 5
            assert s.recv(1) == b""  # and the session is over
        with socket.create_connection((host, int(port))) as s:
            s.sendall(encode_frame(image_message(image, seq=6)))  # larger than the unauthenticated frame limit
            r = Channel(SocketLink(s, "agent")).recv(5)
            assert r.type == MsgType.ERROR and r.fields["kind"] == "auth" and r.seq == 6
        assert proc.poll() is None


def test_agent_without_key_is_refused_by_a_host_with_one(key_file):
    with agent_process("--board", "golden") as (url, _):
        with pytest.raises(BoardError, match="has no key"):
            open_board(f"{url}?key={key_file}")


def test_host_rejects_an_agent_that_fakes_the_challenge(key_file):
    """Mutual authentication: a look-alike agent without the key cannot produce agent_proof."""
    sock, peer = socket.socketpair()

    def fake():
        ch = Channel(SocketLink(peer, "host"))
        m = ch.recv(5)
        ch.send(Message(MsgType.CHALLENGE, {"agent_nonce": "11" * 32, "agent_proof": "22" * 32}, seq=m.seq))
        try:
            ch.recv(5)  # a host that fell for it would now send PROVE; ours closes the link instead
        except BoardError:
            pass
        peer.close()

    th = threading.Thread(target=fake, daemon=True)
    th.start()
    with pytest.raises(BoardError, match="could not prove"):
        RemoteBoard(SocketLink(sock, "fake"), "fake", timeout=2, key=load_key(key_file))
    th.join(10)


def test_serial_session_with_key(image, golden, key_file):
    master, slave = os.openpty()
    tty.setraw(slave)
    agent = Agent(GoldenBoard(), log=lambda s: None, key=load_key(key_file))
    th = threading.Thread(target=agent.serve_link, args=(FdLink(master, "pty"),), daemon=True)
    th.start()
    try:
        with pytest.raises(BoardError, match="requires authentication"):
            RemoteBoard(SerialLink.open(os.ttyname(slave)), "serial", timeout=5, retries=0)
        th.join(10)  # a refused session ends; a new one starts for the next host
        th = threading.Thread(target=agent.serve_link, args=(FdLink(master, "pty"),), daemon=True)
        th.start()
        with open_board(f"serial://{os.ttyname(slave)}?baud=115200&timeout=10&key={key_file}") as b:
            b.load_image(image)
            np.testing.assert_array_equal(b.run(2, golden[0][2]).phases, golden[1][2])
        th.join(10)
    finally:
        os.close(master)
        os.close(slave)


def _cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        agent_main(args)
    err = capsys.readouterr().err.strip()
    return e.value.code, err


@pytest.mark.parametrize("args, needle", [
    (["--listen", "0.0.0.0:7967"], "without a key"),
    (["--listen", "localhost"], "HOST:PORT"),
    (["--listen", "127.0.0.1:99999"], "HOST:PORT"),
    (["--listen", "[::1:7967"], "IPv6 host in brackets"),
    (["--listen", "::1:7967"], "IPv6 host in brackets"),
    (["--listen", "127.0.0.1:0", "--baud", "0"], "must be a finite number > 0"),
    (["--listen", "127.0.0.1:0", "--idle-timeout", "nan"], "--idle-timeout"),
    (["--listen", "127.0.0.1:0", "--lanes", "8"], "give --n too"),
    (["--listen", "127.0.0.1:0", "--n", "16", "--lanes", "64"], "MAC columns of a group"),
    (["--listen", "127.0.0.1:0", "--bitfile", "x.bit"], "--bitfile applies to --board pynq-z2 only"),
    (["--listen", "127.0.0.1:0", "--board", "pynq-z2"], "--board pynq-z2 needs --bitfile PATH.bit"),
    (["--listen", "127.0.0.1:0", "--memory-mib", "4"], "at least 16"),
    (["--listen", "127.0.0.1:0", "--key", "/nonexistent/agent.key"], "--make-key"),
    (["--listen", "127.0.0.1:0", "--key", "/"], "is a directory; give the key file itself"),
    (["--board", "golden"], "one of --listen"),
])
def test_agent_cli_refuses_bad_values_in_one_line(args, needle, capsys):
    code, err = _cli(args, capsys)
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err


def test_agent_listen_address_forms():
    from host.agent import _hostport

    assert _hostport("[::1]:7967") == ("::1", 7967) and _hostport(":0") == ("127.0.0.1", 0)
    assert _hostport("0.0.0.0:7967") == ("0.0.0.0", 7967)


def test_agent_cli_refuses_a_group_readable_key(key_file, capsys):
    os.chmod(key_file, 0o644)
    code, err = _cli(["--listen", "127.0.0.1:0", "--key", key_file], capsys)
    assert code == 2 and "chmod 600" in err


# ---- 3. idle clients, several clients, fairness -------------------------------------------------------
def test_idle_client_does_not_block_others_and_is_timed_out(image, golden):
    agent = Agent(GoldenBoard(), log=lambda s: None, limits=Limits(first_request_s=1.5, idle_timeout=3))
    port = []
    th = threading.Thread(target=agent.serve_tcp, args=("127.0.0.1", 0), kwargs={"ready": port.append}, daemon=True)
    th.start()
    try:
        while not port:
            time.sleep(0.01)
        idle = socket.create_connection(("127.0.0.1", port[0]))  # connects and sends nothing
        t0 = time.monotonic()
        with RemoteBoard.open(f"tcp://127.0.0.1:{port[0]}", timeout=5) as b:
            b.load_image(image)
            np.testing.assert_array_equal(b.run(0, golden[0][0]).phases, golden[1][0])
        assert time.monotonic() - t0 < 1.5  # served while the idle client is still connected
        idle.settimeout(5)
        assert idle.recv(1) == b""  # the agent closed the silent connection
        assert time.monotonic() - t0 < 4
        idle.close()
        assert agent.stats["timeouts"] >= 1
    finally:
        agent.stop()
        th.join(5)


def test_several_clients_at_once_stay_exact(image, golden):
    with agent_process("--board", "golden") as (url, _):
        errors = []

        def client(c):
            try:
                with open_board(url) as b:
                    b.load_image(image)
                    for _ in range(5):
                        np.testing.assert_array_equal(b.run(c, golden[0][c]).phases, golden[1][c])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ths = [threading.Thread(target=client, args=(i % 3,)) for i in range(6)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        assert not errors, errors


def test_fifo_lock_grants_in_arrival_order():
    lock, order, ready = FifoLock(), [], []
    lock.__enter__()  # held: everyone queues

    def waiter(i):
        with lock:
            order.append(i)

    ths = []
    for i in range(8):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        ths.append(t)
        time.sleep(0.02)  # arrival order 0..7
    lock.__exit__(None, None, None)
    for t in ths:
        t.join(5)
    assert order == list(range(8))


# ---- 4. bounded work ----------------------------------------------------------------------------------
def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_run_steps_and_trajectory_are_bounded(image, golden):
    with agent_process("--board", "golden", "--memory-mib", "16", "--max-steps", "100000") as (url, proc):
        with RemoteBoard.open(url, timeout=10, retries=0) as b:
            b.load_image(image)
            t0 = time.monotonic()
            with pytest.raises(BoardError, match="at most 100000"):
                b.run(0, golden[0][0], steps=10**7)
            with pytest.raises(BoardError, match="replies are limited"):
                b.run_trajectory(0, golden[0][0], steps=90000)  # 90001 x 24 words x 8 B > 2 MiB
            assert time.monotonic() - t0 < 5  # refused up front, not after the work
            np.testing.assert_array_equal(b.run(0, golden[0][0]).phases, golden[1][0])  # still serving


def test_huge_compressed_image_is_refused_before_inflating():
    """The issue's 278 KB LOAD_IMAGE of zeros (n = 7936) that grew the agent by ~495 MiB."""
    p = HardwareParams(7936, 8, 64)
    n = p.n
    arrays = {"k": np.zeros((n, n), np.int8), "drive": np.zeros((1, n, 8), np.int8), "kcond": np.zeros((8, 8), np.int8),
              "gain": np.zeros(p.n_total, np.int8), "omega_inc": np.zeros(p.n_total, np.int8)}
    msg = Message(MsgType.LOAD_IMAGE, {"params": p.to_dict(), "dt": 0.1, "num_steps": 10, "gain_shift": 10,
                                       "model_config": {}, "digest": "0" * 64}, arrays, seq=3)
    frame = encode_frame(msg)
    del arrays, msg
    assert len(frame) < 300_000
    with agent_process("--board", "golden") as (url, proc):
        host, port = url[len("tcp://"):].split(":")
        rss0 = _rss_kib(proc.pid)
        with socket.create_connection((host, int(port))) as s:
            replies = _exchange(s, [frame])
        assert replies is not None
        err = next(r for r in replies if r.seq == 3)
        assert err.type == MsgType.ERROR and err.fields["kind"] == "limit" and "MiB" in err.fields["message"]
        assert _rss_kib(proc.pid) - rss0 < 20 * 1024, "the agent inflated the image"


def test_image_cache_is_bounded_in_bytes():
    agent = Agent(GoldenBoard(), log=lambda s: None, limits=Limits(memory_mib=16))  # cache <= 8 MiB
    sizes = []
    for seed in range(5):
        img = _image(n=512, m=8, classes=10, lanes=64, seed=seed)  # ~2.4 MiB each as int64
        r = agent.handle(decode_frame(encode_frame(image_message(img, seq=seed + 1)), admit=agent.admit))
        assert r.type == MsgType.OK, r.fields
        sizes.append(agent.cache_bytes)
    assert max(sizes) <= agent.limits.cache_bytes and len(agent.images) == 3
    big = _image(n=1024, m=8, classes=10, lanes=64)  # 8.6 MiB > a quarter of 16 MiB
    with pytest.raises(LimitError, match="at most 4 MiB"):
        decode_frame(encode_frame(image_message(big)), admit=agent.admit)


# ---- 5. slow serial lines ---------------------------------------------------------------------------------
def test_multi_second_upload_at_115200_baud_over_a_pty():
    """Upload ~45 kB (about 4 s at 115200 baud 8N1): the agent must not drop the frame while bytes arrive."""
    img = _image(n=192, m=8, classes=3, lanes=8, seed=3)
    g = GoldenBoard()
    g.load_image(img)
    p0 = initial_phases(1, 1, img.params.n_total, img.params.spec)[0]
    master, slave = os.openpty()
    tty.setraw(slave)
    agent = Agent(GoldenBoard(), log=lambda s: None)
    th = threading.Thread(target=agent.serve_link, args=(FdLink(master, "pty"),), daemon=True)
    th.start()
    try:
        link = PacedLink(SerialLink.open(os.ttyname(slave), 115200), baud=115200)
        b = RemoteBoard(link, "serial (paced)", timeout=5.0, retries=0)
        t0 = time.monotonic()
        b.load_image(img)
        upload_s = time.monotonic() - t0
        np.testing.assert_array_equal(b.run(2, p0).phases, g.run(2, p0).phases)
        b.close()
        th.join(10)
    finally:
        os.close(master)
        os.close(slave)
    assert link.written > 40_000 and upload_s > 2.5  # really a multi-second upload
    assert agent.stats["dropped_partial"] == 0


def test_host_renews_a_session_the_agent_closed_for_idleness(image, golden):
    """The agent announces idle_s; a host idle for longer reconnects by itself instead of failing."""
    agent = Agent(GoldenBoard(), log=lambda s: None, limits=Limits(idle_timeout=1.0))
    port = []
    th = threading.Thread(target=agent.serve_tcp, args=("127.0.0.1", 0), kwargs={"ready": port.append}, daemon=True)
    th.start()
    try:
        while not port:
            time.sleep(0.01)
        with RemoteBoard.open(f"tcp://127.0.0.1:{port[0]}", timeout=5) as b:
            b.load_image(image)
            time.sleep(1.6)  # the agent has closed the connection by now
            np.testing.assert_array_equal(b.run(0, golden[0][0]).phases, golden[1][0])
            assert b.stats["reconnects"] == 1 and agent.stats["timeouts"] >= 1
    finally:
        agent.stop()
        th.join(5)


def test_a_silent_serial_line_waits_quietly_then_serves(image, golden):
    """On a serial line the timers start with the first byte: nobody talking for longer than the
    authentication window is not a timeout, and the host that comes later is served."""
    master, slave = os.openpty()
    tty.setraw(slave)
    logs = []
    agent = Agent(GoldenBoard(), log=logs.append, limits=Limits(first_request_s=0.5))
    th = threading.Thread(target=agent.serve_link, args=(FdLink(master, "pty"),), kwargs={"wait_for_peer": True},
                          daemon=True)
    th.start()
    try:
        time.sleep(1.2)
        assert th.is_alive() and agent.stats["timeouts"] == 0, logs
        with open_board(f"serial://{os.ttyname(slave)}?baud=115200&timeout=10") as b:
            b.load_image(image)
            np.testing.assert_array_equal(b.run(0, golden[0][0]).phases, golden[1][0])
        th.join(10)
    finally:
        os.close(master)
        os.close(slave)


def test_host_run_reports_a_malformed_reply_in_one_line(tmp_path, capsys):
    """The issue's reply crash end to end: `python -m host.run` against an agent that answers RUN with the
    descriptor whose dtype is a list exits 2 with one error line, no traceback, no PNG."""
    from host.run import main as run_main
    from host.testing import random_checkpoint

    ckpt = random_checkpoint(str(tmp_path / "n64.safetensors"), "cifar10-n64")
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def fake_agent():
        conn, _ = srv.accept()
        ch = Channel(SocketLink(conn, "host"))
        try:
            while True:
                m = ch.recv(10)
                if m.type == MsgType.HELLO:
                    ch.send(Message(MsgType.INFO, {"info": {"board": "fake", "params": None}, "protocol": 1}, seq=m.seq))
                elif m.type == MsgType.HAS_IMAGE:
                    ch.send(Message(MsgType.OK, {"loaded": True}, seq=m.seq))
                elif m.type == MsgType.RUN:
                    conn.sendall(_frame(MsgType.RESULT, ISSUE_FRAMES["dtype is a list"], b"\0" * 8, seq=m.seq))
                else:
                    return
        except BoardError:
            return
        finally:
            conn.close()

    th = threading.Thread(target=fake_agent, daemon=True)
    th.start()
    out = tmp_path / "x.png"
    code = run_main(["--board", f"tcp://127.0.0.1:{port}?retries=1&timeout=5", "--class", "cat", "--checkpoint", ckpt,
                     "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    th.join(10)
    srv.close()
    assert code == 2 and not out.exists()
    assert err[-1].startswith("error:") and "malformed reply" in err[-1] and not any("Traceback" in e for e in err)


def test_agent_sim_without_n_models_the_default_build():
    """`host.agent --board sim` without --n models the bundled model's default build (PYNQ-Z2), as host.run does."""
    from fixedpoint.spec import PYNQ_Z2, default_build
    from host.agent import board_build, parse_args

    _, args = parse_args(["--board", "sim", "--listen", "127.0.0.1:17970"])
    assert board_build("sim", args) == default_build(PYNQ_Z2.n, PYNQ_Z2.n_cond) == PYNQ_Z2
    _, args = parse_args(["--board", "sim", "--listen", "127.0.0.1:17970", "--n", "16", "--lanes", "8"])
    assert board_build("sim", args) == HardwareParams(16, 8, 8, default_build(16, 8).spec)
    _, args = parse_args(["--board", "golden", "--listen", "127.0.0.1:17970"])
    assert board_build("golden", args) is None


def test_make_key_into_a_directory_says_so(tmp_path, capsys):
    code, err = _cli(["--make-key", str(tmp_path)], capsys)
    assert code == 2 and "is a directory; give the path of the new key file" in err and len(err.splitlines()) == 1
