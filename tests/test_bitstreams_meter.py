"""Energy from an external meter log: formats, integration, idle subtraction, clear errors."""
import numpy as np
import pytest

from bitstreams.meter import meter_energy, read_meter_csv, window_energy


def _write(path, header, rows):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return str(path)


def test_watts_csv_delta_over_idle(tmp_path):
    # 10 Hz samples: 2.0 W idle until t=110, 3.5 W while running until t=120, idle after.
    t = np.round(np.arange(100.0, 130.0, 0.1), 3)
    w = np.where((t >= 110) & (t < 120), 3.5, 2.0)
    path = _write(tmp_path / "m.csv", "# meter log\ntimestamp,watts", zip(t, w))
    e = meter_energy(path, idle=(101, 109), run=(110.5, 119.5), images=9)
    assert e["idle_w"] == pytest.approx(2.0)
    assert e["run_w"] == pytest.approx(3.5)
    assert e["delta_energy_j"] == pytest.approx(1.5 * 9)
    assert e["energy_per_image_j"] == pytest.approx(1.5)


def test_volts_amps_and_iso_times(tmp_path):
    rows = [("2026-01-01T00:00:00", 5.0, 0.4), ("2026-01-01T00:00:01", 5.0, 0.4), ("2026-01-01T00:00:02", 5.0, 0.6),
            ("2026-01-01T00:00:03", 5.0, 0.6)]
    path = _write(tmp_path / "m.csv", "Time,Voltage,Current", rows)
    t, p = read_meter_csv(path)
    assert list(p) == [2.0, 2.0, 3.0, 3.0]
    e, mean = window_energy(t, p, t[0], t[-1])
    assert e == pytest.approx(2.0 + 2.5 + 3.0)  # trapezoids
    # window edges are interpolated
    e2, _ = window_energy(t, p, t[0] + 0.5, t[0] + 1.5)
    assert e2 == pytest.approx(0.5 * 2.0 + 0.5 * (2.0 + 2.5) / 2)


def test_offset_and_errors(tmp_path):
    path = _write(tmp_path / "m.csv", "t,w", [(0, 1), (1, 1), (2, 1)])
    t, _ = read_meter_csv(path, offset_s=1000)
    assert t[0] == 1000
    with pytest.raises(ValueError, match="not covered"):
        meter_energy(path, idle=(0, 1), run=(1, 5), images=1)
    bad = _write(tmp_path / "b.csv", "time,temperature", [(0, 1), (1, 1)])
    with pytest.raises(ValueError, match="needs a time column"):
        read_meter_csv(bad)
    back = _write(tmp_path / "c.csv", "time,watts", [(0, 1), (2, 1), (1, 1)])
    with pytest.raises(ValueError, match="strictly increase"):
        read_meter_csv(back)
    junk = _write(tmp_path / "d.csv", "time,watts", [(0, 1), (1, "x"), (2, 1)])
    with pytest.raises(ValueError, match="row 3"):
        read_meter_csv(junk)
