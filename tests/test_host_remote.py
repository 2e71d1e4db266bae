"""Remote boards: the agent over TCP and a pty serial line gives golden's phases bit for bit; corrupted,
truncated and lost frames are retried; a stalled or killed agent is a clear error, never a wrong result."""
import os
import signal
import socket
import threading
import time
import tty

import numpy as np
import pytest

from fixedpoint.golden import initial_phases
from model.hardware_image import image_from_checkpoint
from host.agent import Agent
from host.boards import BoardDisconnected, BoardError, BoardTimeout, ImageMismatch, open_board
from host.boards.golden import GoldenBoard
from host.boards.remote import RemoteBoard, parse_url, unreachable_message
from host.link import FdLink, SocketLink
from host.testing import FaultyLink, agent_process, random_checkpoint


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")
    return image_from_checkpoint(path, lanes=8)


@pytest.fixture(scope="module")
def reference(image):
    g = GoldenBoard()
    g.load_image(image)
    p0 = initial_phases(7, 3, image.params.n_total, image.params.spec)
    return p0, [g.run(c, p0[c]).phases for c in range(3)], g.run_trajectory(1, p0[1]).trajectory


@pytest.fixture(scope="module")
def agent():
    with agent_process("--board", "golden") as (url, proc):
        yield url, proc


def _check(board, image, reference):
    p0, finals, traj = reference
    board.load_image(image)
    for c in range(3):
        np.testing.assert_array_equal(board.run(c, p0[c]).phases, finals[c])
    np.testing.assert_array_equal(board.run_trajectory(1, p0[1]).trajectory, traj)


def test_tcp_agent_matches_golden_bit_for_bit(agent, image, reference):
    url, _ = agent
    with open_board(url) as b:
        assert b.params is None and b.info()["remote_board"] == "golden"
        _check(b, image, reference)
        r = b.run(0, reference[0][0])
        assert {"link_s", "compute_s", "total_s"} <= set(r.timing)


def test_image_is_cached_on_the_agent_by_digest(agent, image, reference):
    url, _ = agent
    with open_board(url) as b:
        b.load_image(image)
    with open_board(url) as b:  # a new connection: HAS_IMAGE says yes, nothing is resent
        sent = []
        orig = b.request
        b.request = lambda m, timeout=None: (sent.append(m.type.name), orig(m, timeout))[1]
        b.load_image(image)
        assert sent == ["HAS_IMAGE"]
        np.testing.assert_array_equal(b.run(0, reference[0][0]).phases, reference[1][0])


def _faulty_board(url, **faults):
    host, port = url[len("tcp://"):].split(":")
    sock = socket.create_connection((host, int(port)))
    link = FaultyLink(SocketLink(sock, url), **faults)
    return RemoteBoard(link, url, timeout=3.0, retries=3), link


@pytest.mark.parametrize("faults", [
    {"corrupt_writes": {2, 4}},  # requests damaged: agent NAKs, client resends
    {"corrupt_reads": {1, 3}},  # replies damaged: client resyncs, agent replays its cached reply
    {"truncate_writes": {3}},  # a half request: agent drops it, client times out and resends
])
def test_damaged_frames_are_retried_and_results_stay_exact(agent, image, reference, faults):
    url, _ = agent
    b, link = _faulty_board(url, **faults)
    try:
        _check(b, image, reference)
        assert link.damaged >= 1 and b.stats["retries"] >= 1
    finally:
        b.close()


def test_persistent_corruption_is_a_clear_error(agent, image):
    url, _ = agent
    b, link = _faulty_board(url)
    link.corrupt_writes = set(range(1, 100))
    try:
        with pytest.raises(BoardError, match="failed after 4 tries"):
            b.load_image(image)
        b.retries = 0
        with pytest.raises(BoardError, match="failed after 1 try: "):  # not "1 tries"
            b.load_image(image)
    finally:
        b.close()


def test_image_for_another_core_is_refused_by_a_fixed_core_agent(image):
    with agent_process("--board", "golden", "--n", "128", "--n-cond", "8", "--lanes", "8") as (url, _):
        with open_board(url) as b:
            assert b.params.n == 128
            with pytest.raises(ImageMismatch, match="n=64"):
                b.load_image(image)


def test_stalled_then_killed_agent(image, reference):
    with agent_process("--board", "golden") as (url, proc):
        b = RemoteBoard.open(url, timeout=1.0, retries=1)
        b.load_image(image)
        os.kill(proc.pid, signal.SIGSTOP)  # the board hangs
        t0 = time.monotonic()
        with pytest.raises(BoardTimeout, match="no reply"):
            b.run(0, reference[0][0])
        assert time.monotonic() - t0 < 10
        # the board disappears while a request is in flight
        err = []
        th = threading.Thread(target=lambda: err.append(_catch(lambda: b.run(0, reference[0][0]))))
        b.timeout = 30.0
        th.start()
        time.sleep(0.3)
        proc.kill()
        th.join(20)
        assert not th.is_alive()
        assert isinstance(err[0], BoardDisconnected), err
        assert "agent stopped or crashed" in str(err[0])
        with pytest.raises(BoardDisconnected):
            b.run(0, reference[0][0])
        b.close()


def test_unreachable_agent_is_a_clear_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(BoardDisconnected, match="cannot reach the agent") as e:
        open_board(f"tcp://127.0.0.1:{port}")
    msg = str(e.value)
    assert "connection refused" in msg and f"--listen 127.0.0.1:{port}" in msg  # the check that fits
    assert "--key" not in msg  # a loopback agent needs no key
    assert msg.index("golden") > msg.index("host.agent")  # golden only as the offline alternative


def test_unreachable_agent_hint_fits_the_cause():
    refused = unreachable_message("board.lan", 7967, ConnectionRefusedError(111, "refused"), keyed=False)
    assert "--listen 0.0.0.0:7967 --key FILE" in refused and "?key=PATH" in refused
    unknown = unreachable_message("board.lan", 7967, socket.gaierror(-2, "Name or service not known"), keyed=True)
    assert "cannot resolve the host name 'board.lan'" in unknown and "check the address" in unknown
    silent = unreachable_message("10.0.0.9", 7967, TimeoutError("timed out"), keyed=True)
    assert "firewall" in silent and "which you gave" in silent
    for m in (refused, unknown, silent):
        assert "--board golden" not in m and m.endswith('(board "golden")')


def test_missing_serial_device_says_what_to_check(tmp_path):
    with pytest.raises(BoardDisconnected, match="cannot open serial port") as e:
        open_board(f"serial://{tmp_path}/ttyUSB9")
    assert "dialout" in str(e.value) and "--serial" in str(e.value) and str(e.value).endswith('(board "golden")')


@pytest.mark.parametrize("url, says", [
    ("tcp://127.0.0.1:7967?unknown=1", "unknown option 'unknown'; a tcp:// URL takes timeout=, retries=, key="),
    ("tcp://127.0.0.1:7967?baud=9600", "unknown option 'baud'"),
    ("tcp://127.0.0.1:7967?timeout=1&timeout=2", "option 'timeout' is given twice"),
    ("tcp://127.0.0.1:7967?timeout=", "option 'timeout' has no value"),
    ("tcp://[::1", "write an IPv6 host in brackets"),
    ("tcp://[::1]x:7967", r"tcp://\[::1\]:7967"),
    ("tcp://::1:7967", "IPv6 host in brackets"),
    ("tcp://127.0.0.1:99999", "port 1..65535"),
    ("tcp://127.0.0.1", "no port"),
    ("tcp://127.0.0.1:7967/agent", "no path '/agent'"),
    ("tcp://127.0.0.1:7967#x", "no fragment"),
    ("serial://dev/ttyUSB0", "three slashes"),
    ("serial:///dev/ttyUSB0?speed=9600", "a serial:// URL takes timeout=, retries=, key=, baud="),
])
def test_malformed_board_urls_are_one_clear_error(url, says):
    with pytest.raises(ValueError, match=says) as e:
        open_board(url)
    assert str(e.value).startswith(f"bad board URL {url!r}")


def test_an_option_in_the_url_and_as_an_argument_is_refused():
    with pytest.raises(ValueError, match=r"timeout is given twice, in the URL \(\?timeout=\) and apart from it"):
        open_board("tcp://127.0.0.1:7967?timeout=5", timeout=10)
    with pytest.raises(ValueError, match="key is given twice"):
        RemoteBoard.open("tcp://127.0.0.1:7967?key=a.key", key=b"k" * 32)


def test_board_url_forms():
    assert parse_url("tcp://[::1]:7967?timeout=5&key=a%20b.key") == ("tcp", ("::1", 7967),
                                                                     {"timeout": "5", "key": "a b.key"})
    assert parse_url("serial:///dev/ttyUSB0?baud=9600") == ("serial", "/dev/ttyUSB0", {"baud": "9600"})


def _catch(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the test inspects it
        return e
    return None


def test_serial_link_over_a_pty_pair(image, reference):
    """Agent on the pty master (raw fd); the client opens the slave through pyserial's serial:// URL."""
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    agent = Agent(GoldenBoard(), log=lambda s: None)
    th = threading.Thread(target=agent.serve_link, args=(FdLink(master, "pty"),), kwargs={"idle_timeout": 30},
                          daemon=True)
    th.start()
    try:
        with open_board(f"serial://{name}?baud=115200&timeout=20") as b:
            _check(b, image, reference)
        th.join(10)
        assert not th.is_alive()  # BYE ended the session
    finally:
        os.close(master)
        os.close(slave)


def test_agent_process_on_a_serial_port(image, reference):
    """`python -m host.agent --serial /dev/pts/N` (pyserial on the agent side); the host holds the pty master."""
    import subprocess
    import sys

    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    name = os.ttyname(slave)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "host.agent", "--board", "golden", "--serial", name],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("LISTENING")
        b = RemoteBoard(FdLink(master, name), f"serial://{name}", timeout=20.0)
        _check(b, image, reference)
        b.close()
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        os.close(master)
        os.close(slave)
