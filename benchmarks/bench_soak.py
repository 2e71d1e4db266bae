"""Soak test of the board agent: honest clients and a hostile one against one agent on loopback.

    python benchmarks/bench_soak.py [--duration 45] [--clients 3] [--n 128] [--window 5] [--attacks A,B]
                                    [--out benchmarks/results/soak.md]

One `python -m host.agent --board golden --key K --listen 127.0.0.1:0` process and honest clients that run
requests for the whole time. A hostile client (its own process) is active in alternate windows (quiet,
attack, quiet, ...; alternating keeps the drifting load of other jobs from biasing the comparison) and
cycles through attacks: requests without authentication, a forged client proof, a wrong key, malformed
messages from an authenticated insider (descriptors and fields of every wrong type, NaN, unknown types, deep
JSON, corrupt zlib), oversized work (RUN with 10^7 steps, an over-long trajectory, the 278 KB LOAD_IMAGE that
inflates to 63 MB, a header announcing 60 MiB), raw garbage, a silent connection and a slow partial frame.
Every honest result is compared bit for bit with an in-process golden board. Reports requests served,
errors answered, the agent's RSS over time (from /proc every 0.25 s), CPU per process, and the honest rate in
attack windows as a ratio of the rate in quiet ones. Loopback only; nothing leaves the machine.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import queue
import random
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks.common import machine_description, write_atomic  # noqa: E402
from fixedpoint.golden import initial_phases  # noqa: E402
from fixedpoint.quantize import quantize  # noqa: E402
from fixedpoint.spec import HardwareParams  # noqa: E402
from host.auth import make_key  # noqa: E402
from host.boards import BoardError  # noqa: E402
from host.boards.golden import GoldenBoard  # noqa: E402
from host.boards.remote import RemoteBoard  # noqa: E402
from host.link import Channel, SocketLink  # noqa: E402
from host.protocol import HEADER, MAGIC, Message, MsgType, encode_frame  # noqa: E402
from host.testing import agent_process  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the agent's limits here: messages and replies <= 2 MiB (B/8), images <= 4 MiB, RUN <= 5000 steps
AGENT_LIMITS = ("--memory-mib", "16", "--max-steps", "5000")


def random_image(n: int, m: int = 8, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    eff = {"K": rng.normal(0, 0.3, (n, n)), "K_drive": rng.normal(0, 0.3, (classes, n, m)),
           "K_cond": rng.normal(0, 0.3, (m, m)), "omega": rng.normal(0, 1, n), "omega_cond": rng.normal(0, 1, m)}
    np.fill_diagonal(eff["K"], 0)
    np.fill_diagonal(eff["K_cond"], 0)
    lanes = 64 if n % 64 == 0 else 8
    return quantize(eff, HardwareParams(n, m, lanes), 0.1, 10, {"relativization": "mean_relative"})


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def raw_frame(mtype: int, head: bytes, body: bytes = b"", seq: int = 1, compress: bool = False,
              corrupt_zlib: bool = False) -> bytes:
    payload = struct.pack("<I", len(head)) + head + body
    flags = 0
    if compress or corrupt_zlib:
        payload, flags = zlib.compress(payload, 1), 1
        if corrupt_zlib:
            payload = payload[:len(payload) // 2] + b"\xff" * 8
    h = HEADER.pack(MAGIC, 1, mtype, flags, seq, len(payload))
    return h + payload + struct.pack("<I", zlib.crc32(h + payload))


def malformed_heads(rng: random.Random, digest: str):
    """(type, head bytes, body, compress, corrupt) of messages that are wrong in one way each."""
    good = {"name": "phases0", "dtype": "int64", "shape": [1], "offset": 0, "nbytes": 8}
    bad_desc = [("dtype", ["int64"]), ("dtype", 5), ("dtype", None), ("dtype", "object"), ("dtype", "float16"),
                ("shape", [1] * 33), ("shape", ["1"]), ("shape", [-1]), ("shape", [2**62, 2**62]), ("shape", "12"),
                ("offset", "0"), ("offset", -8), ("nbytes", 1.5), ("nbytes", [8]), ("name", {}), ("extra", 1)]
    key, val = rng.choice(bad_desc)
    d = dict(good, **{key: val})
    run = {"digest": digest, "class_id": 0, "steps": 1, "trajectory": False}
    bad_fields = [("class_id", "0"), ("steps", -5), ("steps", 1.5), ("digest", 123), ("trajectory", "yes"),
                  ("class_id", float("nan")), ("steps", float("inf")), ("bogus", 1)]
    fk, fv = rng.choice(bad_fields)
    choices = [
        (MsgType.RUN, json.dumps({"fields": run, "arrays": [d]}).encode(), b"\0" * 8, False, False),
        (MsgType.RUN, json.dumps({"fields": dict(run, **{fk: fv}), "arrays": [good]}).encode(), b"\0" * 8, False, False),
        (MsgType.RUN, ('{"fields": {"class_id": ' + "9" * 5000 + '}, "arrays": []}').encode(), b"", False, False),
        (MsgType.RUN, b'{"fields": ' + b"[" * 20000 + b"]" * 20000 + b', "arrays": []}', b"", True, False),
        (MsgType.RESULT, json.dumps({"fields": {}, "arrays": [d]}).encode(), b"\0" * 8, True, False),
        (200, json.dumps({"fields": {}, "arrays": []}).encode(), b"", False, False),
        (MsgType.LOAD_IMAGE, json.dumps({"fields": {"params": {"n": "big"}}, "arrays": []}).encode(), b"", False, False),
        (MsgType.RUN, json.dumps({"fields": run, "arrays": [good]}).encode(), b"\0" * 8, False, True),
        (MsgType.HAS_IMAGE, b"\xff\xfe not json", b"", False, False),
    ]
    return rng.choice(choices)


class Hostile:
    """Cycles through attacks until stopped; counts frames sent, ERROR replies received and refusals."""

    ATTACKS = ("unauthenticated", "forged_proof", "with_wrong_key", "insider_malformed", "silent_and_slow")

    def __init__(self, url: str, key_path: str, wrong_key: str, image, stop, attacks=ATTACKS, active=None):
        self.url, self.key, self.wrong_key, self.image, self.stop = url, key_path, wrong_key, image, stop
        self.attacks = attacks
        self.active = active  # attack only while this event is set (None: always)
        host, port = url[len("tcp://"):].split(":")
        self.addr = (host, int(port))
        self.counts = {"frames sent": 0, "answered": 0, "errors answered": 0, "unanswered": 0, "connections": 0,
                       "refused sessions": 0}
        self.kinds: dict[str, int] = {}
        self.failures: list[str] = []
        self.rng = random.Random(0)
        n = 7936  # the image: 278 KB on the wire, 63 MB inflated, 504 MB as int64
        p = HardwareParams(n, 8, 64)
        z = np.zeros
        self.bomb = encode_frame(Message(MsgType.LOAD_IMAGE, {
            "params": p.to_dict(), "dt": 0.1, "num_steps": 10, "gain_shift": 10, "model_config": {}, "digest": "0" * 64},
            {"k": z((n, n), np.int8), "drive": z((1, n, 8), np.int8), "kcond": z((8, 8), np.int8),
             "gain": z(p.n_total, np.int8), "omega_inc": z(p.n_total, np.int8)}, seq=1))

    def _answered(self, ch: Channel, seq: int, timeout: float = 5.0) -> bool:
        try:
            while True:
                r = ch.recv(timeout)
                if r.seq == seq or r.seq == 0:
                    self.counts["answered"] += 1
                    if r.type == MsgType.ERROR:
                        self.counts["errors answered"] += 1
                        self.kinds[r.fields["kind"]] = self.kinds.get(r.fields["kind"], 0) + 1
                    return True
        except BoardError:
            self.counts["unanswered"] += 1
            return False

    def _raw(self):
        s = socket.create_connection(self.addr)
        self.counts["connections"] += 1
        return s, Channel(SocketLink(s, "agent"))

    def unauthenticated(self):
        s, ch = self._raw()
        with s:
            s.sendall(encode_frame(Message(MsgType.RUN, {"digest": self.image.digest(), "class_id": 0},
                                           {"phases0": np.zeros(self.image.params.n_total, np.int64)}, seq=7)))
            self.counts["frames sent"] += 1
            self._answered(ch, 7)

    def forged_proof(self):
        s, ch = self._raw()
        with s:
            s.sendall(encode_frame(Message(MsgType.AUTH, {"client_nonce": os.urandom(32).hex()}, seq=1)))
            s.sendall(encode_frame(Message(MsgType.PROVE, {"client_proof": os.urandom(32).hex()}, seq=2)))
            self.counts["frames sent"] += 2
            self._answered(ch, 1)
            self._answered(ch, 2)

    def with_wrong_key(self):
        try:
            RemoteBoard.open(f"{self.url}?key={self.wrong_key}", timeout=5, retries=0).close()
        except BoardError:
            self.counts["refused sessions"] += 1
        self.counts["connections"] += 1

    def insider_malformed(self, frames: int = 20):
        """Authenticated (the key leaked, or a buggy host): malformed and oversized requests."""
        b = RemoteBoard.open(f"{self.url}?key={self.key}", timeout=10, retries=0)
        self.counts["connections"] += 1
        ch, link = b.channel, b.channel.link
        try:
            for i in range(frames):
                seq = 1000 + i
                mt, head, body, comp, corrupt = malformed_heads(self.rng, self.image.digest())
                link.write(raw_frame(int(mt), head, body, seq, comp, corrupt))
                self.counts["frames sent"] += 1
                self._answered(ch, seq)
            nt = self.image.params.n_total
            over = [Message(MsgType.RUN, {"digest": self.image.digest(), "class_id": 0, "steps": 10**7},
                            {"phases0": np.zeros(nt, np.int64)}, seq=2001),
                    Message(MsgType.RUN, {"digest": self.image.digest(), "class_id": 0, "steps": 3000,
                                          "trajectory": True}, {"phases0": np.zeros(nt, np.int64)}, seq=2002)]
            for m in over:
                link.write(encode_frame(m))
                self.counts["frames sent"] += 1
                self._answered(ch, m.seq)
            link.write(self.bomb[:8] + struct.pack("<I", 2003) + self.bomb[12:-4]
                       + struct.pack("<I", zlib.crc32(self.bomb[:8] + struct.pack("<I", 2003) + self.bomb[12:-4])))
            self.counts["frames sent"] += 1
            self._answered(ch, 2003)
            link.write(HEADER.pack(MAGIC, 1, int(MsgType.RUN), 0, 2004, 60 << 20))  # announces 60 MiB
            self.counts["frames sent"] += 1
            self._answered(ch, 2004)
            link.write(os.urandom(2000) + MAGIC + os.urandom(100))  # garbage with a false start
            b.agent_status()  # the session still works
        finally:
            b.close()

    def silent_and_slow(self):
        """A silent connection and one dribbling a partial frame: both closed by the agent's timers."""
        def silent():
            s, _ = self._raw()
            s.settimeout(30)
            try:
                s.recv(1)
            except OSError:
                pass
            s.close()

        def slow():
            s, _ = self._raw()
            frame = encode_frame(Message(MsgType.HELLO, seq=1))
            try:
                for byte in frame[:-1]:
                    s.sendall(bytes([byte]))
                    time.sleep(1.0)
                    if self.stop.is_set():
                        break
            except OSError:
                pass
            s.close()

        ths = [threading.Thread(target=silent, daemon=True), threading.Thread(target=slow, daemon=True)]
        for t in ths:
            t.start()
        return ths

    def run(self):
        slow = "silent_and_slow" in self.attacks
        background = []
        attacks = [getattr(self, a) for a in self.attacks if a != "silent_and_slow"] or [lambda: time.sleep(0.5)]
        i = 0
        while not self.stop.is_set():
            if self.active is not None and not self.active.wait(0.1):
                continue
            if slow and i % (4 * len(attacks)) == 0:
                background += self.silent_and_slow()
            try:
                attacks[i % len(attacks)]()
            except Exception as e:  # noqa: BLE001 - an attack that went wrong on our side is reported, not fatal
                self.failures.append(f"{attacks[i % len(attacks)].__name__}: {type(e).__name__}: {e}")
            i += 1
        for t in background:
            t.join(1)


def hostile_process(url: str, key: str, wrong: str, n: int, stop, active, results, attacks) -> None:
    """The attacker in its own process (its own GIL: it competes with the honest clients only for the CPU)."""
    hostile = Hostile(url, key, wrong, random_image(n), stop, attacks, active)
    hostile.run()
    results.put({"counts": hostile.counts, "kinds": hostile.kinds, "failures": hostile.failures})


def honest(idx: int, url: str, key: str, image, reference, stop: threading.Event, out: dict):
    rng = random.Random(idx)
    wrong = served = errors = 0
    b = None
    try:
        while not stop.is_set():
            if b is None or served % 40 == 39:  # sessions come and go
                if b is not None:
                    b.close()
                    b = None
                try:
                    b = RemoteBoard.open(f"{url}?key={key}", timeout=30)
                    b.load_image(image)
                except BoardError as e:
                    errors += 1
                    out.setdefault("messages", []).append(str(e))
                    b = None
                    time.sleep(0.1)
                    continue
            c, s = rng.randrange(len(reference["p0"])), rng.random()
            try:
                if s < 0.1:
                    got = b.run_trajectory(reference["cls"][c], reference["p0"][c]).trajectory
                    want = reference["traj"][c]
                else:
                    got = b.run(reference["cls"][c], reference["p0"][c]).phases
                    want = reference["final"][c]
            except BoardError as e:
                errors += 1
                out.setdefault("messages", []).append(str(e))
                b = None
                continue
            served += 1
            wrong += int(got.shape != want.shape or not np.array_equal(got, want))
            out["times"].append(time.monotonic())
    finally:
        if b is not None:
            b.close()
    out.update(served=served, wrong=wrong, errors=errors)


def plot(path: str, rss, windows, rate_series):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for i, (a, b) in enumerate(windows):
        ax.axvspan(a, b, color="C3", alpha=0.12, lw=0, label="hostile client active" if i == 0 else None)
    ax.plot([t for t, _ in rss], [m for _, m in rss], color="C0", label="agent RSS (MiB)")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("agent RSS (MiB)", color="C0")
    ax.set_ylim(0, max(m for _, m in rss) * 1.3)
    ax2 = ax.twinx()
    ax2.plot([t for t, _ in rate_series], [r for _, r in rate_series], color="C2", label="honest requests/s")
    ax2.set_ylabel("honest requests/s", color="C2")
    ax2.set_ylim(0, max([r for _, r in rate_series] + [1]) * 1.3)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right", fontsize=8)
    ax.set_title("host.agent soak: memory and honest throughput, attacker on in shaded windows")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main(argv=None) -> int:
    from fixedpoint import cli

    ap = cli.ArgumentParser(prog="python benchmarks/bench_soak.py", description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=cli.finite_float, default=45.0, help="seconds in all (5..3600; default 45)")
    ap.add_argument("--clients", type=cli.int_range(1, 6), default=3, help="honest clients (1..6)")
    ap.add_argument("--n", type=cli.int_range(16, 1024), default=128, help="oscillators of the random model (multiple of 8, 16..1024)")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS),
                    default=os.path.join(REPO, "benchmarks", "results", "soak.md"),
                    help="Markdown results file (default benchmarks/results/soak.md; a _rss.png plot beside it)")
    ap.add_argument("--window", type=cli.finite_float, default=5.0, help="seconds per quiet / attack window (default 5)")
    ap.add_argument("--attacks", default=",".join(Hostile.ATTACKS),
                    help=f"comma-separated attacks to cycle through (default all: {','.join(Hostile.ATTACKS)})")
    args = ap.parse_args(argv)
    args.attacks = tuple(a for a in args.attacks.split(",") if a)
    if not set(args.attacks) <= set(Hostile.ATTACKS):
        ap.error(f"unknown attacks {sorted(set(args.attacks) - set(Hostile.ATTACKS))}; choose from {Hostile.ATTACKS}")
    if not 1 <= args.window <= args.duration / 2:
        ap.error("--window must be 1..duration/2 seconds")
    if not 5 <= args.duration <= 3600:
        ap.error("--duration must be 5..3600 seconds")
    if not 1 <= args.clients <= 6:
        ap.error("--clients must be 1..6 (the agent serves at most 8 connections; the attacker uses 3)")
    if not (16 <= args.n <= 1024 and args.n % 8 == 0):
        ap.error("--n must be a multiple of 8 in 16..1024")

    image = random_image(args.n)
    g = GoldenBoard()
    g.load_image(image)
    p0 = initial_phases(11, 8, image.params.n_total, image.params.spec)
    cls = [i % image.num_classes for i in range(8)]
    reference = {"p0": p0, "cls": cls, "final": [g.run(c, p).phases for c, p in zip(cls, p0)],
                 "traj": [g.run_trajectory(c, p).trajectory for c, p in zip(cls, p0)]}
    machine = machine_description()
    # quiet and attack windows alternate, so that the load of other processes (which drifts) weighs on both alike
    edges = list(np.arange(0.0, args.duration, args.window)) + [args.duration]
    windows = [(a, b) for i, (a, b) in enumerate(zip(edges, edges[1:])) if i % 2 == 1]
    with tempfile.TemporaryDirectory() as tmp:
        key, wrong = make_key(os.path.join(tmp, "agent.key")), make_key(os.path.join(tmp, "wrong.key"))
        with agent_process("--board", "golden", "--key", key, *AGENT_LIMITS) as (url, proc):
            mp = multiprocessing.get_context("spawn")
            stop_hostile, active, results = mp.Event(), mp.Event(), mp.Queue()
            hth = mp.Process(target=hostile_process, daemon=True,
                             args=(url, key, wrong, args.n, stop_hostile, active, results, args.attacks))
            hth.start()  # it prepares its frames while the honest clients warm up
            stop = threading.Event()
            outs = [{"times": []} for _ in range(args.clients)]
            ths = [threading.Thread(target=honest, args=(i, url, key, image, reference, stop, outs[i]), daemon=True)
                   for i in range(args.clients)]
            t0 = time.monotonic()
            for t in ths:
                t.start()
            crashed = None
            rss: list[tuple[float, float]] = []
            cpu: dict[str, list[tuple[float, float]]] = {"agent": [], "honest": [], "attacker": []}
            while (el := time.monotonic() - t0) < args.duration:
                on = any(a <= el < b for a, b in windows)
                if on != active.is_set():
                    active.set() if on else active.clear()
                rss.append((el, rss_mib(proc.pid)))
                for name, pid in (("agent", proc.pid), ("honest", os.getpid()), ("attacker", hth.pid)):
                    try:
                        cpu[name].append((el, cpu_s(pid)))
                    except (OSError, TypeError):
                        pass
                if proc.poll() is not None:
                    crashed = proc.returncode
                    break
                served = sum(len(o["times"]) for o in outs)
                print(f"\r[soak] {el:5.1f}/{args.duration:.0f} s  honest requests {served}  attacker "
                      f"{'ON ' if on else 'off'}  agent RSS {rss[-1][1]:.0f} MiB", end="", file=sys.stderr, flush=True)
                time.sleep(0.25)
            print(file=sys.stderr)
            active.clear()
            stop_hostile.set()
            try:
                hres = results.get(timeout=60)
            except queue.Empty:
                hres = {"counts": {}, "kinds": {}, "failures": ["the attacker process did not report"]}
            hth.join(10)
            if hth.is_alive():
                hth.kill()
            stop.set()
            for t in ths:
                t.join(60)
            alive = proc.poll() is None
            status = {}
            if alive:
                with RemoteBoard.open(f"{url}?key={key}", timeout=30) as b:
                    status = b.agent_status()
                rss.append((time.monotonic() - t0, rss_mib(proc.pid)))

    def in_attack(t):
        return any(a <= t < b for a, b in windows)

    times = sorted(t - t0 for o in outs for t in o["times"])
    t_on = sum(b - a for a, b in windows)
    t_off = args.duration - t_on
    rate_off = sum(1 for t in times if not in_attack(t)) / t_off
    rate_on = sum(1 for t in times if in_attack(t)) / t_on

    def util(series, attack):
        """CPU seconds per second in the attack (or quiet) windows, from consecutive samples."""
        used = span = 0.0
        for (ta, ca), (tb, cb) in zip(series, series[1:]):
            if in_attack(ta) == attack and in_attack(tb) == attack:
                used, span = used + cb - ca, span + tb - ta
        return used / span if span else float("nan")

    rate_series = [(s + 0.5, sum(1 for t in times if s <= t < s + 1)) for s in np.arange(0, args.duration - 0.5, 1.0)]
    served = sum(o.get("served", 0) for o in outs)
    wrong = sum(o.get("wrong", 0) for o in outs)
    honest_errors = sum(o.get("errors", 0) for o in outs)
    quiet = [m for t, m in rss if not in_attack(t)]
    during = [m for t, m in rss if in_attack(t)]
    png = os.path.splitext(args.out)[0] + "_rss.png"
    plot(png, rss, windows, rate_series)
    h = dict.fromkeys(["frames sent", "answered", "errors answered", "unanswered", "connections", "refused sessions"], 0)
    h.update(hres["counts"])
    kinds, failures = hres["kinds"], hres["failures"]
    lines = [
        "# Agent soak: honest clients and a hostile one on loopback",
        "",
        f"Machine: {machine}; load average at the end {os.getloadavg()[0]:.1f} (the machine is shared with other "
        f"jobs). Command: `python benchmarks/bench_soak.py --duration {args.duration:g} --clients {args.clients} "
        f"--n {args.n} --window {args.window:g}`.",
        "",
        f"One `host.agent --board golden --key K {' '.join(AGENT_LIMITS)}` process; {args.clients} honest clients (random model "
        f"n={args.n}, 10 steps; 90 % RUN, 10 % trajectory; a new authenticated session every 40 requests), each "
        "result compared bit for bit with an in-process golden board. The hostile client (its own process) is "
        f"active in alternate {args.window:g} s windows (shaded in the plot) and cycles through: "
        f"{', '.join(args.attacks)}: a request without authentication, a forged client proof, a wrong key; an "
        "authenticated insider sending 20 malformed messages (descriptors and fields of wrong types, NaN/Inf, "
        "5000-digit integers, 20000-deep JSON, unknown types, corrupt zlib), RUN with 10^7 steps, a 3000-step "
        "trajectory (3.3 MB) over the 2 MiB reply limit, the 278 KB LOAD_IMAGE that inflates to 63 MB, a header announcing 60 MiB "
        "and raw garbage; plus silent and byte-per-second connections.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| agent crashes | {0 if alive and crashed is None else 1} (agent {'alive' if alive else 'dead'} at the end) |",
        f"| honest requests served | {served} |",
        f"| wrong honest results (bit for bit vs golden) | **{wrong}** |",
        f"| honest requests that failed | {honest_errors} |",
        f"| honest rate, quiet / attack windows | {rate_off:.1f} / {rate_on:.1f} req/s (ratio {rate_on / max(rate_off, 1e-9):.2f}) |",
        f"| CPU, quiet / attack windows (cores) | agent {util(cpu['agent'], False):.2f} / {util(cpu['agent'], True):.2f}; "
        f"honest clients {util(cpu['honest'], False):.2f} / {util(cpu['honest'], True):.2f}; attacker "
        f"{util(cpu['attacker'], False):.2f} / {util(cpu['attacker'], True):.2f} |",
        f"| hostile frames sent | {h['frames sent']} over {h['connections']} connections |",
        f"| hostile frames answered | {h['answered']}, of which ERROR {h['errors answered']} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) |",
        f"| hostile frames not answered | {h['unanswered']} |",
        f"| wrong-key sessions refused by the host | {h['refused sessions']} |",
        f"| agent counters at the end | {', '.join(f'{k} {v:g}' for k, v in sorted(status.items()))} |",
        f"| agent RSS, quiet windows (median, max) | {statistics.median(quiet):.1f} MiB, {max(quiet):.1f} MiB |",
        f"| agent RSS, attack windows (median, max); at the end | {statistics.median(during):.1f} MiB, "
        f"{max(during):.1f} MiB; {rss[-1][1]:.1f} MiB |",
        "",
        f"![agent RSS and honest throughput over time]({os.path.basename(png)})",
        "",
        "RSS over time (s: MiB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in rss[::max(1, len(rss) // 15)]),
        "",
        "The rate ratio is how much the attacker slows the honest clients here; it shares the two cores with",
        "them, the agent and other jobs on the machine, so it moves with the load. Hostile frames that get no",
        "answer are the ones the agent drops on purpose (garbage, a frame that never completes).",
    ]
    if failures:
        lines += ["", f"Attacks that failed on the attacker's side ({len(failures)}): "
                  + "; ".join(sorted(set(failures))[:5])]
    if honest_errors:
        lines += ["", "Honest failures: " + "; ".join(sorted({m for o in outs for m in o.get("messages", [])})[:5])]
    text = "\n".join(lines).replace(tmp, "<tmp>")  # the key files' temporary directory is no fact to record
    write_atomic(args.out, text + "\n")
    print(f"wrote {args.out} and {png}: served {served}, wrong {wrong}, honest errors {honest_errors}, "
          f"crashes {0 if alive else 1}, hostile answered {h['answered']}/{h['frames sent']}")
    return 0 if alive and wrong == 0 and not honest_errors else 1


if __name__ == "__main__":
    sys.exit(main())
