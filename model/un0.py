"""PyTorch reference generator, compatible with Un-0's conditional Kuramoto model.

State x = [theta (n main) ; phi (n_cond conditioning)], integrated from Uniform[-pi, pi) for
``num_steps`` steps of size T/num_steps (Euler, or torchdiffeq's 3/8-rule RK4):

    dtheta_i/dt = omega_i  + sum_j K_ij sin(theta_j - theta_i) + sum_m D^(c)_im sin(phi_m - theta_i)
    dphi_m/dt   = omega'_m + sum_l Kc_ml sin(phi_l - phi_m)                     (one-way drive)

Using sin(a - b) = sin a cos b - cos a sin b, sin and cos are evaluated once per oscillator and
step and the coupling is ONE matmul of K with the stacked [sin theta ; cos theta]. The class drive
is grouped by class (one small matmul per class present) instead of gathering a (B, n, n_cond)
tensor per sample. The settled main phases are relativised, encoded as [sin ; cos] and decoded by
Un-0's ResizeConvDecoder. Sources: un0-model.md sections 1-6 (Un-0, github.com/unconv-ai/Un-0).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import (
    LEAKY_RELU_SLOPE,
    OUTPUT_CHANNELS,
    DECODER_BASE_SIZE,
    ModelConfig,
    coupling_scales,
    init_stds,
)
from .cpu_threads import load_aware_threads

# torchdiffeq's "rk4" is the 3/8-rule variant (rk4_alt_step_func); these are its stage weights.
_THIRD = 1.0 / 3.0
_TWO_THIRDS = 2.0 / 3.0


def uniform_phases(batch: int, size: int, generator: torch.Generator | None = None,
                   device=None, dtype=None) -> torch.Tensor:
    """Uniform[-pi, pi) phases drawn as rand * 2pi - pi (Un-0's initial state)."""
    return torch.rand(batch, size, generator=generator, device=device, dtype=dtype) * (2 * math.pi) - math.pi


def _zero_diag(m: torch.Tensor) -> torch.Tensor:
    """M with its diagonal set to 0: no self-coupling; applied every forward so the diagonal gets zero gradient."""
    m = m.clone()
    m.diagonal().zero_()
    return m


class ConditionalKuramotoDynamics(nn.Module):
    """The oscillator parameters and the velocity field. Parameter names/shapes are Un-0's."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n, m, c = cfg.n, cfg.n_cond, cfg.num_classes
        sk, skc, sd = init_stds(cfg)
        # Creation order matters for seeded reproducibility: omega, K, omega_cond, K_cond, K_drive.
        self.omega = nn.Parameter(torch.randn(1, n) * cfg.init_freq_scale)
        self.K = nn.Parameter(_zero_diag(torch.randn(n, n) * sk))
        self.omega_cond = nn.Parameter(torch.randn(1, m) * cfg.init_freq_scale)
        self.K_cond = nn.Parameter(_zero_diag(torch.randn(m, m) * skc))
        self.K_drive = nn.Parameter(torch.randn(c, n, m) * sd)
        self.scales = coupling_scales(cfg)

    def effective_params(self) -> dict[str, torch.Tensor]:
        """The matrices the equations use: diagonal removed and forward scale applied."""
        s_k, s_kc, s_d = self.scales
        def scaled(t, s):  # the standard parameterization's scales are 1: skip a pass over K
            return t if s == 1 else t * s

        return {
            "omega": self.omega.reshape(-1),
            "K": scaled(_zero_diag(self.K), s_k),
            "omega_cond": self.omega_cond.reshape(-1),
            "K_cond": scaled(_zero_diag(self.K_cond), s_kc),
            "K_drive": self.K_drive * s_d,
        }

    def velocity_fn(self, class_ids: torch.Tensor, drive_keep: torch.Tensor | None = None):
        """Return v(x) (B, n+m) -> (B, n+m) for a fixed batch of class labels (B,).

        Prepared once per integration, not once per step: the effective matrices and the batch
        grouped by class (a stable sort; integrate() passes sorted labels, so v permutes nothing). Per
        call: sin and cos of x stacked per sample as rows [sin x_b ; cos x_b], ONE matmul with K for the
        main coupling (and a tiny one with Kc), one small matmul per class present for the drive
        D^(c) [sin phi ; cos phi] on that class's rows, and two fused multiply-adds. ``drive_keep`` (B,)
        bool/float multiplies each sample's whole drive (class dropout). Without autograd every
        intermediate is written into buffers reused by every call.
        """
        p = self.effective_params()
        n, m = self.cfg.n, self.cfg.n_cond
        K, Kc = p["K"], p["K_cond"]
        omega = torch.cat([p["omega"], p["omega_cond"]])
        B = class_ids.shape[0]
        order = torch.argsort(class_ids, stable=True)
        permuted = not torch.equal(order, torch.arange(B, device=order.device))
        inverse = torch.argsort(order) if permuted else None
        groups, start = [], 0  # (first row, end row, D^(c)^T) in the (2B, .) stack of sorted samples
        if B:
            classes, counts = torch.unique_consecutive(class_ids[order], return_counts=True)
            for c, k in zip(classes.tolist(), counts.tolist()):
                groups.append((2 * start, 2 * (start + k), p["K_drive"][c].t()))
                start += k
        keep = None
        if drive_keep is not None:
            keep = drive_keep[order].to(K.dtype).reshape(B, 1, 1)
        buf = []

        def v(x: torch.Tensor) -> torch.Tensor:
            if permuted:
                x = x[order]
            if torch.is_grad_enabled():  # differentiable form
                trig = torch.stack([torch.sin(x), torch.cos(x)], 1)  # (B, 2, n + m)
                rows = trig.view(2 * B, n + m)
                acc = torch.cat([rows[:, :n] @ K.t(), rows[:, n:] @ Kc.t()], 1)  # rows [K sin ; K cos]
            else:  # the same values, written in place
                if not buf:
                    buf.extend([x.new_empty(B, 2, n + m), x.new_empty(2 * B, n + m)])
                trig, acc = buf
                torch.sin(x, out=trig[:, 0])
                torch.cos(x, out=trig[:, 1])
                rows = trig.view(2 * B, n + m)
                torch.mm(rows[:, :n], K.t(), out=acc[:, :n])
                torch.mm(rows[:, n:], Kc.t(), out=acc[:, n:])
            drive_in = rows[:, n:] if keep is None else (trig[:, :, n:] * keep).view(2 * B, m)
            for r0, r1, DT in groups:
                acc[r0:r1, :n].addmm_(drive_in[r0:r1], DT)
            acc = acc.view(B, 2, n + m)
            # v = omega + cos x (K sin + D sin phi) - sin x (K cos + D cos phi); Kc and no drive for phi
            out = torch.addcmul(omega, trig[:, 1], acc[:, 0]).addcmul_(trig[:, 0], acc[:, 1], value=-1)
            return out[inverse] if permuted else out

        return v

    def forward(self, x: torch.Tensor, class_ids: torch.Tensor, drive_keep=None) -> torch.Tensor:
        """Velocity at state x (B, n+m) for labels class_ids (B,)."""
        return self.velocity_fn(class_ids, drive_keep)(x)


def euler_step(v, x: torch.Tensor, dt: float) -> torch.Tensor:
    return x + dt * v(x)  # the same expression as torchdiffeq's Euler: y0 + dt * f(y0)


def rk4_38_step(v, x: torch.Tensor, dt: float) -> torch.Tensor:
    """One step of the 3/8-rule RK4, the variant torchdiffeq calls "rk4"."""
    k1 = v(x)
    k2 = v(x + dt * k1 * _THIRD)
    k3 = v(x + dt * (k2 - k1 * _THIRD))
    k4 = v(x + dt * (k1 - k2 + k3))
    return x + (k1 + 3 * (k2 + k3) + k4) * dt * 0.125


SOLVER_STEPS = {"euler": euler_step, "rk4": rk4_38_step}


class ResizeBlock(nn.Module):
    """nearest x2 -> conv3x3 -> LeakyReLU(0.2) -> conv3x3 -> LeakyReLU(0.2); Sequential indices as Un-0."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.LeakyReLU(LEAKY_RELU_SLOPE),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.LeakyReLU(LEAKY_RELU_SLOPE),
        )

    def forward(self, x):
        return self.net(x)


# Nearest x2 upsampling followed by a 3x3 conv (padding 1) equals a stride-2 transposed conv with a
# 4x4 kernel: per axis, output 2i reads x[i-1], x[i], x[i] and output 2i+1 reads x[i], x[i], x[i+1],
# so the 4 transposed-kernel taps are sums of the 3 conv taps. 16 instead of 36 MACs per input pixel
# and output channel, and no 4x-sized intermediate. Rows: transposed tap 0..3; columns: conv tap
# offset -1, 0, +1.
_UPCONV_TAPS = ((0, 0, 1), (0, 1, 1), (1, 1, 0), (1, 0, 0))

#: Samples per chunk of the decoder's inference path (measured best of 8..64 on a 2-core EPYC,
#: benchmarks/results/sampling.md).
INFERENCE_CHUNK = 32


def upsample_conv_as_transposed_kernel(w: torch.Tensor) -> torch.Tensor:
    """(cout, cin, 3, 3) conv weight -> (cin, cout, 4, 4) weight for conv_transpose2d(stride=2, padding=1)."""
    a = torch.tensor(_UPCONV_TAPS, dtype=w.dtype, device=w.device)
    return torch.einsum("pk,ql,oikl->iopq", a, a, w)


class ResizeConvDecoder(nn.Module):
    """Features (B, F) -> channel-major (B, F/16, 4, 4) -> k resize-conv blocks -> conv3x3 -> tanh.

    Without autograd (sampling) it runs an algebraically identical fast path (transposed-conv form of
    upsample+conv, channels-last memory layout, in-place activations, INFERENCE_CHUNK samples at a
    time); with autograd it runs Un-0's literal layer sequence. Both agree to float rounding (tests check it).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = cfg.decoder_channels
        self.in_channels = cfg.decoder_in_channels
        self.fast_inference = True
        self.cascade = nn.ModuleList(
            ResizeBlock(chans[b], chans[b + 1]) for b in range(cfg.num_decoder_blocks)
        )
        self.to_output = nn.Conv2d(chans[-1], OUTPUT_CHANNELS, 3, padding=1)
        for blk in self.cascade:
            for conv in (blk.net[1], blk.net[3]):
                nn.init.kaiming_normal_(conv.weight, a=LEAKY_RELU_SLOPE, nonlinearity="leaky_relu")
                nn.init.zeros_(conv.bias)
        nn.init.xavier_normal_(
            self.to_output.weight, gain=nn.init.calculate_gain("tanh") * cfg.init_output_gain
        )
        nn.init.zeros_(self.to_output.bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        h = feats.reshape(feats.shape[0], self.in_channels, DECODER_BASE_SIZE, DECODER_BASE_SIZE)
        if self.fast_inference and not torch.is_grad_enabled():
            return self._forward_fast(h)
        for blk in self.cascade:
            h = blk(h)
        return torch.tanh(self.to_output(h))

    def _forward_fast(self, h: torch.Tensor) -> torch.Tensor:
        size = h.shape[-1] * 2 ** len(self.cascade)
        out = h.new_empty(h.shape[0], OUTPUT_CHANNELS, size, size)
        up = [(upsample_conv_as_transposed_kernel(blk.net[1].weight), blk.net[1].bias, blk.net[3]) for blk in self.cascade]
        # A chunk of samples at a time: its activations stay in cache and the allocator reuses them
        # (a whole batch's 32x32 maps are fresh, page-faulted memory on every call).
        for start in range(0, h.shape[0], INFERENCE_CHUNK):
            x = h[start:start + INFERENCE_CHUNK].contiguous(memory_format=torch.channels_last)
            for w_t, b_t, c2 in up:
                x = F.leaky_relu_(F.conv_transpose2d(x, w_t, b_t, stride=2, padding=1), LEAKY_RELU_SLOPE)
                x = F.leaky_relu_(F.conv2d(x, c2.weight, c2.bias, padding=1), LEAKY_RELU_SLOPE)
            torch.tanh(self.to_output(x), out=out[start:start + INFERENCE_CHUNK])
        return out


class OscillatorGenerator(nn.Module):
    """Class-conditional coupled-oscillator image generator (Un-0 layout: .dynamics, .decoder)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.dynamics = ConditionalKuramotoDynamics(cfg)
        self.decoder = ResizeConvDecoder(cfg)

    # -- pieces ------------------------------------------------------------------------------
    def effective_params(self) -> dict[str, torch.Tensor]:
        return self.dynamics.effective_params()

    def initial_phases(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x(0) ~ Uniform[-pi, pi) for all n + n_cond oscillators (rand * 2pi - pi, as Un-0)."""
        return uniform_phases(batch, self.cfg.state_size, generator, self.dynamics.K.device, self.dynamics.K.dtype)

    def _check_inputs(self, class_ids: torch.Tensor, theta0: torch.Tensor) -> torch.Tensor:
        class_ids = torch.as_tensor(class_ids, device=theta0.device)
        if class_ids.ndim != 1 or class_ids.dtype.is_floating_point:
            raise ValueError(f"class_ids must be a 1-D integer tensor, got shape {tuple(class_ids.shape)} "
                             f"dtype {class_ids.dtype}")
        if theta0.ndim != 2 or theta0.shape != (class_ids.shape[0], self.cfg.state_size):
            raise ValueError(
                f"theta0 must have shape (batch, n + n_cond) = ({class_ids.shape[0]}, {self.cfg.state_size}), "
                f"got {tuple(theta0.shape)}"
            )
        if class_ids.numel() and (int(class_ids.min()) < 0 or int(class_ids.max()) >= self.cfg.num_classes):
            raise ValueError(f"class ids must be in 0..{self.cfg.num_classes - 1}, got "
                             f"{int(class_ids.min())}..{int(class_ids.max())}")
        return class_ids.long()

    def integrate(self, class_ids, theta0: torch.Tensor, return_trajectory: bool = False,
                  drive_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Integrate from theta0 (B, n+m); final state, or the (steps+1, B, n+m) trajectory."""
        class_ids = self._check_inputs(class_ids, theta0)
        cfg = self.cfg
        x = theta0
        traj = [x] if return_trajectory else None
        if cfg.num_steps == 0:
            return torch.stack(traj) if traj is not None else x
        # Sort the batch by class once, so each class's drive acts on a contiguous row range; undo at the end.
        order = torch.argsort(class_ids, stable=True)
        inverse = torch.argsort(order)
        keep = None if drive_keep is None else drive_keep[order]
        v = self.dynamics.velocity_fn(class_ids[order], keep)
        step = SOLVER_STEPS[cfg.solver]
        x = x[order]
        for _ in range(cfg.num_steps):
            x = step(v, x, cfg.dt)
            if traj is not None:
                traj.append(x[inverse])
        return torch.stack(traj) if traj is not None else x[inverse]

    def features(self, theta: torch.Tensor) -> torch.Tensor:
        """Readout of the main phases theta[:, :n]: relativise, then encode (sin block first)."""
        th = theta[:, : self.cfg.n]
        rel = self.cfg.relativization
        if rel == "mean_relative":
            th = th - th.mean(dim=1, keepdim=True)
        elif rel == "ref_oscillator":
            th = th - th[:, :1]
        enc = self.cfg.encoding
        if enc == "sin_cos":
            return torch.cat([torch.sin(th), torch.cos(th)], dim=1)
        if enc == "sin":
            return torch.sin(th)
        return th

    def decode(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, features) -> (B, 3, H, W) in [-1, 1]."""
        return self.decoder(feats)

    def forward(self, class_ids, theta0: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Generate images. In training mode applies class dropout (keep-mask drawn after the phases).

        On the CPU it runs with as many intra-op threads as there are idle cores, up to
        torch.get_num_threads() (model.cpu_threads: a wider pool collapses on a loaded machine).
        """
        class_ids = torch.as_tensor(class_ids, device=self.dynamics.K.device)
        if theta0 is None:
            theta0 = self.initial_phases(class_ids.shape[0], generator)
        keep = None
        if self.training and self.cfg.class_dropout_prob > 0:
            keep = torch.rand(class_ids.shape[0], generator=generator, device=theta0.device) >= (
                self.cfg.class_dropout_prob
            )
        cpu = theta0.device.type == "cpu"
        with load_aware_threads() if cpu else contextlib.nullcontext():
            theta = self.integrate(class_ids, theta0, drive_keep=keep)
            return self.decode(self.features(theta))


def order_parameter(theta: torch.Tensor) -> torch.Tensor:
    """Kuramoto order parameter r = |mean_j exp(i theta_j)| over the last dim."""
    return torch.sqrt(torch.cos(theta).mean(-1) ** 2 + torch.sin(theta).mean(-1) ** 2)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] generator output -> [0, 1] (as Un-0's sample_images)."""
    return ((images + 1) / 2).clamp(0, 1)
