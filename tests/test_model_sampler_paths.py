"""The sampler's optimized paths equal the plain formulation, and the load-aware thread pool behaves.

Optimizations covered: in-place sin/cos and matmul buffers (no autograd) vs the differentiable form,
labels sorted once per integration vs unsorted labels inside velocity_fn, per-class drive on sorted
rows vs a per-sample gathered drive, buffers reused across Euler / RK4 stages, and the chunked
channels-last transposed-conv decoder vs Un-0's literal upsample -> conv layers.
"""

import os
import subprocess
import sys
import time

import pytest
import torch

from model import cpu_threads
from model.config import ModelConfig, get_config
from model.un0 import INFERENCE_CHUNK, OscillatorGenerator

SMALL = ModelConfig(name="t-small", n=16, n_cond=3, num_classes=5, image_size=8,
                    decoder_in_channels=2, dataset="cifar10")


def reference_velocity(p, x, cls, n, keep=None):
    """Un-0's velocity (un0-model.md section 1) with a per-sample gathered drive, no shortcuts."""
    th, ph = x[:, :n], x[:, n:]
    D = p["K_drive"][cls]
    if keep is not None:
        D = D * keep.to(D.dtype).view(-1, 1, 1)
    dth = (p["omega"] + torch.cos(th) * (torch.sin(th) @ p["K"].t() + torch.einsum("bnm,bm->bn", D, torch.sin(ph)))
           - torch.sin(th) * (torch.cos(th) @ p["K"].t() + torch.einsum("bnm,bm->bn", D, torch.cos(ph))))
    dph = (p["omega_cond"] + torch.cos(ph) * (torch.sin(ph) @ p["K_cond"].t())
           - torch.sin(ph) * (torch.cos(ph) @ p["K_cond"].t()))
    return torch.cat([dth, dph], 1)


def reference_sample(model, cls, th0):
    """Euler with the reference velocity, readout, and the decoder's literal layer sequence."""
    cfg = model.cfg
    p = {k: v.detach() for k, v in model.effective_params().items()}
    x = th0
    for _ in range(cfg.num_steps):
        x = x + cfg.dt * reference_velocity(p, x, cls, cfg.n)
    h = model.features(x).reshape(len(cls), model.decoder.in_channels, 4, 4)
    for blk in model.decoder.cascade:
        h = blk.net(h)
    return torch.tanh(model.decoder.to_output(h))


def test_full_size_float32_sample_equals_reference_within_1e4():
    """cifar10-n1024 in float32, more samples than one decoder chunk, unsorted labels."""
    torch.manual_seed(0)
    model = OscillatorGenerator(get_config("cifar10-n1024")).eval()
    B = INFERENCE_CHUNK + 5
    g = torch.Generator().manual_seed(1)
    cls = torch.randint(0, 10, (B,), generator=g)
    assert not torch.equal(cls, cls.sort().values)
    th0 = model.initial_phases(B, g)
    with torch.no_grad():
        ours = model(cls, th0)
        ref = reference_sample(model, cls, th0)
    assert ours.shape == ref.shape == (B, 3, 32, 32)
    err = (ours - ref).abs().max().item()
    assert err <= 1e-4, err
    assert ref.std() > 0.05  # a real image batch, not a constant


@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_inplace_and_differentiable_velocity_paths_agree(solver):
    """No-grad (buffers reused across calls and RK4 stages) and autograd forms, sorted and unsorted labels."""
    torch.manual_seed(2)
    model = OscillatorGenerator(SMALL.replace(solver=solver, parameterization="mup")).double().eval()
    cls = torch.tensor([4, 0, 2, 0, 4, 1, 3])
    keep = torch.tensor([True, False, True, True, False, True, True])
    th0 = model.initial_phases(7, torch.Generator().manual_seed(3)) * 3
    p = {k: v.detach() for k, v in model.effective_params().items()}
    for drive_keep in (None, keep):
        with torch.no_grad():
            fast = model.integrate(cls, th0, return_trajectory=True, drive_keep=drive_keep)
            v = model.dynamics.velocity_fn(cls, drive_keep)  # unsorted labels: v permutes internally
            v_direct = [v(x) for x in fast]  # one buffer, reused by every call
        slow = model.integrate(cls, th0, return_trajectory=True, drive_keep=drive_keep)
        assert slow.requires_grad
        torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=1e-12)
        for x, got in zip(fast, v_direct):
            torch.testing.assert_close(got, reference_velocity(p, x, cls, SMALL.n, drive_keep), rtol=0, atol=1e-12)


def test_decoder_chunks_match_whole_batch_literal_layers():
    torch.manual_seed(4)
    m = OscillatorGenerator(get_config("cifar10-n64")).eval()
    feats = torch.randn(2 * INFERENCE_CHUNK + 3, m.cfg.num_features).sin()
    literal = m.decode(feats).detach()  # grad enabled: Un-0's literal layers, whole batch
    with torch.no_grad():
        fast = m.decode(feats)
    assert fast.is_contiguous()
    torch.testing.assert_close(fast, literal, rtol=0, atol=2e-5)


# ---------------------------------------------------------------- load-aware intra-op pool
def _spin(seconds: float) -> subprocess.Popen:
    code = ("import os, time\nend, parent = time.time() + %f, os.getppid()\n"
            "while time.time() < end and os.getppid() == parent:\n    pass\n") % seconds
    return subprocess.Popen([sys.executable, "-c", code])


def test_idle_cpus_bounds_and_pool_restore():
    usable = cpu_threads.usable_cpus()
    assert 1 <= cpu_threads.idle_cpus() <= usable
    assert cpu_threads.threads_for_load(1) == 1
    with pytest.raises(ValueError, match="max_threads must be >= 1"):
        cpu_threads.threads_for_load(0)
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with cpu_threads.load_aware_threads(1) as n:
            assert n == 1 == torch.get_num_threads()
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs Linux /proc")
@pytest.mark.skipif(cpu_threads.usable_cpus() > 16, reason="needs one busy process per usable CPU")
def test_busy_machine_gets_a_one_thread_pool():
    """With one CPU-burning process per usable CPU, no core is idle: the pool shrinks to 1 thread."""
    workers = [_spin(20.0) for _ in range(cpu_threads.usable_cpus())]
    try:
        deadline, seen = time.time() + 15, []
        while time.time() < deadline:  # until every worker has started spinning
            seen.append(cpu_threads.idle_cpus())
            if seen[-1] == 1 and all(_cpu_ticks(w.pid) > 0 for w in workers):
                break
            time.sleep(0.05)
        assert seen[-1] == 1, seen[-20:]
        assert cpu_threads.threads_for_load(64) == 1
        before = torch.get_num_threads()
        with cpu_threads.load_aware_threads(64) as n:
            assert n == 1 == torch.get_num_threads()
        assert torch.get_num_threads() == before
    finally:
        for w in workers:
            w.kill()
            w.wait()


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_idle_cpu_arithmetic(monkeypatch):
    """Others = runnable tasks machine-wide minus our own; spread over the machine's CPUs by our share."""
    monkeypatch.setattr(cpu_threads, "_own_runnable_threads", lambda: 3)
    monkeypatch.setattr(cpu_threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(cpu_threads.os, "cpu_count", lambda: 2)
    for runnable, idle in [(3, 2), (4, 1), (9, 1), (1, 2)]:  # quiet, one other task, busy, stale snapshot
        monkeypatch.setattr(cpu_threads, "_runnable_tasks", lambda r=runnable: r)
        assert cpu_threads.idle_cpus() == idle, runnable
    monkeypatch.setattr(cpu_threads, "usable_cpus", lambda: 4)  # 4 of 64 CPUs, 30 other runnable tasks
    monkeypatch.setattr(cpu_threads.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(cpu_threads, "_runnable_tasks", lambda: 33)
    assert cpu_threads.idle_cpus() == 4 * 34 // 64 == 2
    monkeypatch.setattr(cpu_threads, "_runnable_tasks", lambda: None)  # no /proc: no adaptation
    assert cpu_threads.idle_cpus() == 4
    assert cpu_threads.threads_for_load(3) == 3
