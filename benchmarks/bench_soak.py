"""Soak test of the board agent: honest clients and a hostile one against one agent on loopback.

    python benchmarks/bench_soak.py [--duration 45] [--clients 3] [--n 128] [--out benchmarks/results/soak.md]

One `python -m host.agent --board golden --key K --listen 127.0.0.1:0` process. For the first quarter of the
run only the honest clients talk to it (baseline rate); then a hostile client joins and cycles through
attacks: requests without authentication, a forged client proof, a wrong key, malformed messages from an
authenticated insider (descriptors and fields of every wrong type, NaN, unknown types, deep JSON, corrupt
zlib), oversized work (RUN with 10^7 steps, an over-long trajectory, the 278 KB LOAD_IMAGE that inflates to
63 MB, a header announcing 60 MiB), raw garbage, a silent connection and a slow partial frame. Every honest
result is compared bit for bit with an in-process golden board. Reports requests served, errors answered,
the agent's RSS over time (sampled from /proc every 0.5 s) and the honest rate with the attacker as a ratio
of the rate without it. Loopback only; nothing leaves the machine.
"""
from __future__ import annotations

import argparse
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

    def __init__(self, url: str, key_path: str, wrong_key: str, image, stop: threading.Event):
        self.url, self.key, self.wrong_key, self.image, self.stop = url, key_path, wrong_key, image, stop
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
                    Message(MsgType.RUN, {"digest": self.image.digest(), "class_id": 0, "steps": 1000,
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
        background = self.silent_and_slow()
        attacks = [self.unauthenticated, self.forged_proof, self.with_wrong_key, self.insider_malformed]
        i = 0
        while not self.stop.is_set():
            try:
                attacks[i % len(attacks)]()
            except Exception as e:  # noqa: BLE001 - an attack that went wrong on our side is reported, not fatal
                self.failures.append(f"{attacks[i % len(attacks)].__name__}: {type(e).__name__}: {e}")
            i += 1
            if i % len(attacks) == 0:
                background += self.silent_and_slow() if i % (4 * len(attacks)) == 0 else []
        for t in background:
            t.join(1)


def hostile_process(url: str, key: str, wrong: str, n: int, stop, results) -> None:
    """The attacker in its own process (its own GIL: it competes with the honest clients only for the CPU)."""
    hostile = Hostile(url, key, wrong, random_image(n), stop)
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


def plot(path: str, rss, t_attack: float, rate_series):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot([t for t, _ in rss], [m for _, m in rss], color="C0", label="agent RSS (MiB)")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("agent RSS (MiB)", color="C0")
    ax.axvline(t_attack, color="C3", linestyle="--", label="hostile client starts")
    ax.set_ylim(0, max(m for _, m in rss) * 1.3)
    ax2 = ax.twinx()
    ax2.plot([t for t, _ in rate_series], [r for _, r in rate_series], color="C2", label="honest requests/s")
    ax2.set_ylabel("honest requests/s", color="C2")
    ax2.set_ylim(0, max([r for _, r in rate_series] + [1]) * 1.3)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right", fontsize=8)
    ax.set_title("host.agent soak: memory and honest throughput under attack")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_soak.py", description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=45.0, help="seconds in all (5..3600; default 45)")
    ap.add_argument("--clients", type=int, default=3, help="honest clients (1..6)")
    ap.add_argument("--n", type=int, default=128, help="oscillators of the random model (multiple of 8, 16..1024)")
    ap.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "soak.md"),
                    help="Markdown results file (default benchmarks/results/soak.md; a _rss.png plot beside it)")
    args = ap.parse_args(argv)
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
    with tempfile.TemporaryDirectory() as tmp:
        key, wrong = make_key(os.path.join(tmp, "agent.key")), make_key(os.path.join(tmp, "wrong.key"))
        with agent_process("--board", "golden", "--key", key, "--memory-mib", "64") as (url, proc):
            t0 = time.monotonic()
            stop = threading.Event()
            rss: list[tuple[float, float]] = []
            outs = [{"times": []} for _ in range(args.clients)]
            mp = multiprocessing.get_context("spawn")
            stop_hostile, results = mp.Event(), mp.Queue()
            hth = mp.Process(target=hostile_process, args=(url, key, wrong, args.n, stop_hostile, results), daemon=True)
            started = False
            ths = [threading.Thread(target=honest, args=(i, url, key, image, reference, stop, outs[i]), daemon=True)
                   for i in range(args.clients)]
            for t in ths:
                t.start()
            t_attack = args.duration / 4
            crashed = None
            cpu: list[tuple[float, float]] = []
            while (el := time.monotonic() - t0) < args.duration:
                rss.append((el, rss_mib(proc.pid)))
                cpu.append((el, cpu_s(proc.pid)))
                if proc.poll() is not None:
                    crashed = proc.returncode
                    break
                if el >= t_attack and not started:
                    hth.start()
                    started = True
                served = sum(len(o["times"]) for o in outs)
                print(f"\r[soak] {el:5.1f}/{args.duration:.0f} s  honest requests {served}  attacker "
                      f"{'running' if started else 'waiting'}  agent RSS {rss[-1][1]:.0f} MiB", end="",
                      file=sys.stderr, flush=True)
                time.sleep(0.5)
            print(file=sys.stderr)
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
    times = sorted(t - t0 for o in outs for t in o["times"])
    base = [t for t in times if t < t_attack]
    attack = [t for t in times if t_attack + 1 <= t < args.duration]
    rate_base = len(base) / t_attack
    rate_attack = len(attack) / max(1e-9, args.duration - t_attack - 1)
    rate_series = [(s + 1.0, sum(1 for t in times if s <= t < s + 2) / 2) for s in np.arange(0, args.duration - 1, 2.0)]
    served = sum(o.get("served", 0) for o in outs)
    wrong = sum(o.get("wrong", 0) for o in outs)
    honest_errors = sum(o.get("errors", 0) for o in outs)
    cpu_base = [c for t, c in cpu if t < t_attack]
    cpu_att = [c for t, c in cpu if t >= t_attack]
    util_base = (cpu_base[-1] - cpu_base[0]) / max(1e-9, [t for t, _ in cpu if t < t_attack][-1] - cpu[0][0])
    util_att = (cpu_att[-1] - cpu_att[0]) / max(1e-9, cpu[-1][0] - [t for t, _ in cpu if t >= t_attack][0])
    before = [m for t, m in rss if t < t_attack]
    during = [m for t, m in rss if t >= t_attack]
    png = os.path.splitext(args.out)[0] + "_rss.png"
    plot(png, rss, t_attack, rate_series)
    h = dict.fromkeys(["frames sent", "answered", "errors answered", "unanswered", "connections", "refused sessions"], 0)
    h.update(hres["counts"])
    kinds, failures = hres["kinds"], hres["failures"]
    lines = [
        "# Agent soak: honest clients and a hostile one on loopback",
        "",
        f"Machine: {machine}. Command: `python benchmarks/bench_soak.py --duration {args.duration:g} "
        f"--clients {args.clients} --n {args.n}`.",
        "",
        f"One `host.agent --board golden --key K --memory-mib 64` process; {args.clients} honest clients (random model "
        f"n={args.n}, 10 steps; 90 % RUN, 10 % trajectory; a new authenticated session every 40 requests), each "
        "result compared bit for bit with an in-process golden board. From t = "
        f"{t_attack:.0f} s a hostile client cycles through: a request without authentication, a forged client "
        "proof, a wrong key, and an authenticated insider sending 20 malformed messages (descriptors and fields "
        "of wrong types, NaN/Inf, 5000-digit integers, 20000-deep JSON, unknown types, corrupt zlib), RUN with "
        "10^7 steps, a 1000-step trajectory over the reply limit, the 278 KB LOAD_IMAGE that inflates to 63 MB, a "
        "header announcing 60 MiB and raw garbage; plus silent and byte-per-second connections.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| agent crashes | {0 if alive and crashed is None else 1} (agent {'alive' if alive else 'dead'} at the end) |",
        f"| honest requests served | {served} |",
        f"| wrong honest results (bit for bit vs golden) | **{wrong}** |",
        f"| honest requests that failed | {honest_errors} |",
        f"| honest rate without attacker (t < {t_attack:.0f} s) | {rate_base:.1f} req/s |",
        f"| honest rate with attacker | {rate_attack:.1f} req/s (ratio {rate_attack / max(rate_base, 1e-9):.2f}) |",
        f"| agent CPU use without / with attacker | {util_base:.2f} / {util_att:.2f} cores "
        f"(machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end) |",
        f"| hostile frames sent | {h['frames sent']} over {h['connections']} connections |",
        f"| hostile frames answered | {h['answered']}, of which ERROR {h['errors answered']} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) |",
        f"| hostile frames not answered (dropped; garbage is never answered) | {h['unanswered']} |",
        f"| wrong-key sessions refused by the host | {h['refused sessions']} |",
        f"| agent counters at the end | {', '.join(f'{k} {v:g}' for k, v in sorted(status.items()))} |",
        f"| agent RSS before the attack (median, max) | {statistics.median(before):.1f} MiB, {max(before):.1f} MiB |",
        f"| agent RSS during the attack (median, max, last) | {statistics.median(during):.1f} MiB, "
        f"{max(during):.1f} MiB, {during[-1]:.1f} MiB |",
        "",
        f"![agent RSS and honest throughput over time]({os.path.basename(png)})",
        "",
        "RSS over time (s: MiB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in rss[::max(1, len(rss) // 12)]),
        "",
        "The rate ratio measures how much the attacker slows honest clients on this machine: the hostile",
        "work (hashing, decoding, the limit checks) shares the same cores with the honest clients and the",
        "benchmark itself, so load from other processes moves it too.",
    ]
    if failures:
        lines += ["", f"Attacks that failed on the attacker's side ({len(failures)}): "
                  + "; ".join(sorted(set(failures))[:5])]
    if honest_errors:
        lines += ["", "Honest failures: " + "; ".join(sorted({m for o in outs for m in o.get("messages", [])})[:5])]
    write_atomic(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out} and {png}: served {served}, wrong {wrong}, honest errors {honest_errors}, "
          f"crashes {0 if alive else 1}, hostile answered {h.get('errors answered')}/{h.get('frames sent')}")
    return 0 if alive and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
