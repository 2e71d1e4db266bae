"""Fixed-point numerics: CORDIC accuracy, wrap-around, overflow bounds, exactness, float agreement."""
import math

import numpy as np
import pytest

from fixedpoint.cordic import cordic_angle, cordic_sincos, error_bound, phase_sincos
from fixedpoint.golden import GoldenModel, initial_phases, wrap_phase
from fixedpoint.layout import (k_banked, kcond_banked, model_streams, pack_lanes, request_streams,
                               stream_lengths, unpack_lanes, words_to_phases)
from fixedpoint.quantize import HardwareImage, quantize
from fixedpoint.readout import features, phase_features, phases_to_radians
from fixedpoint.spec import FORMATS, PYNQ_Z2, HardwareParams, NumericsSpec
from fixedpoint import accuracy


def random_eff(rng, n, m, classes, k_scale=1.0, omega_scale=1.0):
    k = rng.normal(size=(n, n)) * k_scale / math.sqrt(n)
    kc = rng.normal(size=(m, m)) / math.sqrt(m)
    np.fill_diagonal(k, 0)
    np.fill_diagonal(kc, 0)
    return {"omega": rng.normal(size=n) * omega_scale, "K": k, "omega_cond": rng.normal(size=m), "K_cond": kc,
            "K_drive": rng.normal(size=(classes, n, m)) / math.sqrt(m)}


# --- CORDIC -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_cordic_exhaustive_within_documented_bound(name):
    spec = FORMATS[name]
    a = np.arange(1 << spec.cordic_in_bits, dtype=np.int64)
    s, c = cordic_sincos(a, spec)
    t = a * (2 * math.pi / (1 << spec.cordic_in_bits))
    amp = spec.trig_amplitude
    bound = accuracy.cordic_bound(spec)
    assert np.abs(s / amp - np.sin(t)).max() <= bound
    assert np.abs(c / amp - np.cos(t)).max() <= bound
    assert np.abs(s).max() <= amp and np.abs(c).max() <= amp
    assert max(error_bound(spec)) <= bound


def test_cordic_matches_math_at_cardinal_angles():
    spec = NumericsSpec()
    q = 1 << (spec.cordic_in_bits - 2)
    s, c = cordic_sincos(np.array([0, q, 2 * q, 3 * q]), spec)
    amp = spec.trig_amplitude
    np.testing.assert_allclose(s / amp, [0, 1, 0, -1], atol=1e-4)
    np.testing.assert_allclose(c / amp, [1, 0, -1, 0], atol=1e-4)


def test_cordic_fewer_iterations_is_worse():
    coarse = error_bound(NumericsSpec(cordic_iters=8))
    fine = error_bound(NumericsSpec(cordic_iters=16))
    assert max(coarse) > 10 * max(fine)


def test_cordic_rejects_out_of_range_angles():
    with pytest.raises(ValueError, match="unsigned"):
        cordic_sincos(np.array([1 << 16]), NumericsSpec())


# --- phase word, wrap-around, readout ------------------------------------------------------------
def test_trig_sees_only_the_fraction_so_whole_turns_do_not_change_it():
    spec = NumericsSpec()
    rng = np.random.default_rng(1)
    p = rng.integers(-(1 << 23), 1 << 23, size=1000)
    turns = rng.integers(-100, 100, size=1000) << spec.phase_frac_bits
    s0, c0 = phase_sincos(p, spec)
    s1, c1 = phase_sincos(p + turns, spec)
    assert np.array_equal(s0, s1) and np.array_equal(c0, c1)
    assert np.array_equal(cordic_angle(p, spec), cordic_angle(p + turns, spec))


def test_wrap_phase_wraps_and_flags_overflow():
    spec = NumericsSpec()
    top = (1 << (spec.phase_bits - 1)) - 1
    w, ovf = wrap_phase(np.array([top, top + 1, -top - 1, -top - 2, 5]), spec)
    assert w.tolist() == [top, -top - 1, -top - 1, top, 5]
    assert ovf.tolist() == [False, True, False, True, False]


@pytest.mark.parametrize("relativization", ["mean_relative", "ref_oscillator", "absolute"])
def test_readout_from_words_equals_float_readout_across_the_wrap(relativization):
    """Phases spread over several turns (crossing +-pi many times) read out exactly like unwrapped floats."""
    spec = NumericsSpec()
    rng = np.random.default_rng(2)
    theta = rng.uniform(-3.5 * 2 * math.pi, 3.5 * 2 * math.pi, size=(4, 64))
    words = np.round(theta * 2**spec.phase_frac_bits / (2 * math.pi)).astype(np.int64)
    exact = phases_to_radians(words, spec)  # the unwrapped phases the words stand for
    got = phase_features(words, 64, spec, {"relativization": relativization, "encoding": "sin_cos"})
    want = features(exact, relativization, "sin_cos")
    np.testing.assert_allclose(got, want, atol=1e-12)
    if relativization == "mean_relative":
        # Wrapping to one turn (what a phase word without turn bits keeps) changes the mean: the readout would be wrong.
        wrapped = np.angle(np.exp(1j * exact))
        assert np.abs(features(wrapped, relativization, "sin_cos") - want).max() > 0.1


def test_initial_phases_are_seeded_uniform_over_one_turn():
    spec = NumericsSpec()
    a = initial_phases(7, 3, 100, spec)
    assert np.array_equal(a, initial_phases(7, 3, 100, spec))
    assert not np.array_equal(a, initial_phases(8, 3, 100, spec))
    big = initial_phases(0, 1, 200000, spec)
    half = 1 << (spec.phase_frac_bits - 1)
    assert big.min() >= -half and big.max() < half
    assert abs(big.mean()) < half * 0.01


# --- exactness and overflow bounds ---------------------------------------------------------------
def bigint_step(img: HardwareImage, phases: list[int], class_id: int) -> list[int]:
    """One Euler step in arbitrary-precision Python integers, straight from the spec's formula."""
    p, s = img.params, img.params.spec
    n, nt = p.n, p.n_total
    sin_a, cos_a = phase_sincos(np.array(phases, dtype=np.int64), s)
    sin, cos = [int(v) for v in sin_a], [int(v) for v in cos_a]
    w = [[0] * nt for _ in range(nt)]
    for i in range(n):
        for j in range(n):
            w[i][j] = int(img.k[i, j])
        for mm in range(p.n_cond):
            w[i][n + mm] = int(img.drive[class_id, i, mm])
    for a in range(p.n_cond):
        for b in range(p.n_cond):
            w[n + a][n + b] = int(img.kcond[a, b])
    out = []
    r = img.gain_shift
    for i in range(nt):
        acc_s = sum(w[i][j] * sin[j] for j in range(nt))
        acc_c = sum(w[i][j] * cos[j] for j in range(nt))
        assert abs(acc_s) <= p.acc_bound and abs(acc_c) <= p.acc_bound
        u = cos[i] * acc_s - sin[i] * acc_c
        assert abs(u) <= p.u_bound
        d = (((u >> p.pre_shift) * int(img.gain[i])) + (1 << (r - 1))) >> r
        assert abs((u >> p.pre_shift) * int(img.gain[i])) < 1 << 62
        v = phases[i] + int(img.omega_inc[i]) + d
        bits = s.phase_bits
        out.append(((v + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1)))
    return out


def worst_case_image(params: HardwareParams, classes: int = 2) -> HardwareImage:
    """Every weight at full scale with signs chosen so all products add up (the accumulator worst case)."""
    s = params.spec
    n, m = params.n, params.n_cond
    k = np.full((n, n), s.coupling_max, dtype=np.int64)
    np.fill_diagonal(k, 0)
    kc = np.full((m, m), s.drive_max, dtype=np.int64)
    np.fill_diagonal(kc, 0)
    return HardwareImage(params=params, dt=0.1, num_steps=1, gain_shift=40,
                         k=k, drive=np.full((classes, n, m), s.drive_max, dtype=np.int64), kcond=kc,
                         gain=np.full(params.n_total, (1 << s.gain_bits) - 1, dtype=np.int64),
                         omega_inc=np.zeros(params.n_total, dtype=np.int64))


@pytest.mark.parametrize("spec", [FORMATS["default"], FORMATS["pynq-z2-n1024"], FORMATS["wide"]])
def test_golden_equals_bigint_reference_on_worst_case_inputs(spec):
    params = HardwareParams(n=16, n_cond=4, lanes=4, spec=spec)
    img = worst_case_image(params)
    # all phases at the angle where sin = cos = max positive, so every product has the same sign
    eighth = 1 << (spec.phase_frac_bits - 3)
    ph = np.full((1, params.n_total), eighth, dtype=np.int64)
    got = GoldenModel(img).step(ph, np.array([1]))[0][0].tolist()
    assert got == bigint_step(img, ph[0].tolist(), 1)


def test_width_bounds_hold_for_every_released_size():
    for n, m in [(1024, 8), (2048, 8), (4096, 8), (6656, 1), (10240, 1), (16384, 1)]:
        for spec in FORMATS.values():
            p = HardwareParams(n, m, 64, spec)
            assert p.acc_bound < 2**53  # exact float64 GEMM in the golden model
            assert p.scaled_bits <= 63  # (u >> T) * g fits int64
            assert p.acc_bits <= 48 or spec.coupling_bits > 8  # DSP48 accumulator for the hardware formats


def test_golden_equals_bigint_reference_on_random_image():
    rng = np.random.default_rng(3)
    params = HardwareParams(n=12, n_cond=3, lanes=4, spec=FORMATS["pynq-z2-n1024"])
    img = quantize(random_eff(rng, 12, 3, 4), params, dt=0.1, num_steps=4)
    ph = initial_phases(5, 2, params.n_total, params.spec)
    gm = GoldenModel(img)
    for b, c in enumerate([0, 3]):
        p = ph[b].tolist()
        for _ in range(4):
            p = bigint_step(img, p, c)
        assert gm.run(np.array([c]), ph[b:b + 1]).phases[0].tolist() == p


def test_quantize_rejects_a_model_that_does_not_fit_the_build():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="does not fit the hardware build"):
        quantize(random_eff(rng, 16, 2, 3), HardwareParams(32, 2, 4), 0.1, 10)


def test_quantize_rejects_models_whose_phases_outgrow_the_turn_bits():
    rng = np.random.default_rng(0)
    eff = random_eff(rng, 8, 2, 2, omega_scale=100.0)  # ~1.6 turns per step, 16 after 10 steps
    with pytest.raises(ValueError, match="phase_turn_bits"):
        quantize(eff, HardwareParams(8, 2, 4, NumericsSpec(phase_turn_bits=4)), 0.1, 10)


def test_quantized_image_is_exact_by_construction_and_within_half_lsb():
    rng = np.random.default_rng(4)
    params = HardwareParams(32, 4, 8, FORMATS["default"])
    eff = random_eff(rng, 32, 4, 3)
    img = quantize(eff, params, 0.1, 10)
    deq = img.dequantized()
    q = img.effective_scale()
    # every unclipped weight is within half a step of its float value
    err = np.abs(deq["K"] - eff["K"])
    clipped = np.abs(eff["K"]) > params.spec.coupling_max * q[:32, None]
    assert np.all(err[~clipped] <= 0.5 * q[:32, None].repeat(32, 1)[~clipped] + 1e-15)
    np.testing.assert_allclose(deq["K_drive"], eff["K_drive"], atol=float(q[:32].max()) * 0.5 + 1e-15)


def test_image_round_trip_and_digest(tmp_path):
    rng = np.random.default_rng(5)
    params = HardwareParams(16, 2, 4)
    img = quantize(random_eff(rng, 16, 2, 3), params, 0.1, 10, {"relativization": "mean_relative"})
    path = tmp_path / "m.safetensors"
    img.save(str(path))
    back = HardwareImage.load(str(path))
    assert back.digest() == img.digest()
    assert back.model_config == img.model_config
    img2 = quantize(random_eff(np.random.default_rng(6), 16, 2, 3), params, 0.1, 10)
    assert img2.digest() != img.digest()
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot read hardware image"):
        HardwareImage.load(str(tmp_path / "bad.safetensors"))


# --- stream layouts ------------------------------------------------------------------------------
def test_stream_layouts_round_trip_and_lengths():
    rng = np.random.default_rng(6)
    params = HardwareParams(32, 4, 8, FORMATS["pynq-z2-n1024"])
    img = quantize(random_eff(rng, 32, 4, 3), params, 0.1, 10)
    ms = model_streams(img)
    rs = request_streams(img, 2, initial_phases(0, 1, params.n_total, params.spec)[0])
    lengths = stream_lengths(params)
    for name, words in {**ms, **rs}.items():
        assert words.dtype == np.uint32 and len(words) == lengths[name], name
    s = params.spec
    kb = unpack_lanes(ms["k"], s.coupling_bits, params.lanes_per_word(s.coupling_bits), params.lanes)
    assert np.array_equal(kb, k_banked(params, img.k))
    # bank l, address g*n + j holds K[g*L + l, j]
    g, l, j = 3, 5, 17
    assert kb[g * params.n + j, l] == img.k[g * params.lanes + l, j]
    db = unpack_lanes(rs["drive"], s.drive_bits, params.lanes_per_word(s.drive_bits), params.lanes)
    assert db[1 * params.n_cond + 2, 3] == img.drive[2, 1 * params.lanes + 3, 2]
    kcb = kcond_banked(params, img.kcond)
    assert kcb[1, 2] == img.kcond[2, 1] and not kcb[:, params.n_cond:].any()
    assert np.array_equal(words_to_phases(rs["phase"], params), initial_phases(0, 1, params.n_total, s)[0])
    with pytest.raises(ValueError, match="class id"):
        request_streams(img, 3, initial_phases(0, 1, params.n_total, s)[0])


def test_pack_lanes_is_little_endian_by_lane():
    words = pack_lanes(np.array([[1, -1, 2, -8, 0, 0, 0, 3]]), 4, 8)
    assert int(words[0]) == 0x3000_82F1


# --- float agreement -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["default", "pynq-z2-n1024", "wide"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_fixed_point_step_is_within_the_local_error_bound(fmt, seed):
    """From the same state, one hardware step and one float64 step differ by at most the documented delta."""
    rng = np.random.default_rng(seed)
    n, m = 24, 3
    params = HardwareParams(n, m, 4, FORMATS[fmt])
    eff = random_eff(rng, n, m, 2, k_scale=3.0)
    img = quantize(eff, params, 0.1, 1)
    ph0 = initial_phases(seed, 8, params.n_total, params.spec)
    cls = np.arange(8) % 2
    fixed = phases_to_radians(GoldenModel(img).run(cls, ph0).phases, params.spec)
    ref = accuracy.float_euler(eff, phases_to_radians(ph0, params.spec), cls, 0.1, 1)
    delta = accuracy.local_error_bound(img, eff)
    assert np.abs(fixed - ref).max() <= delta
    # the bound is tight enough to catch a datapath bug: a sign error in the coupling breaks it
    bad = GoldenModel(img)
    bad._k = -bad._k
    wrong = phases_to_radians(bad.run(cls, ph0).phases, params.spec)
    assert np.abs(wrong - ref).max() > delta


@pytest.mark.parametrize("fmt", ["default", "pynq-z2-n1024", "wide"])
def test_ten_steps_stay_within_the_propagated_bound(fmt):
    rng = np.random.default_rng(11)
    n, m, steps = 24, 3, 10
    params = HardwareParams(n, m, 4, FORMATS[fmt])
    eff = random_eff(rng, n, m, 2)
    img = quantize(eff, params, 0.1, steps)
    ph0 = initial_phases(3, 4, params.n_total, params.spec)
    cls = np.array([0, 1, 0, 1])
    fixed = phases_to_radians(GoldenModel(img).run(cls, ph0).phases, params.spec)
    ref = accuracy.float_euler(eff, phases_to_radians(ph0, params.spec), cls, 0.1, steps)
    assert np.abs(fixed - ref).max() <= accuracy.phase_error_bound(img, eff)


def test_pynq_z2_build_fits_the_released_n1024():
    assert PYNQ_Z2.n == 1024 and PYNQ_Z2.spec.coupling_bits == 4
    k_bits = PYNQ_Z2.n * PYNQ_Z2.n * PYNQ_Z2.spec.coupling_bits
    assert k_bits <= 128 * 32 * 1024  # 128 BRAM36 of 32 Kbit data
    assert stream_lengths(PYNQ_Z2)["k"] * 32 == k_bits
