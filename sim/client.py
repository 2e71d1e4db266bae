"""SimClient: drive the oscillator core running in a cocotb simulation, register by register, stream by stream.

    with SimClient(params) as sim:                       # builds (cached per params) and starts the simulation
        sim.write_reg(regs.offset("STEPS"), 10)
        sim.stream_in(words)                             # one AXI4-Stream packet, tlast on the last word
        cycles = sim.wait_irq(timeout_cycles=10**6)      # free-runs the clock until irq
        phases = sim.stream_out(params.n_total)

The simulation runs in a subprocess (cocotb test sim.server) that connects back to an AF_UNIX socket this
process listens on; its path travels in the OSC_SIM_SOCKET environment variable. Every call has a wall-clock
timeout; if the subprocess dies, every call raises ConnectionError with the tail of its log.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from fixedpoint.spec import HardwareParams

from .env import PROGRESS_PREFIX, REPO
from .env import build_dir as sim_build_dir
from .protocol import PARENT_ENV, SOCKET_ENV, recv_msg, send_msg

#: Wall-clock seconds allowed per call on top of the simulated work (a guard against hangs, not a budget).
CALL_TIMEOUT_S = 120.0
#: Simulated cycles per wall-clock second assumed when sizing timeouts (Verilator does far more).
MIN_CYCLES_PER_S = 20_000

_LIVE: "weakref.WeakSet[SimClient]" = weakref.WeakSet()


def _close_all() -> None:
    """atexit: close every simulation still open (kills its process group, removes its temporary directory)."""
    for client in list(_LIVE):
        try:
            client.close()
        except Exception:
            pass


atexit.register(_close_all)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def exit_cleanly_on_termination() -> None:
    """SIGTERM/SIGHUP -> SystemExit in this process, so `finally` blocks and atexit close every simulation.

    Installed only from the main thread and only where the default action (die without cleanup) is in place,
    so a handler an application set up itself is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)


class SimClient:
    def __init__(self, params: HardwareParams, simulator: str = "verilator", waves: bool = False,
                 build_dir: str | os.PathLike | None = None, start_timeout_s: float = 1800.0,
                 all_signals: bool = False, own_clock: bool = True):
        if simulator not in ("verilator", "icarus"):
            raise ValueError(f"simulator must be 'verilator' or 'icarus', got {simulator!r}")
        self.params = params
        self.simulator = simulator
        self._conn: socket.socket | None = None
        self._dead: str | None = None
        self._proc = self._listener = self._log = None
        exit_cleanly_on_termination()
        self._build = sim_build_dir(simulator, params, Path(build_dir) if build_dir else None)  # the cached build
        self._tmp = Path(tempfile.mkdtemp(prefix="oscsim-"))
        try:
            self._log_path = self._tmp / "sim.log"
            self._sock_path = str(self._tmp / "sock")
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(self._sock_path)
            self._listener.listen(1)
            env = dict(os.environ, **{SOCKET_ENV: self._sock_path, PARENT_ENV: str(os.getpid()),
                                      "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
            cmd = [sys.executable, "-m", "sim.launch", "--simulator", simulator, "--params",
                   json.dumps(params.to_dict()), "--test-dir", str(self._tmp)] + (["--waves"] if waves else []) + (
                   ["--build-root", str(build_dir)] if build_dir else []) + (["--all-signals"] if all_signals else []) + (
                   [] if own_clock else ["--cocotb-clock"])
            self._log = open(self._log_path, "wb")
            # Own session: the whole simulation (make, compiler, simulator) is one process group we can kill;
            # sim.launch exits with its group when this process dies (PR_SET_PDEATHSIG + a parent watch).
            self._proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
            _LIVE.add(self)
            self._accept(start_timeout_s)
        except BaseException:  # a failed start, Ctrl-C or SIGTERM while building: nothing may be left behind
            self._abort()
            raise

    # --- plumbing -------------------------------------------------------------------------------
    def _log_tail(self, n: int = 3000) -> str:
        try:
            return self._log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def _fail(self, why: str):
        if self._conn is None:  # it did not start: one line, the log kept beside the build, what to delete
            self._dead = why
            self._shutdown()
            raise ConnectionError(f"{why}; log {self._keep_log()}; if the cached build is damaged, delete "
                                  f"{_show(self._build)} and run again (it is rebuilt)")
        self._dead = f"{why}; simulation log tail:\n{self._log_tail()}"
        self._shutdown()
        raise ConnectionError(self._dead)

    def _keep_log(self) -> str:
        """Copy the start's log to <build dir>/start-failure.log (the temporary directory is removed on exit)."""
        try:
            self._build.mkdir(parents=True, exist_ok=True)
            kept = self._build / "start-failure.log"
            shutil.copyfile(self._log_path, kept)
            return _show(kept)
        except OSError:
            return f"(not kept) tail: {' | '.join(self._log_tail(400).splitlines()[-3:])}"

    def _accept(self, timeout_s: float):
        from fixedpoint.status import status

        self._listener.settimeout(1.0)
        t0 = time.monotonic()
        p = self.params
        short = f"starting the RTL simulation ({self.simulator}, n={p.n}, {p.lanes} lanes)"
        what = f"{short[:-1]}; the first start of a build compiles it, minutes; log {self._log_path})"
        with status(what) as st:
            while True:
                try:
                    conn, _ = self._listener.accept()
                    break
                except socket.timeout:
                    step = self._build_progress()
                    st.update(f"{short}: {step}" if step else what)
                    if self._proc.poll() is not None:
                        self._fail(f"simulation process exited with code {self._proc.returncode} before connecting")
                    if time.monotonic() - t0 > timeout_s:
                        self._fail(f"simulation did not connect within {timeout_s:.0f} s")
            st.update(short)
        self._conn = conn
        hello, _ = self._call_raw(None, CALL_TIMEOUT_S)
        if hello.get("hello") != "osc-core-sim":
            self._fail(f"unexpected greeting {hello}")

    def _build_progress(self) -> str | None:
        """The latest progress line a (cold) build wrote to the simulation's log (sim.env.PROGRESS_PREFIX)."""
        lines = [ln for ln in self._log_tail(8192).splitlines() if ln.startswith(PROGRESS_PREFIX)]
        return lines[-1][len(PROGRESS_PREFIX):] if lines else None

    def _call_raw(self, header: dict | None, timeout_s: float) -> tuple[dict, bytes]:
        if self._dead:
            raise ConnectionError(self._dead)
        assert self._conn is not None
        deadline = time.monotonic() + timeout_s
        try:
            if header is not None:
                self._conn.settimeout(timeout_s)
                send_msg(self._conn, header[0], header[1])
            # Wait in slices so a dead subprocess is noticed promptly.
            while True:
                self._conn.settimeout(1.0)
                try:
                    peek = self._conn.recv(1, socket.MSG_PEEK)
                    if not peek:
                        raise ConnectionError("connection closed")
                    break
                except socket.timeout:
                    if self._proc.poll() is not None:
                        raise ConnectionError(f"simulation process exited with code {self._proc.returncode}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no reply from the simulation within {timeout_s:.0f} s")
            self._conn.settimeout(max(1.0, deadline - time.monotonic()))
            return recv_msg(self._conn)
        except TimeoutError as e:
            self._fail(f"simulation hung: {e}")
        except (ConnectionError, OSError) as e:
            self._fail(f"lost the simulation: {e}")

    def _call(self, op: str, payload: bytes = b"", sim_cycles: int = 0, **fields) -> tuple[dict, bytes]:
        timeout = CALL_TIMEOUT_S + sim_cycles / MIN_CYCLES_PER_S + len(payload) / 4 * 1e-3
        reply, out = self._call_raw(({"op": op, **fields}, payload), timeout)
        self._now = reply.get("now", 0)
        self.last_cpu_s = float(reply.get("cpu_s", 0.0))
        if not reply.get("ok"):
            kind = {"TimeoutError": TimeoutError, "ValueError": ValueError}.get(reply.get("kind"), RuntimeError)
            raise kind(f"simulation: {reply.get('error')}")
        return reply, out

    # --- the board-side API -----------------------------------------------------------------------
    def write_reg(self, offset: int, value: int) -> None:
        self._call("write_reg", offset=int(offset), value=int(value) & 0xFFFFFFFF)

    def read_reg(self, offset: int) -> int:
        return int(self._call("read_reg", offset=int(offset))[0]["value"])

    def stream_in(self, words: np.ndarray) -> None:
        w = np.asarray(words)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"stream_in needs a non-empty 1-D array of uint32 words, got shape {w.shape}")
        if w.dtype != np.uint32:
            if w.min() < 0 or w.max() > 0xFFFFFFFF:
                raise ValueError("stream_in words must fit uint32")
            w = w.astype(np.uint32)
        self._call("stream_in", payload=w.astype("<u4").tobytes(), sim_cycles=4 * w.size)

    def stream_out(self, count: int, timeout_cycles: int | None = None) -> np.ndarray:
        timeout_cycles = int(timeout_cycles or 64 * count + 1000)
        _, out = self._call("stream_out", sim_cycles=timeout_cycles, count=int(count), timeout_cycles=timeout_cycles)
        return np.frombuffer(out, dtype="<u4").astype(np.uint32)

    def mem_write(self, address: int, data: bytes) -> None:
        """Write bytes into the simulated DDR a streamed-K core reads (sim/server.py)."""
        self._call("mem_write", bytes(data), address=int(address))

    def wait_irq(self, timeout_cycles: int) -> int:
        return int(self._call("wait_irq", sim_cycles=int(timeout_cycles), timeout_cycles=int(timeout_cycles))[0]["waited"])

    def cycles(self) -> int:
        return int(self._call("cycles")[0]["now"])

    def reset(self) -> None:
        self._call("reset")

    # --- lifetime ---------------------------------------------------------------------------------
    def _killpg(self, sig) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _shutdown(self, grace_s: float = 10.0):
        """Close the connection, stop the simulation's process group (after `grace_s` to exit by itself)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    self._killpg(signal.SIGTERM)
                    try:
                        self._proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        self._killpg(signal.SIGKILL)
                        self._proc.wait()
            self._killpg(signal.SIGKILL)  # whatever of the group is still there (the leader may have exited first)
        for f in (self._listener, self._log):
            if f is not None:
                f.close()
        _LIVE.discard(self)

    def _abort(self) -> None:
        """Failed or interrupted start: stop everything now and remove the temporary directory."""
        if self._dead is None:
            self._dead = "the simulation did not start"
        try:
            self._shutdown(grace_s=0.0)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def close(self) -> None:
        if self._dead is None and self._conn is not None:
            try:
                self._call_raw(({"op": "close"}, b""), 30.0)
            except ConnectionError:
                pass
        if self._dead is None:
            self._dead = "SimClient is closed"
            self._shutdown()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._dead is None:
                self.close()
            else:
                shutil.rmtree(self._tmp, ignore_errors=True)
        except Exception:
            pass


def _show(path) -> str:
    """A path relative to the repository when inside it (what a user types to delete it)."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)
