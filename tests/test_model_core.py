"""Behaviour of the reference generator: configs, equations, solvers, conditioning, readout, decoder."""

import math

import pytest
import torch

from model.config import (
    CONFIGS,
    RELEASED_PARAM_COUNTS,
    ModelConfig,
    coupling_scales,
    get_config,
    param_count,
    state_dict_shapes,
)
from model.un0 import OscillatorGenerator, order_parameter

SMALL = ModelConfig(name="t-small", n=16, n_cond=3, num_classes=4, image_size=8,
                    decoder_in_channels=2, dataset="cifar10")


def small_model(cfg=SMALL, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return OscillatorGenerator(cfg).to(dtype).eval()


# ---------------------------------------------------------------- configs and parameter counts
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_param_count_matches_built_model(name):
    cfg = get_config(name)
    with torch.device("meta"):
        m = OscillatorGenerator(cfg)
    built = sum(p.numel() for p in m.parameters())
    assert built == param_count(cfg)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == state_dict_shapes(cfg)
    if name in RELEASED_PARAM_COUNTS:
        assert built == RELEASED_PARAM_COUNTS[name]
    assert cfg.decoder_in_channels == 2 * cfg.n // 16


def test_release_settings():
    c = get_config("cifar10-n1024")
    assert (c.solver, c.num_steps, c.T, c.relativization, c.parameterization, c.encoding, c.init_output_gain) == (
        "euler", 10, 1.0, "mean_relative", "standard", "sin_cos", 0.5)
    assert math.isclose(c.dt, 0.1)
    i = get_config("imagenet64-n16384")
    assert (i.relativization, i.parameterization, i.init_output_gain, i.n_cond, i.num_classes, i.image_size) == (
        "ref_oscillator", "mup", 1.0, 1, 1000, 64)
    assert i.num_decoder_blocks == 4 and c.num_decoder_blocks == 3
    assert coupling_scales(i) == (16384**-0.5, 1.0, 1.0)
    assert coupling_scales(c) == (1.0, 1.0, 1.0)


def test_config_errors():
    with pytest.raises(ValueError, match="cifar10-n1024"):
        get_config("cifar10-n1023")
    d = get_config("cifar10-n64").to_dict()
    assert ModelConfig.from_dict(d) == get_config("cifar10-n64")
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({**d, "bogus": 1})
    with pytest.raises(ValueError, match="decoder_in_channels"):
        ModelConfig.from_dict({**d, "decoder_in_channels": 7})
    with pytest.raises(ValueError, match="solver"):
        ModelConfig.from_dict({**d, "solver": "dopri5"})
    with pytest.raises(ValueError, match="init_drive_scale must be a finite number >= 0"):
        ModelConfig.from_dict({**d, "init_drive_scale": -1.0})
    del d["init_drive_scale"]  # configs saved before the field existed load with its default (Un-0's init)
    assert ModelConfig.from_dict(d).init_drive_scale == 1.0


def test_drive_init_scale_multiplies_only_the_drive():
    cfg = get_config("cifar10-n64")
    torch.manual_seed(0)
    base = OscillatorGenerator(cfg).state_dict()
    torch.manual_seed(0)
    strong = OscillatorGenerator(cfg.replace(init_drive_scale=5.0)).state_dict()
    for k, v in base.items():
        if k == "dynamics.K_drive":
            assert torch.allclose(strong[k], 5 * v)
        else:
            assert torch.equal(strong[k], v), k


def test_init_statistics_and_mup_equivalence():
    cfg = get_config("cifar10-n256")
    torch.manual_seed(0)
    std_model = OscillatorGenerator(cfg)
    torch.manual_seed(0)
    mup_model = OscillatorGenerator(cfg.replace(parameterization="mup"))
    K = std_model.dynamics.K.detach()
    assert torch.all(torch.diagonal(K) == 0)
    off = K[~torch.eye(cfg.n, dtype=torch.bool)]
    assert abs(off.std().item() - cfg.n**-0.5) < 0.05 * cfg.n**-0.5
    assert abs(std_model.dynamics.K_drive.std().item() - cfg.n_cond**-0.5) < 0.05 * cfg.n_cond**-0.5
    # mup stores unscaled N(0,1) weights but the forward starts identical
    a, b = std_model.effective_params(), mup_model.effective_params()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)
    assert abs(mup_model.dynamics.K.detach()[~torch.eye(cfg.n, dtype=torch.bool)].std().item() - 1) < 0.05


# ---------------------------------------------------------------- equations
def naive_velocity(model, x, class_ids):
    """Pairwise double loop straight from the equations, float64."""
    p = {k: v.detach() for k, v in model.effective_params().items()}
    n, m = model.cfg.n, model.cfg.n_cond
    out = torch.zeros_like(x)
    for b in range(x.shape[0]):
        th, ph = x[b, :n], x[b, n:]
        D = p["K_drive"][class_ids[b]]
        for i in range(n):
            s = p["omega"][i]
            for j in range(n):
                s = s + p["K"][i, j] * torch.sin(th[j] - th[i])
            for mm in range(m):
                s = s + D[i, mm] * torch.sin(ph[mm] - th[i])
            out[b, i] = s
        for mm in range(m):
            s = p["omega_cond"][mm]
            for ll in range(m):
                s = s + p["K_cond"][mm, ll] * torch.sin(ph[ll] - ph[mm])
            out[b, n + mm] = s
    return out


@pytest.mark.parametrize("classes", [[2, 2, 2], [0, 3, 1, 3], [0, 0, 1, 3]])
def test_velocity_matches_naive_pairwise_sum(classes):
    model = small_model(SMALL.replace(parameterization="mup"))
    with torch.no_grad():  # put junk on the diagonals: it must be ignored
        model.dynamics.K.diagonal().fill_(5.0)
        model.dynamics.K_cond.diagonal().fill_(-3.0)
    cls = torch.tensor(classes)
    x = model.initial_phases(len(classes), torch.Generator().manual_seed(1)) * 3  # also unwrapped phases
    with torch.no_grad():
        got = model.dynamics(x, cls)
    torch.testing.assert_close(got, naive_velocity(model, x, cls), rtol=1e-12, atol=1e-12)


def test_diagonal_of_K_changes_nothing():
    model = small_model(dtype=torch.float32)
    cls = torch.tensor([0, 1, 2, 3, 1])
    th0 = model.initial_phases(5, torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(cls, th0)
        model.dynamics.K.diagonal().copy_(torch.randn(SMALL.n) * 10)
        model.dynamics.K_cond.diagonal().copy_(torch.randn(SMALL.n_cond) * 10)
        assert torch.equal(model(cls, th0), ref)
    # and the diagonal receives no gradient
    model.zero_grad()
    model(cls, th0).sum().backward()
    assert torch.all(model.dynamics.K.grad.diagonal() == 0)
    assert model.dynamics.K.grad.abs().sum() > 0


def test_conditioning_is_one_way():
    model = small_model()
    cls = torch.tensor([0, 1, 2, 3])
    g = torch.Generator().manual_seed(0)
    th0 = model.initial_phases(4, g)
    n = SMALL.n
    with torch.no_grad():
        traj = model.integrate(cls, th0, return_trajectory=True)
        th1 = th0.clone()
        th1[:, :n] = torch.rand(4, n, generator=g, dtype=th0.dtype) * 6
        model.dynamics.K.mul_(-3)
        model.dynamics.K_drive.mul_(7)
        traj2 = model.integrate(torch.tensor([3, 2, 1, 0]), th1, return_trajectory=True)
    assert torch.equal(traj[..., n:], traj2[..., n:])  # conditioning block untouched, bit for bit
    assert not torch.allclose(traj[-1, :, :n], traj2[-1, :, :n])


def test_grouped_drive_equals_per_sample_gather():
    model = small_model()
    cls = torch.tensor([3, 0, 3, 1, 0, 2, 2])
    x = model.initial_phases(7, torch.Generator().manual_seed(5))
    p = model.effective_params()
    n = SMALL.n
    th, ph = x[:, :n], x[:, n:]
    D = p["K_drive"][cls]  # (B, n, m)
    drive = torch.cos(th) * torch.einsum("bnm,bm->bn", D, torch.sin(ph)) - torch.sin(th) * torch.einsum(
        "bnm,bm->bn", D, torch.cos(ph))
    with torch.no_grad():
        full = model.dynamics(x, cls)
        no_drive = model.dynamics(x, cls, drive_keep=torch.zeros(7, dtype=torch.bool))
    torch.testing.assert_close(full[:, :n] - no_drive[:, :n], drive.detach(), rtol=1e-12, atol=1e-12)


def test_batch_sorting_is_invisible():
    """integrate() sorts labels internally; results must equal integrating each sample alone."""
    model = small_model()
    cls = torch.tensor([3, 0, 2, 0, 3, 1])
    th0 = model.initial_phases(6, torch.Generator().manual_seed(8))
    keep = torch.tensor([True, False, True, True, False, True])
    with torch.no_grad():
        traj = model.integrate(cls, th0, return_trajectory=True, drive_keep=keep)
        for b in range(6):
            one = model.integrate(cls[b:b + 1], th0[b:b + 1], return_trajectory=True, drive_keep=keep[b:b + 1])
            torch.testing.assert_close(traj[:, b:b + 1], one, rtol=1e-12, atol=1e-12)
        assert torch.equal(traj[-1], model.integrate(cls, th0, drive_keep=keep))


def test_class_dropout_training_only_and_reproducible():
    cfg = SMALL.replace(class_dropout_prob=0.5)
    model = small_model(cfg)
    cls = torch.tensor([0, 1, 2, 3] * 4)
    with torch.no_grad():
        model.train()
        out = model(cls, generator=torch.Generator().manual_seed(11))
        # same result by hand: phases first, then the keep-mask (uniform >= p), from one generator
        g = torch.Generator().manual_seed(11)
        th0 = model.initial_phases(16, g)
        keep = torch.rand(16, generator=g) >= 0.5
        assert 0 < keep.sum() < 16
        manual = model.decode(model.features(model.integrate(cls, th0, drive_keep=keep)))
        assert torch.equal(out, manual)
        model.eval()
        ev = model(cls, th0)
        full = model.decode(model.features(model.integrate(cls, th0)))
        assert torch.equal(ev, full)
        assert not torch.allclose(ev, out)
        # dropped samples equal a model with the drive zeroed
        model.dynamics.K_drive.zero_()
        zero = model(cls, th0)
        assert torch.allclose(out[~keep], zero[~keep]) and not torch.allclose(out[keep], zero[keep])


# ---------------------------------------------------------------- solvers
def _with(cfg_changes, model):
    m2 = OscillatorGenerator(model.cfg.replace(**cfg_changes)).to(torch.float64)
    m2.load_state_dict(model.state_dict())
    return m2.eval()


def test_solver_convergence_orders():
    model = small_model(SMALL.replace(T=1.0))
    cls = torch.tensor([0, 1, 2])
    th0 = model.initial_phases(3, torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = _with({"solver": "rk4", "num_steps": 1000}, model).integrate(cls, th0)  # 1000 = MAX_STEPS

        def err(solver, steps):
            return (_with({"solver": solver, "num_steps": steps}, model).integrate(cls, th0) - ref).abs().max().item()

        r_euler = err("euler", 64) / err("euler", 128)
        r_rk4 = err("rk4", 16) / err("rk4", 32)
    assert 1.8 < r_euler < 2.2, r_euler
    assert 13 < r_rk4 < 19, r_rk4


@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_matches_torchdiffeq_odeint(solver):
    torchdiffeq = pytest.importorskip("torchdiffeq")
    model = _with({"solver": solver, "num_steps": 10}, small_model())
    cls = torch.tensor([1, 3, 3, 0])
    th0 = model.initial_phases(4, torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours = model.integrate(cls, th0, return_trajectory=True)
        v = model.dynamics.velocity_fn(cls)
        t = torch.linspace(0, model.cfg.T, model.cfg.num_steps + 1, dtype=torch.float64)
        theirs = torchdiffeq.odeint(lambda _t, x: v(x), th0, t, method=solver,
                                    options={"step_size": model.cfg.dt})
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_euler_is_explicit_update():
    model = small_model()
    cls = torch.tensor([2])
    th0 = model.initial_phases(1, torch.Generator().manual_seed(9))
    with torch.no_grad():
        x = th0
        for _ in range(10):
            x = x + 0.1 * model.dynamics(x, cls)
        assert torch.equal(model.integrate(cls, th0), x)
        assert torch.equal(_with({"num_steps": 0}, model).integrate(cls, th0), th0)


# ---------------------------------------------------------------- synchronisation (physics sanity)
@pytest.mark.parametrize("coupling,expect_sync", [(8.0, True), (0.3, False)])
def test_all_to_all_synchronisation(coupling, expect_sync):
    n = 256
    cfg = ModelConfig(name="sync", n=n, n_cond=1, num_classes=1, image_size=8, decoder_in_channels=32,
                      dataset="cifar10", num_steps=300, T=30.0)
    model = small_model(cfg)
    with torch.no_grad():
        # critical coupling for N(0,1) frequencies: K_c = 2 / (pi g(0)) = sqrt(8/pi) ~ 1.6
        model.dynamics.omega.copy_(torch.randn(1, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        model.dynamics.K.fill_(coupling / n)
        model.dynamics.K_drive.zero_()
        th0 = model.initial_phases(4, torch.Generator().manual_seed(1))
        r0 = order_parameter(th0[:, :n])
        r = order_parameter(model.integrate(torch.zeros(4, dtype=torch.long), th0)[:, :n])
    assert r0.max() < 0.25
    if expect_sync:
        assert r.min() > 0.9, r
    else:
        assert r.max() < 0.25, r


# ---------------------------------------------------------------- readout and decoder
def test_readout_modes():
    cfg = SMALL
    model = small_model(cfg)
    th = torch.randn(2, cfg.state_size, dtype=torch.float64) * 5
    n = cfg.n
    f = model.features(th)
    rel = th[:, :n] - th[:, :n].mean(1, keepdim=True)
    torch.testing.assert_close(f, torch.cat([rel.sin(), rel.cos()], 1))  # sin block first
    # invariant to a global rotation of the main phases; the conditioning phases are not read
    th2 = th.clone()
    th2[:, :n] += 1.234
    th2[:, n:] = 0
    torch.testing.assert_close(model.features(th2), f)
    ref = _with({"relativization": "ref_oscillator"}, model).features(th)
    assert torch.allclose(ref[:, 0], torch.zeros(2, dtype=torch.float64)) and torch.allclose(
        ref[:, n], torch.ones(2, dtype=torch.float64))
    absm = OscillatorGenerator(cfg.replace(relativization="absolute", encoding="raw", decoder_in_channels=1))
    torch.testing.assert_close(absm.features(th), th[:, :n])


def test_decoder_layout_and_init():
    cfg = get_config("cifar10-n1024")
    torch.manual_seed(0)
    m = OscillatorGenerator(cfg)
    dec = m.decoder
    assert [b.net[1].out_channels for b in dec.cascade] == [64, 32, 32]
    assert isinstance(dec.cascade[0].net[0], torch.nn.Upsample)
    assert dec.cascade[0].net[2].negative_slope == 0.2
    # Kaiming normal (a=0.2, fan_in): std = sqrt(2/(1+a^2))/sqrt(fan_in)
    w = dec.cascade[0].net[1].weight
    expect = math.sqrt(2 / 1.04) / math.sqrt(128 * 9)
    assert abs(w.std().item() - expect) < 0.05 * expect
    assert torch.all(dec.cascade[0].net[1].bias == 0) and torch.all(dec.to_output.bias == 0)
    h = dec.to_output.weight
    expect_head = 5 / 3 * 0.5 * math.sqrt(2 / (32 * 9 + 3 * 9))
    assert abs(h.std().item() - expect_head) < 0.1 * expect_head
    # channel-major reshape: feature f -> channel f // 16, pixel f % 16
    feats = torch.zeros(1, 2 * cfg.n)
    feats[0, 16 * 5 + 7] = 1.0
    grid = feats.reshape(1, 128, 4, 4)
    assert grid[0, 5, 1, 3] == 1.0
    with torch.no_grad():
        img = m(torch.tensor([0, 9]), generator=torch.Generator().manual_seed(0))
    assert img.shape == (2, 3, 32, 32) and img.abs().max() <= 1


def test_bad_inputs_raise_clear_errors():
    model = small_model()
    th0 = model.initial_phases(2)
    with pytest.raises(ValueError, match="class ids must be in 0..3"):
        model.integrate(torch.tensor([0, 4]), th0)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        model.integrate(torch.tensor([0, 1, 2]), th0)


@pytest.mark.parametrize("name", ["cifar10-n1024", "cifar10-n64"])
def test_fast_inference_decoder_matches_literal_layers(name):
    torch.manual_seed(1)
    m = OscillatorGenerator(get_config(name)).eval()
    feats = torch.randn(3, m.cfg.num_features).sin()
    literal = m.decode(feats)  # grad enabled -> Un-0's literal upsample / conv sequence
    with torch.no_grad():
        fast = m.decode(feats)
    assert literal.requires_grad and not fast.requires_grad
    torch.testing.assert_close(fast, literal.detach(), rtol=0, atol=2e-5)
    # the transposed-conv identity itself, in float64 on a 64 px ImageNet-sized block count
    m64 = OscillatorGenerator(ModelConfig(name="t64", n=64, n_cond=1, num_classes=2, image_size=64,
                                          decoder_in_channels=8, dataset="imagenet64")).double().eval()
    f64 = torch.randn(2, 128, dtype=torch.float64)
    lit = m64.decode(f64).detach()
    with torch.no_grad():
        torch.testing.assert_close(m64.decode(f64), lit, rtol=0, atol=1e-12)


def test_gradients_match_straightforward_implementation():
    """Training backpropagates through the in-place grouped drive exactly like a plain einsum version."""
    model = small_model()
    cls = torch.tensor([1, 3, 1, 0, 2])
    th0 = model.initial_phases(5, torch.Generator().manual_seed(6))
    keep = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    n = SMALL.n

    def plain(x):
        p = model.effective_params()
        D = p["K_drive"][cls] * keep.view(-1, 1, 1)
        for _ in range(SMALL.num_steps):
            th, ph = x[:, :n], x[:, n:]
            dth = p["omega"] + torch.cos(th) * (torch.sin(th) @ p["K"].t() + torch.einsum("bnm,bm->bn", D, torch.sin(ph))) \
                - torch.sin(th) * (torch.cos(th) @ p["K"].t() + torch.einsum("bnm,bm->bn", D, torch.cos(ph)))
            dph = p["omega_cond"] + torch.cos(ph) * (torch.sin(ph) @ p["K_cond"].t()) - torch.sin(ph) * (
                torch.cos(ph) @ p["K_cond"].t())
            x = x + SMALL.dt * torch.cat([dth, dph], 1)
        return x

    w = torch.randn(5, SMALL.state_size, dtype=torch.float64)
    (model.integrate(cls, th0, drive_keep=keep.bool()) * w).sum().backward()
    ours = {k: p.grad.clone() for k, p in model.dynamics.named_parameters()}
    model.zero_grad()
    (plain(th0) * w).sum().backward()
    for k, p in model.dynamics.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, rtol=1e-10, atol=1e-12, msg=k)
    assert ours["K_drive"][2].abs().sum() > 0 and ours["K_drive"][1].abs().sum() > 0
