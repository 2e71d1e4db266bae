"""model.analog_sweep: the tolerance rule and a tiny real sweep on the ImageNet-64 layout."""
import pytest

torch = pytest.importorskip("torch")

from model.analog_sweep import Bench, euler_question, imagenet_layout_model, run_axes, tolerance_table  # noqa: E402


def _row(axis, value, psnr, agree):
    return {"axis": axis, "value": value, "psnr_db": psnr, "agreement": agree}


def test_tolerance_rule():
    rows = [_row("freq_mismatch", 1e-4, 45, 1.0), _row("freq_mismatch", 1e-3, 31, 0.97),
            _row("freq_mismatch", 1e-2, 35, 0.99),  # a milder-looking value after a failure does not count
            _row("freq_mismatch", 3e-3, 20, 0.80),
            _row("coupling_bits", 8, 50, 1.0), _row("coupling_bits", 5, 33, 0.96), _row("coupling_bits", 4, 29, 0.96),
            _row("coupling_gain", -0.05, 40, 1.0), _row("coupling_gain", 0.05, 35, 0.9),
            _row("coupling_gain", 0.02, 45, 1.0), _row("coupling_gain", -0.02, 44, 1.0),
            _row("run_length", 0.98, 40, 1.0), _row("run_length", 1.02, 41, 1.0),
            _row("waveform", "triangle", 31, 0.99), _row("waveform", "square", 25, 0.9)]
    t = {r["axis"]: r for r in tolerance_table(rows, psnr_min=30, agree_drop=0.05)}
    assert t["freq_mismatch"]["tolerance"] == 1e-3 and t["freq_mismatch"]["first_fail"] == [3e-3]
    assert t["coupling_bits"]["tolerance"] == 5 and t["coupling_bits"]["first_fail"] == [4]
    assert t["coupling_gain"]["tolerance"] == pytest.approx(0.02)  # +0.05 fails on agreement
    assert t["run_length"]["tolerance"] == pytest.approx(0.02) and t["run_length"]["first_fail"] is None
    assert t["waveform"]["passing"] == ["triangle"] and t["waveform"]["failing"] == ["square"]
    rows[0]["agreement"] = 0.9
    assert tolerance_table(rows, 30, 0.05)[0]["tolerance"] is None


def test_tiny_sweep_on_the_imagenet_layout(one_torch_thread):
    model = imagenet_layout_model(n=16, seed=0)
    bench = Bench(model, samples=20, seed=0, probe_per_class=12)
    rows = run_axes(bench, axes=(("freq_mismatch", (1e-4, 3e-2), "up"), ("adc_bits", (12, 3), "down")),
                    progress=False)
    r = {(x["axis"], x["value"]): x for x in rows}
    assert r[("freq_mismatch", 1e-4)]["psnr_db"] > r[("freq_mismatch", 3e-2)]["psnr_db"]
    assert r[("adc_bits", 12)]["psnr_db"] > r[("adc_bits", 3)]["psnr_db"]
    assert r[("adc_bits", 12)]["agreement"] >= r[("adc_bits", 3)]["agreement"]
    # the ideal chip scores itself perfectly
    s = bench.score(bench.ideal_theta)
    assert s["psnr_db"] == 99.0 and s["agreement"] == 1.0 and s["feature_rms"] == 0.0
    e = euler_question(bench, progress=False)
    fine = [x for x in e if x["integrator"] == "euler"]
    ode = next(x for x in e if x["integrator"] == "ode" and x["duration_T"] == 1.0)
    # finer Euler steps converge to continuous time: the 100-step run is closer to the ODE than to Euler-10
    assert abs(fine[-1]["psnr_db"] - ode["psnr_db"]) < abs(99.0 - ode["psnr_db"])
    assert ode["nfe"] > 0
