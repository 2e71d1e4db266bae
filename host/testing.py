"""Helpers for tests and benchmarks: random-init checkpoints, agent subprocesses, fault-injecting links."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

from .link import Link


def random_checkpoint(path: str, config: str = "cifar10-n64", seed: int = 0) -> str:
    """A random-init model of a named config saved as our checkpoint (needs torch); cached on disk."""
    if os.path.exists(path):
        return path
    import torch

    from model.checkpoint import save_checkpoint
    from model.config import get_config
    from model.un0 import OscillatorGenerator

    torch.manual_seed(seed)
    save_checkpoint(path, OscillatorGenerator(get_config(config)))
    return path


def un0_imagenet_file(path: str, n: int = 64, seed: int = 0) -> str:
    """A random-init ImageNet-64 generator at small n written the way Un-0 writes its checkpoints (needs torch):
    {"model": state dict with torch.compile's `_orig_mod` key segments, "optimizer", "scheduler", "epoch",
    "global_step", "config": Un-0's config keys}; the release recipe (n_cond 1, 1000 classes, mup,
    reference-oscillator readout, 64x64 decoder; un0-model.md §7). `python -m model.checkpoint import-un0` reads it."""
    import torch

    from model.config import ModelConfig
    from model.un0 import OscillatorGenerator

    cfg = ModelConfig(name=f"imagenet64-n{n}", n=n, n_cond=1, num_classes=1000, image_size=64,
                      decoder_in_channels=2 * n // 16, dataset="imagenet64", relativization="ref_oscillator",
                      parameterization="mup", init_output_gain=1.0)
    torch.manual_seed(seed)
    model = OscillatorGenerator(cfg)
    sd = {}
    for k, v in model.state_dict().items():
        top, rest = k.split(".", 1)
        sd[f"{top}._orig_mod.{rest}"] = v.detach().clone()
    torch.save({
        "model": sd,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.95), "params": []}]},
        "scheduler": {"last_epoch": 0, "_step_count": 1},
        "epoch": 0,
        "global_step": 0,
        "config": {"dataset": "imagenet64", "n_oscillators": n, "n_conditional_oscillators": 1,
                   "class_dropout_prob": 0.1, "num_steps": 10, "decoder_in_channels": 2 * n // 16,
                   "parameterization": "mup", "relativization": "ref_oscillator", "encoding": "sin_cos",
                   "solver": "euler"},
    }, path)
    return path


@contextlib.contextmanager
def agent_process(*args: str, startup_timeout: float = 60.0):
    """`python -m host.agent --listen 127.0.0.1:0 ARGS...`; yields (url, Popen). Killed on exit."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "host.agent", "--listen", "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=repo, env=env)
    try:
        deadline = time.monotonic() + startup_timeout
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("LISTENING") or not line:
                break
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"agent did not start (exit code {proc.poll()})")
        hostport = line.split()[1]
        yield f"tcp://{hostport}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


class FaultyLink(Link):
    """Wraps a Link and damages chosen frames: `corrupt_writes` / `corrupt_reads` are sets of 0-based
    call indices whose data get one byte flipped; `truncate_writes` drops the second half of a write."""

    def __init__(self, inner: Link, corrupt_writes=(), corrupt_reads=(), truncate_writes=(), byte: int = 20):
        self.inner = inner
        self.corrupt_writes, self.corrupt_reads = set(corrupt_writes), set(corrupt_reads)
        self.truncate_writes = set(truncate_writes)
        self.byte = byte
        self.writes = self.reads = 0
        self.damaged = 0

    def _flip(self, data: bytes) -> bytes:
        b = bytearray(data)
        b[min(self.byte, len(b) - 1)] ^= 0x5A
        self.damaged += 1
        return bytes(b)

    def write(self, data: bytes) -> None:
        i = self.writes
        self.writes += 1
        if i in self.corrupt_writes:
            data = self._flip(data)
        if i in self.truncate_writes:
            data = data[:len(data) // 2]
            self.damaged += 1
        self.inner.write(data)

    def read(self, size: int, timeout: float) -> bytes:
        data = self.inner.read(size, timeout)
        if data:
            i = self.reads
            self.reads += 1
            if i in self.corrupt_reads:
                data = self._flip(data)
        return data

    def close(self) -> None:
        self.inner.close()


class PacedLink(Link):
    """Wraps a Link and writes at a serial line's pace: `baud` bits per second, 10 bits per byte (8N1),
    in `chunk`-byte pieces. A pseudo-terminal moves bytes at memory speed; this makes it a 115200-baud line."""

    def __init__(self, inner: Link, baud: int = 115200, chunk: int = 64):
        self.inner, self.baud, self.chunk = inner, baud, chunk
        self.written = 0

    def write(self, data: bytes) -> None:
        t0 = time.monotonic()
        for i in range(0, len(data), self.chunk):
            piece = data[i:i + self.chunk]
            self.inner.write(piece)
            self.written += len(piece)
            ahead = t0 + (i + len(piece)) * 10 / self.baud - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def read(self, size: int, timeout: float) -> bytes:
        return self.inner.read(size, timeout)

    def close(self) -> None:
        self.inner.close()
