"""Behavioural model of an analog coupled-oscillator array running the learned Un-0 equations.

The float model (model/un0.py) integrates, with x = [theta (n) ; phi (n_cond)],

    dtheta_i/dt = omega_i  + sum_j K_ij sin(theta_j - theta_i) + sum_m D^(c)_im sin(phi_m - theta_i)
    dphi_m/dt   = omega'_m + sum_l Kc_ml sin(phi_l - phi_m)

for ``num_steps`` Euler steps of T/num_steps (un0-model.md sections 1-6). A chip integrates the same
equations in continuous time with its own imperfections. This module models them, each a field of
:class:`AnalogParams` (units, typical range and source in ``PARAMETERS``; docs/analog.md):

* integration: ``integrator="euler"`` is the trained schedule (num_steps steps of T/num_steps);
  ``"ode"`` is continuous time to T with torchdiffeq's adaptive Dormand-Prince 5(4) ("dopri5");
* frequency mismatch: omega_i + 2 pi N sigma_f eps_i, eps ~ N(0, 1) per chip (N = oscillation cycles
  in one model run, roadmap fact sheet §6b: a relative detuning df/f0 is 2 pi N df/f0 rad per T);
* coupling precision: per-row symmetric quantization of K, D, Kc to ``coupling_bits`` (DAC levels);
* coupling mismatch: every coupler scaled by (1 + sigma_K eps_ij) per chip; a global gain error; a
  slow linear drift of all couplers over the run, K(t) = K (1 + drift t / T);
* coupler waveform: the coupling function Gamma(d) = sum_k b_k sin(k (d - alpha)) replaces sin(d):
  sine (b_1 = 1), square-like (b_k = 1/k, odd k: the Fourier series of sign(sin d), 4/pi dropped so the
  fundamental is the trained one), triangle-like (b_k = (-1)^((k-1)/2) / k^2, likewise), truncated after
  ``harmonics`` odd terms (a ring-oscillator coupler's bandwidth); alpha is a Sakaguchi phase lag
  (a coupler delay, so harmonic k lags by k alpha);
* phase noise: an additive Wiener term, dtheta = v dt + sigma_phi / sqrt(T) dW, integrated by
  Euler-Maruyama (x += h v + sigma_phi sqrt(h/T) xi, xi ~ N(0, 1)); step h = the Euler step under the
  trained schedule, T/``sde_steps`` in continuous time. Var(theta(t)) grows as sigma_phi^2 t / T;
* readout: each oscillator is sampled at T + dt_i with 2 pi f0 dt_i ~ N(0, jitter^2) (carrier phase error
  jitter * eps_i plus the model-frame motion v_i dt_i), then an ADC of ``adc_bits`` per turn: the turn count
  is exact (a cycle counter) and the phase within the turn is rounded to 2 pi / 2^bits.

Static deviations are drawn from ``chip_seed`` (one chip = one seed, independent of which
non-idealities are switched on); noise and jitter from the generator passed to :meth:`AnalogArray.run`.
All state is float64 radians (unwrapped).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .analog_params import INTEGRATORS, PARAMETERS, TYPICAL_CMOS, WAVEFORMS, AnalogParams  # noqa: F401 (re-export)


def waveform_harmonics(waveform: str, harmonics: int) -> list[tuple[int, float]]:
    """(k, b_k) of the coupling function Gamma(d) = sum_k b_k sin(k d), fundamental b_1 = 1.

    square: sign(sin d) = (4/pi) sum_{k odd} sin(k d) / k; triangle: (8/pi^2) sum_{k odd} (-1)^((k-1)/2)
    sin(k d) / k^2 (standard Fourier series); the leading constant is dropped so the fundamental equals the
    trained sine coupling and only the harmonic content differs. ``harmonics`` odd terms are kept.
    """
    if waveform == "sine":
        return [(1, 1.0)]
    ks = [2 * i + 1 for i in range(harmonics)]
    if waveform == "square":
        return [(k, 1.0 / k) for k in ks]
    if waveform == "triangle":
        return [(k, (-1.0) ** ((k - 1) // 2) / k**2) for k in ks]
    raise ValueError(f"waveform must be one of {WAVEFORMS}, got {waveform!r}")


def coupling_function(delta: torch.Tensor, waveform: str = "sine", harmonics: int = 4,
                      phase_lag: float = 0.0) -> torch.Tensor:
    """Gamma(delta) = sum_k b_k sin(k (delta - phase_lag)), elementwise (shape of ``delta``)."""
    out = torch.zeros_like(delta)
    for k, b in waveform_harmonics(waveform, harmonics):
        out = out + b * torch.sin(k * (delta - phase_lag))
    return out


def quantize_rows(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric uniform quantization with one scale per output row (last dim = inputs).

    scale_row = max|w_row| / (2^(bits-1) - 1); levels -(2^(bits-1)-1)..2^(bits-1)-1 (2 bits: -1, 0, 1).
    bits = 0 returns ``w`` unchanged. Works on (..., rows, inputs).
    """
    if bits == 0:
        return w
    qmax = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=-1, keepdim=True) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(w / scale).clamp(-qmax, qmax) * scale


def adc_quantize(theta: torch.Tensor, bits: int) -> torch.Tensor:
    """Unwrapped phase -> exact turn count + phase within the turn rounded to 2 pi / 2^bits (0: unchanged)."""
    if bits == 0:
        return theta
    lsb = 2 * math.pi / 2**bits
    return torch.round(theta / lsb) * lsb


@dataclass
class RunStats:
    nfe: int = 0  # velocity evaluations
    steps: int = 0  # integrator steps (fixed-step schemes)


class AnalogArray:
    """One chip programmed with a trained model: its couplings, frequencies and static deviations.

    ``model``: an OscillatorGenerator (model/un0.py); only its dynamics are used. Static deviations are drawn
    from ``params.chip_seed`` in a fixed order (frequencies, K, D, Kc), every one of them whether used or not,
    so switching one non-ideality on leaves the others' draws unchanged.
    """

    def __init__(self, model, params: AnalogParams | None = None, dtype: torch.dtype = torch.float64):
        self.params = p = params or AnalogParams()
        self.cfg = cfg = model.cfg
        self.dtype = dtype
        with torch.no_grad():
            eff = {k: v.detach().to("cpu", dtype) for k, v in model.effective_params().items()}
        self.n, self.m = cfg.n, cfg.n_cond
        g = torch.Generator().manual_seed(p.chip_seed)
        e_om = torch.randn(self.n + self.m, generator=g, dtype=dtype)
        e_k = torch.randn(self.n, self.n, generator=g, dtype=dtype)
        e_d = torch.randn(cfg.num_classes, self.n, self.m, generator=g, dtype=dtype)
        e_kc = torch.randn(self.m, self.m, generator=g, dtype=dtype)
        #: natural-frequency deviation (rad per T) of each oscillator: 2 pi N sigma_f eps
        self.delta_omega = 2 * math.pi * p.cycles_per_run * p.freq_mismatch * e_om
        self.omega = torch.cat([eff["omega"], eff["omega_cond"]]) + self.delta_omega
        gain = 1.0 + p.coupling_gain

        def program(w, eps):
            return quantize_rows(w, p.coupling_bits) * (1.0 + p.coupling_mismatch * eps) * gain

        self.K = program(eff["K"], e_k)
        self.K_drive = program(eff["K_drive"], e_d)
        self.K_cond = program(eff["K_cond"], e_kc)
        self.harmonics = waveform_harmonics(p.waveform, p.harmonics)

    # ---- dynamics -------------------------------------------------------------------------------
    def velocity_fn(self, class_ids: torch.Tensor, stats: RunStats | None = None):
        """v(t, x) for a batch with labels class_ids (B,); t in model time units (T = cfg.T)."""
        n, p = self.n, self.params
        Kt, Kct = self.K.t(), self.K_cond.t()
        D = self.K_drive[class_ids]  # (B, n, m)
        T = self.cfg.T

        def v(t, x):
            if stats is not None:
                stats.nfe += 1
            acc = torch.zeros_like(x)
            for k, b in self.harmonics:
                kx = k * x
                s, c = torch.sin(kx), torch.cos(kx)
                s_th, c_th, s_ph, c_ph = s[:, :n], c[:, :n], s[:, n:], c[:, n:]
                # sum_j K_ij sin(k th_j - k th_i - k a) = cos(k th_i + k a) (K sin k th)_i - sin(..) (K cos k th)_i
                S = s_th @ Kt + torch.bmm(D, s_ph.unsqueeze(-1)).squeeze(-1)
                C = c_th @ Kt + torch.bmm(D, c_ph.unsqueeze(-1)).squeeze(-1)
                Sc, Cc = s_ph @ Kct, c_ph @ Kct
                if p.phase_lag:
                    kx = kx + k * p.phase_lag
                    s, c = torch.sin(kx), torch.cos(kx)
                    s_th, c_th, s_ph, c_ph = s[:, :n], c[:, :n], s[:, n:], c[:, n:]
                acc[:, :n] += b * (c_th * S - s_th * C)
                acc[:, n:] += b * (c_ph * Sc - s_ph * Cc)
            g = 1.0 + p.coupling_drift * (float(t) / T)
            return self.omega + g * acc

        return v

    # ---- integration ------------------------------------------------------------------------------
    def run(self, class_ids, theta0: torch.Tensor, generator: torch.Generator | None = None,
            duration: float | None = None, euler_steps: int | None = None,
            stats: RunStats | None = None) -> torch.Tensor:
        """Integrate from theta0 (B, n+m) radians and read out; returns (B, n+m) unwrapped radians.

        ``duration`` (model time, default cfg.T) is scaled by run_length. Under the Euler schedule the step is
        cfg.dt (so ``euler_steps`` = duration / dt steps; default cfg.num_steps). ``generator`` draws the phase
        noise and readout jitter (default: one seeded from noise_seed).
        """
        p, cfg = self.params, self.cfg
        class_ids = torch.as_tensor(class_ids, dtype=torch.long).reshape(-1)
        x = torch.as_tensor(theta0).to(self.dtype)
        if x.ndim != 2 or x.shape != (class_ids.shape[0], self.n + self.m):
            raise ValueError(f"theta0 must have shape (batch, n + n_cond) = ({class_ids.shape[0]}, {self.n + self.m}),"
                             f" got {tuple(x.shape)}")
        if class_ids.numel() and (int(class_ids.min()) < 0 or int(class_ids.max()) >= cfg.num_classes):
            raise ValueError(f"class ids must be in 0..{cfg.num_classes - 1}")
        if generator is None:
            generator = torch.Generator().manual_seed(p.noise_seed)
        stats = stats if stats is not None else RunStats()
        if euler_steps is None:
            euler_steps = cfg.num_steps if duration is None else int(round(duration / cfg.dt))
        duration = cfg.T if duration is None else float(duration)
        t_end = duration * p.run_length
        v = self.velocity_fn(class_ids, stats)
        sig = p.phase_noise / math.sqrt(cfg.T)  # Wiener amplitude: Var = sig^2 t
        with torch.no_grad():
            if p.integrator == "euler" or (p.integrator == "ode" and p.phase_noise > 0):
                steps = euler_steps if p.integrator == "euler" else max(1, math.ceil(p.sde_steps * t_end / cfg.T))
                h = t_end / steps if steps else 0.0
                for i in range(steps):
                    x = x + h * v(i * h, x)
                    if p.phase_noise > 0:
                        x = x + sig * math.sqrt(h) * torch.randn(x.shape, generator=generator, dtype=x.dtype)
                stats.steps += steps
            else:
                from torchdiffeq import odeint

                ts = torch.tensor([0.0, t_end], dtype=self.dtype)
                x = odeint(v, x, ts, method="dopri5", rtol=p.rtol, atol=p.atol)[-1]
            if p.readout_jitter > 0:
                eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
                # carrier phase error jitter * eps, plus the model-frame motion over dt_i = jitter eps T / (2 pi N)
                dt_i = p.readout_jitter * eps * cfg.T / (2 * math.pi * p.cycles_per_run)
                x = x + p.readout_jitter * eps + v(t_end, x) * dt_i
            return adc_quantize(x, p.adc_bits)


def ideal_run(model, class_ids, theta0: torch.Tensor) -> torch.Tensor:
    """The float model's Euler schedule in float64 from theta0 (the reference every sweep compares with)."""
    return AnalogArray(model, AnalogParams()).run(class_ids, theta0)
