"""The measurement command end to end on the golden board (power model and a synthetic meter log)."""
import json
import time

import numpy as np
import pytest

pytest.importorskip("host.boards", reason="host/ boards not importable yet")

from bitstreams.measure import main  # noqa: E402


def test_golden_with_power_model(tmp_path):
    rc = main(["--board", "golden", "--n", "64", "--images", "2", "--power-model", "--out", str(tmp_path)])
    assert rc == 0
    r = json.loads((tmp_path / "measure.json").read_text())
    assert r["board"] == "golden" and len(r["rows"]) == 2
    s = r["summary_median"]
    assert s["compute_s"] > 0 and s["decode_s"] > 0 and s["total_s"] >= s["compute_s"]
    pm = r["energy"]["power_model"]
    assert "NOT a measurement" in pm["source"]
    assert pm["energy_per_image_pl_j"] == pytest.approx(pm["power_w"]["pl_total_w"] * pm["core_time_s"])
    assert pm["core_time_s"] == pytest.approx(r["predicted_cycles"]["cycles_per_image"] / r["clock_hz"])
    assert "power model (estimate)" in (tmp_path / "measure.md").read_text()


def test_one_image_reads_one_image(tmp_path):
    assert main(["--board", "golden", "--n", "64", "--images", "1", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "measure.md").read_text()
    assert "1 image (median" in md and "1 images" not in md


def test_golden_with_meter_csv(tmp_path):
    # A meter log covering the whole command: 2 W until `split`, 5 W after. The command idles 1 s first and
    # records its idle and run windows; the energies it reports must be those of the profile over them.
    now = time.time()
    split = now + 0.5
    t = np.arange(now - 5, now + 120, 0.01)
    w = np.where(t < split, 2.0, 5.0)
    csv = tmp_path / "meter.csv"
    csv.write_text("timestamp,watts\n" + "\n".join(f"{a:.3f},{b}" for a, b in zip(t, w)) + "\n")
    rc = main(["--board", "golden", "--n", "64", "--images", "2", "--meter-csv", str(csv), "--idle-s", "1",
               "--out", str(tmp_path)])
    assert rc == 0
    r = json.loads((tmp_path / "measure.json").read_text())
    assert "power_model" not in r["energy"]  # a meter takes precedence unless --power-model is given
    m = r["energy"]["meter"]
    (i0, i1), (r0, r1) = r["idle_window"], r["run_window"]

    def mean_power(a, b):  # exact mean of the step profile over [a, b]
        return (2.0 * max(0.0, min(b, split) - a) + 5.0 * max(0.0, b - max(a, split))) / (b - a)

    assert i0 < split < i1 <= r0 < r1
    assert m["idle_w"] == pytest.approx(mean_power(i0, i1), abs=0.05)
    assert m["run_w"] == pytest.approx(5.0, abs=1e-6)
    assert m["energy_per_image_j"] == pytest.approx((5.0 - m["idle_w"]) * (r1 - r0) / 2, rel=1e-6)


def test_pynq_z2_refuses_an_unrecorded_bitstream(tmp_path, capsys):
    bit = tmp_path / "stray.bit"
    bit.write_bytes(b"\x00" * 64)
    (tmp_path / "stray.hwh").write_text("<EDKSYSTEM/>")
    assert main(["--board", "pynq-z2", "--bitfile", str(bit), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no build manifest" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_cycle_prediction_matches_the_simulated_core(tmp_path):
    """The roadmap's FPGA cycle model against the RTL's own CYCLES counter (Verilator; minutes on a cold build)."""
    pytest.importorskip("cocotb")
    import shutil

    if shutil.which("verilator") is None and shutil.which("iverilog") is None:
        pytest.skip("no HDL simulator")
    rc = main(["--board", "sim", "--n", "64", "--images", "1", "--out", str(tmp_path)])
    assert rc == 0
    r = json.loads((tmp_path / "measure.json").read_text())
    measured = r["summary_median"]["compute_cycles"]
    assert measured == pytest.approx(r["predicted_cycles"]["cycles_per_image"], rel=0.03)
