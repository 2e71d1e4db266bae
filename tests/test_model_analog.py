"""The analog behavioural model (model/analog.py): each non-ideality's effect at a known setting."""
import math
import os

import pytest

torch = pytest.importorskip("torch")

from model.analog import (AnalogArray, AnalogParams, RunStats, adc_quantize, coupling_function,  # noqa: E402
                          quantize_rows, waveform_harmonics)
from model.config import ModelConfig, get_config  # noqa: E402
from model.un0 import OscillatorGenerator  # noqa: E402

CKPT = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "cifar10-n1024.safetensors")


def _model(name="cifar10-n64", seed=0):
    torch.manual_seed(seed)
    return OscillatorGenerator(get_config(name)).double().eval()


def _uncoupled(model):
    with torch.no_grad():
        for p in (model.dynamics.K, model.dynamics.K_cond, model.dynamics.K_drive):
            p.zero_()
    return model


def _phases(model, batch, seed=1):
    return model.initial_phases(batch, torch.Generator().manual_seed(seed))


def test_ideal_euler_reproduces_float_model(one_torch_thread):
    m = _model()
    x0, cls = _phases(m, 6), torch.tensor([0, 3, 9, 3, 1, 0])
    ref = m.integrate(cls, x0).detach()
    assert (AnalogArray(m).run(cls, x0) - ref).abs().max() < 1e-10
    # the float32 model (what sampling runs) within 1e-4
    m32 = _model().float()
    ref32 = m32.integrate(cls, x0.float()).detach().double()
    assert (AnalogArray(m32).run(cls, x0) - ref32).abs().max() < 1e-4


@pytest.mark.skipif(not os.path.exists(CKPT), reason="trained checkpoint not present")
def test_ideal_euler_reproduces_trained_checkpoint(one_torch_thread):
    from model.checkpoint import load_checkpoint

    m = load_checkpoint(CKPT)
    x0, cls = _phases(m, 3), torch.tensor([0, 5, 9])
    ref = m.integrate(cls, x0).detach().double()
    assert (AnalogArray(m).run(cls, x0.double()) - ref).abs().max() < 1e-4


def test_imagenet_layout_ideal_matches(one_torch_thread):
    cfg = ModelConfig(name="imagenet64-tiny", n=32, n_cond=1, num_classes=1000, image_size=8, decoder_in_channels=4,
                      dataset="imagenet64", relativization="ref_oscillator", parameterization="mup")
    torch.manual_seed(2)
    m = OscillatorGenerator(cfg).double().eval()
    x0, cls = _phases(m, 3), torch.tensor([980, 0, 999])
    assert (AnalogArray(m).run(cls, x0) - m.integrate(cls, x0).detach()).abs().max() < 1e-10


@pytest.mark.parametrize("integrator", ["euler", "ode"])
def test_frequency_mismatch_uncoupled_drifts_by_domega_T(integrator, one_torch_thread):
    m = _uncoupled(_model("cifar10-n256"))
    p = AnalogParams(integrator=integrator, freq_mismatch=0.002, cycles_per_run=50, chip_seed=7)
    chip = AnalogArray(m, p)
    x0, cls = _phases(m, 2), torch.tensor([1, 2])
    out = chip.run(cls, x0)
    omega = torch.cat([m.dynamics.omega.reshape(-1), m.dynamics.omega_cond.reshape(-1)]).detach()
    assert torch.allclose(out - x0, (omega + chip.delta_omega).expand(2, -1) * m.cfg.T, atol=1e-6)
    # sigma_omega = 2 pi N sigma_f (fact sheet §6b): 0.628 rad per T here
    assert chip.delta_omega.std().item() == pytest.approx(2 * math.pi * 50 * 0.002, rel=0.12)


def test_frequency_mismatch_coupled_equals_shifted_omega(one_torch_thread):
    """With couplings on, a chip with mismatch equals the float model whose omega is shifted by delta_omega."""
    m = _model()
    chip = AnalogArray(m, AnalogParams(freq_mismatch=0.001, chip_seed=3))
    x0, cls = _phases(m, 4), torch.tensor([0, 1, 2, 3])
    shifted = _model()
    with torch.no_grad():
        shifted.dynamics.omega += chip.delta_omega[:64]
        shifted.dynamics.omega_cond += chip.delta_omega[64:]
    ref = shifted.integrate(cls, x0).detach()
    assert (chip.run(cls, x0) - ref).abs().max() < 1e-10
    assert (chip.run(cls, x0) - m.integrate(cls, x0).detach()).abs().max() > 1e-2  # and it does move the phases


def test_phase_noise_variance_grows_linearly(one_torch_thread):
    m = _uncoupled(_model())
    sigma = 0.3
    chip = AnalogArray(m, AnalogParams(integrator="ode", phase_noise=sigma, sde_steps=64))
    x0 = _phases(m, 1500)
    cls = torch.zeros(1500, dtype=torch.long)
    omega = torch.cat([m.dynamics.omega.reshape(-1), m.dynamics.omega_cond.reshape(-1)]).detach()
    for frac in (0.25, 0.5, 1.0):
        t = frac * m.cfg.T
        out = chip.run(cls, x0, torch.Generator().manual_seed(11), duration=t)
        resid = out - x0 - omega * t
        assert resid.mean().abs() < 0.01
        assert resid.var().item() == pytest.approx(sigma**2 * frac, rel=0.03)
    # under the trained schedule too (Euler-Maruyama with the Euler step)
    euler = AnalogArray(m, AnalogParams(phase_noise=sigma)).run(cls, x0, torch.Generator().manual_seed(5))
    assert (euler - x0 - omega).var().item() == pytest.approx(sigma**2, rel=0.03)


def test_adc_error_bounded_by_half_lsb():
    x = torch.linspace(-40, 40, 200_001, dtype=torch.float64)
    for bits in (3, 6, 10):
        lsb = 2 * math.pi / 2**bits
        err = (adc_quantize(x, bits) - x).abs()
        assert err.max() <= lsb / 2 + 1e-12
        assert err.max() > 0.95 * lsb / 2  # the bound is reached, so the test can fail
        assert torch.allclose(torch.remainder(adc_quantize(x, bits) / lsb, 1.0).clamp(max=1e-9), torch.zeros(1).double())
    assert torch.equal(adc_quantize(x, 0), x)


def test_adc_on_the_array_output(one_torch_thread):
    m = _model()
    x0, cls = _phases(m, 3), torch.tensor([0, 1, 2])
    ideal = AnalogArray(m).run(cls, x0)
    q = AnalogArray(m, AnalogParams(adc_bits=5)).run(cls, x0)
    assert (q - ideal).abs().max() <= math.pi / 32 + 1e-12


def test_waveform_harmonics_documented_series():
    assert waveform_harmonics("sine", 9) == [(1, 1.0)]
    assert waveform_harmonics("square", 3) == [(1, 1.0), (3, 1 / 3), (5, 1 / 5)]
    assert waveform_harmonics("triangle", 3) == [(1, 1.0), (3, -1 / 9), (5, 1 / 25)]
    d = torch.linspace(-math.pi, math.pi, 4001, dtype=torch.float64)
    # many terms converge to the waveform (scaled so the fundamental is 1): square (pi/4) sign(sin d) away from the
    # jumps, triangle (pi^2/8) * tri(d) everywhere
    sq = coupling_function(d, "square", 400)
    away = (d.abs() > 0.1) & ((d.abs() - math.pi).abs() > 0.1)
    assert torch.allclose(sq[away], (math.pi / 4) * torch.sign(torch.sin(d[away])), atol=0.02)
    tri = (2 / math.pi) * torch.asin(torch.sin(d))  # unit triangle wave with the phase of sin
    assert torch.allclose(coupling_function(d, "triangle", 400), (math.pi**2 / 8) * tri, atol=2e-3)
    # the FFT of the truncated coupling function holds exactly the documented coefficients
    x = torch.arange(256, dtype=torch.float64) * 2 * math.pi / 256
    spec = torch.fft.rfft(coupling_function(x, "square", 4)) / 128
    for k in range(1, 12):
        want = 1 / k if (k % 2 and k <= 7) else 0.0
        assert -spec[k].imag.item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("kw", [dict(waveform="square"), dict(waveform="triangle", harmonics=3, phase_lag=0.2),
                                dict(coupling_drift=0.1, phase_lag=-0.1)])
def test_velocity_matches_direct_sum(kw, one_torch_thread):
    """The matmul form equals the O(n^2) sum omega_i + g(t) sum_j K_ij Gamma(theta_j - theta_i) + drive."""
    m = _model()
    chip = AnalogArray(m, AnalogParams(**kw))
    x = _phases(m, 2)
    cls = torch.tensor([4, 7])
    t = 0.6
    v = chip.velocity_fn(cls)(t, x)
    p = chip.params
    g = 1 + p.coupling_drift * t / m.cfg.T
    n = chip.n
    th, ph = x[:, :n], x[:, n:]

    def gam(d):
        return coupling_function(d, p.waveform, p.harmonics, p.phase_lag)

    for b in range(2):
        dth = (chip.K * gam(th[b][None, :] - th[b][:, None])).sum(1)
        dth += (chip.K_drive[cls[b]] * gam(ph[b][None, :] - th[b][:, None])).sum(1)
        dph = (chip.K_cond * gam(ph[b][None, :] - ph[b][:, None])).sum(1)
        ref = chip.omega + g * torch.cat([dth, dph])
        assert torch.allclose(v[b], ref, atol=1e-10)


def test_coupling_quantization_levels_and_error():
    w = torch.randn(50, 80, dtype=torch.float64)
    for bits in (2, 3, 5, 8):
        q = quantize_rows(w, bits)
        qmax = 2 ** (bits - 1) - 1
        scale = w.abs().amax(1, keepdim=True) / qmax
        levels = q / scale
        assert torch.allclose(levels, levels.round(), atol=1e-9) and levels.abs().max() <= qmax + 1e-9
        assert ((q - w).abs() <= scale / 2 + 1e-12).all()
    assert torch.equal(quantize_rows(w, 0), w)


def test_coupling_mismatch_gain_and_bits_program_the_chip():
    m = _model()
    K = m.effective_params()["K"].detach()
    a = AnalogArray(m, AnalogParams(coupling_mismatch=0.1, coupling_gain=-0.2, chip_seed=4))
    rel = (a.K / K - 1)[K != 0] + 0.2
    assert (rel / 0.8).std().item() == pytest.approx(0.1, rel=0.1)  # (1 + 0.1 eps) * 0.8
    b = AnalogArray(m, AnalogParams(coupling_bits=3))
    assert b.K.abs().div(b.K.abs().amax(1, keepdim=True)).mul(3).sub(
        b.K.abs().div(b.K.abs().amax(1, keepdim=True)).mul(3).round()).abs().max() < 1e-9


def test_chips_are_seeded_and_reproducible(one_torch_thread):
    m = _model()
    x0, cls = _phases(m, 2), torch.tensor([0, 1])
    p = AnalogParams(freq_mismatch=0.001, coupling_mismatch=0.05, phase_noise=0.1, chip_seed=5, noise_seed=9)
    a, b = AnalogArray(m, p).run(cls, x0), AnalogArray(m, p).run(cls, x0)
    assert torch.equal(a, b)
    assert not torch.equal(a, AnalogArray(m, p.replace(chip_seed=6)).run(cls, x0))
    assert not torch.equal(a, AnalogArray(m, p.replace(noise_seed=10)).run(cls, x0))
    # switching another non-ideality on does not redraw a chip's frequencies
    assert torch.equal(AnalogArray(m, p).delta_omega, AnalogArray(m, p.replace(coupling_mismatch=0.0)).delta_omega)


def test_readout_jitter_spread(one_torch_thread):
    m = _uncoupled(_model())
    with torch.no_grad():
        m.dynamics.omega.zero_()
        m.dynamics.omega_cond.zero_()
    x0 = _phases(m, 400)
    cls = torch.zeros(400, dtype=torch.long)
    out = AnalogArray(m, AnalogParams(readout_jitter=0.05)).run(cls, x0)
    assert (out - x0).std().item() == pytest.approx(0.05, rel=0.05)


def test_ode_integrator_converges_to_fine_euler(one_torch_thread):
    m = _model()
    x0, cls = _phases(m, 2), torch.tensor([2, 8])
    st = RunStats()
    ode = AnalogArray(m, AnalogParams(integrator="ode")).run(cls, x0, stats=st)
    fine = AnalogArray(m).run(cls, x0, duration=m.cfg.T, euler_steps=4000)
    assert (ode - fine).abs().max() < 2e-3  # Euler's O(h) error at h = T/4000
    assert st.nfe > 6


def test_run_length_scales_time(one_torch_thread):
    m = _uncoupled(_model())
    x0, cls = _phases(m, 1), torch.tensor([0])
    out = AnalogArray(m, AnalogParams(integrator="ode", run_length=1.1)).run(cls, x0)
    omega = torch.cat([m.dynamics.omega.reshape(-1), m.dynamics.omega_cond.reshape(-1)]).detach()
    assert torch.allclose(out - x0, 1.1 * omega[None], atol=1e-6)


@pytest.mark.parametrize("items,msg", [(["foo=1"], "NAME one of"), (["adc_bits=x"], "adc_bits needs an integer"),
                                       (["freq_mismatch=1e-3", "freq-mismatch=2e-3"], "freq_mismatch is given twice"),
                                       (["waveform=saw"], "waveform must be"), (["freq_mismatch=-1"], ">= 0"),
                                       (["coupling_bits=1"], "out of range"), (["noequals"], "NAME=VALUE")])
def test_bad_parameters_are_one_clear_error(items, msg):
    with pytest.raises(ValueError, match=msg):
        AnalogParams.from_assignments(items)


def test_assignments_parse():
    p = AnalogParams.from_assignments(["integrator=ode", "adc-bits=6", "freq_mismatch=1e-3", "waveform=square"])
    assert (p.integrator, p.adc_bits, p.freq_mismatch, p.waveform) == ("ode", 6, 1e-3, "square")
