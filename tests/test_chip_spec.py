"""The chip spec sheet (bitstreams/chip_spec.py) generated from analog sweep results into docs/roadmap.md."""
import json

import pytest

from bitstreams.chip_spec import SpecSheetError, load_analog_sweep, render_spec_sheet, spec_sheet
from bitstreams.roadmap import compute, main
from bitstreams.roadmap_params import ParamSet

P = ParamSet()
CPU = {"host": {}, "float": [], "golden": []}


def _tol(axis, tol, first_fail=None):
    return {"axis": axis, "kind": "up", "tolerance": tol, "first_fail": first_fail}


def _sweep():
    a = [_tol("freq_mismatch", 3e-4, [1e-3]), _tol("phase_noise", 0.1, [0.2]), _tol("coupling_bits", 5, [4]),
         _tol("adc_bits", 6, [5]), _tol("coupling_gain", 0.05), _tol("readout_jitter", 0.1)]
    b = [_tol("freq_mismatch", None, [1e-5]), _tol("phase_noise", 0.03, [0.1]), _tol("coupling_bits", 6, [5]),
         _tol("adc_bits", 4, [3]), _tol("coupling_gain", 0.1), _tol("readout_jitter", 0.06)]
    return {"psnr_min_db": 30.0, "agree_drop": 0.05,
            "models": [{"key": "cifar10", "label": "cifar10-n1024", "tolerances": a, "euler": [
                {"integrator": "euler", "duration_T": 1.0, "psnr_db": 35.0, "agreement": 0.97},
                {"integrator": "ode", "duration_T": 1.0, "psnr_db": 29.5, "agreement": 0.914}]},
                       {"key": "imagenet", "label": "imagenet64-n256", "tolerances": b}]}


def test_spec_sheet_takes_the_binding_tolerance_and_reprices_energy():
    result = compute(P, CPU)
    s = spec_sheet(_sweep(), result, P)
    by = {r["axis"]: r for r in s["rows"]}
    assert by["phase_noise"]["binding"] == 0.03 and by["readout_jitter"]["binding"] == 0.06
    assert s["adc_bits"] == 6 and s["dac_bits"] == 6  # the model needing more bits binds
    assert by["freq_mismatch"]["binding"] is None and by["freq_mismatch"]["below"] == 1e-5
    assert s["trim_bits"] == 14 and s["trim_bits_at_least"]  # ceil(log2(0.05 / 1e-5)) + 1
    assert by["coupling_gain"]["verdict"].startswith("met only")  # 0.05 <= 0.05 <= 0.2
    assert s["tightest"][0] == "freq_mismatch"
    e = next(x for x in s["energy"] if x["config"] == "cifar10-n1024")
    assert e["adc_needed_j"] == pytest.approx(e["adc_j"] / 4)  # 6 bits vs the 8-bit adc_energy: 2^-2
    assert e["thermal_floor_needed_j"] == pytest.approx(e["thermal_floor_j"] * (0.05 / 0.03) ** 2)
    assert e["k_storage_bits"] == (1024**2 + 1024 * 8 + 64) * 6
    md = "\n".join(render_spec_sheet(s, P, 9))
    assert "## 9. Chip spec sheet" in md and "freq_mismatch < 1e-05" in md and "at least 14 bits" in md
    assert "cifar10-n1024 29.5 dB, 91% same class" in md


def test_roadmap_appends_the_spec_sheet_and_keeps_the_rest(tmp_path):
    j = tmp_path / "sweep.json"
    j.write_text(json.dumps(_sweep()))
    base, with_spec = tmp_path / "a.md", tmp_path / "b.md"
    cpu = tmp_path / "cpu.json"
    cpu.write_text(json.dumps(CPU))
    common = ["--no-measure", "--cpu-json", str(cpu), "--fig-dir", str(tmp_path / "fig")]
    with pytest.raises(SystemExit) as e:
        main(common + ["--doc", str(base), "--analog-json", str(tmp_path / "none.json")])
    assert e.value.code == 2 and not base.exists()
    assert main(common + ["--doc", str(with_spec), "--analog-json", str(j)]) == 0
    text = with_spec.read_text()
    assert "## 8. Parameters" in text and "## 9. Chip spec sheet" in text
    assert text.index("## 8. Parameters") < text.index("## 9. Chip spec sheet")


@pytest.mark.parametrize("content,msg", [("{", "not valid JSON"), ('{"models": 3}', "expected"),
                                         (json.dumps(dict(_sweep(), models=[{"key": "x", "tolerances": [
                                             {"axis": "adc_bits", "tolerance": "six"}]}])), "not a number")])
def test_bad_sweep_json_is_one_clear_error(tmp_path, content, msg):
    p = tmp_path / "s.json"
    p.write_text(content)
    with pytest.raises(SpecSheetError, match=msg):
        load_analog_sweep(p)
    assert load_analog_sweep(tmp_path / "missing.json") is None
