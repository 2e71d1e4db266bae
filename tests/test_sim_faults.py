"""Simulator faults (issue 12, item 12): a killed simulation, SIGTERM and SIGKILL of host.run leave no temporary
directory and no process behind, and a simulation that dies before connecting is a clean BoardError."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("cocotb")
if not sys.platform.startswith("linux"):
    pytest.skip("reads /proc to find the simulation's processes", allow_module_level=True)

from fixedpoint.spec import HardwareParams, NumericsSpec  # noqa: E402
from host.boards.base import BoardError  # noqa: E402
from host.testing import random_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _procs():
    """pid -> (command line, process group) of every live (non-zombie) process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(d)] = (cmd, int(fields[2]))
    return out


def _find_launch(marker: str, timeout_s: float = 60.0):
    """(pid, pgid) of the sim.launch process whose command line holds `marker`, waiting for it to appear."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        for pid, (cmd, pgid) in _procs().items():
            if "sim.launch" in cmd and marker in cmd:
                return pid, pgid
        time.sleep(0.01)
    raise AssertionError(f"no sim.launch process with {marker} appeared within {timeout_s} s")


def _group_gone(pgid: int, timeout_s: float) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if not any(g == pgid for _, g in _procs().values()):
            return True
        time.sleep(0.1)
    return False


def test_simulation_killed_before_connecting_is_a_board_error(tmp_path, monkeypatch):
    from host.boards.sim import SimBoard

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    found = {}

    def killer():
        found["pid"], found["pgid"] = _find_launch(str(tmp_path))
        os.killpg(found["pgid"], signal.SIGKILL)

    t = threading.Thread(target=killer)
    t.start()
    with pytest.raises(BoardError, match=r"did not start: simulation process exited with code -9 before connecting"):
        SimBoard(HardwareParams(64, 8, 16, NumericsSpec()), simulator="icarus")
    t.join()
    assert found
    assert not list(tmp_path.glob("oscsim-*"))  # the temporary directory is gone
    assert _group_gone(found["pgid"], 5)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_checkpoint(str(tmp_path_factory.mktemp("ck") / "n64.safetensors"), "cifar10-n64")


def _start_host_run(ckpt, tmp):
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "host.run", "--board", "sim", "--simulator", "icarus", "--class",
                             "cat", "--checkpoint", ckpt, "--out", str(tmp / "x.png")], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pid, pgid = _find_launch(str(tmp))
    return proc, pgid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_host_run_killed_while_the_simulation_starts_leaves_nothing(ckpt, tmp_path, sig):
    tmp = tmp_path / "t"
    proc, pgid = _start_host_run(ckpt, tmp)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (-sig, 128 + sig)
    assert b"Traceback" not in err, err.decode()
    # the simulation's whole process group stops with it (SIGKILL: via PR_SET_PDEATHSIG / the parent watch)
    assert _group_gone(pgid, 15), [c for c, g in _procs().values() if g == pgid]
    t0 = time.monotonic()
    while list(tmp.glob("oscsim-*")) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert not list(tmp.glob("oscsim-*"))
    assert not (tmp / "x.png").exists()


def test_damaged_cached_build_is_rebuilt_and_a_failed_start_is_one_line(tmp_path):
    """A compiled model whose bytes differ from its build stamp (truncated) is linked again before reuse; a start
    that still fails is one line naming the build directory to delete and a log that outlives the run."""
    import hashlib
    import json

    from sim.client import SimClient
    from sim.env import build, build_dir, model_file

    params = HardwareParams(16, 8, 8, NumericsSpec())
    root = tmp_path / "sim"
    _, bdir, _ = build("icarus", params, root=root)
    model, stamp = model_file("icarus", bdir), bdir / "built.json"
    good = model.read_bytes()
    assert json.loads(stamp.read_text())["sha256"]
    model.write_bytes(good[:len(good) // 3])  # a damaged cached build
    build("icarus", params, root=root)
    relinked = model.read_bytes()  # detected and linked again (iverilog stamps the time: not byte-equal)
    assert len(relinked) == len(good) and json.loads(stamp.read_text())["sha256"] == hashlib.sha256(relinked).hexdigest()
    # damage the stamp's record too: the start fails, and says what to delete and where the log is
    model.write_bytes(b"#! damaged\n")
    stamp.write_text(json.dumps(json.loads(stamp.read_text()) | {"sha256": hashlib.sha256(b"#! damaged\n").hexdigest()}))
    with pytest.raises(ConnectionError) as e:
        SimClient(params, simulator="icarus", build_dir=root, start_timeout_s=120)
    msg = str(e.value)
    assert "\n" not in msg and "before connecting" in msg
    assert f"delete {build_dir('icarus', params, root)}" in msg
    log = Path(msg.split("; log ")[1].split(";")[0])
    assert log.is_file() and log.stat().st_size > 0
