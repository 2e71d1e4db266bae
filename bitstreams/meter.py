"""External power-meter logs (USB / socket meters): CSV -> energy over a window, minus the idle baseline.

CSV format (docs/bitstreams.md §Power): a header row, then one sample per row; lines starting with '#'
are comments. Columns, matched case-insensitively:
  time     : `timestamp`, `time`, `t` or `unix_time` — seconds (Unix epoch or any monotonic clock;
             use --meter-offset when it is not the host's time.time()), or ISO-8601 date-times
  power    : `watts`, `power`, `power_w` or `w`; or else
  volts + amps : `volts`/`voltage`/`v` and `amps`/`current`/`a`/`i` (power = V x A)
Energy is the trapezoid integral of power over a window; samples are linearly interpolated at the
window edges. Delta energy = run energy - idle mean power x run duration.
"""
from __future__ import annotations

import csv
from datetime import datetime

import numpy as np

_TIME = ("timestamp", "time", "t", "unix_time")
_WATTS = ("watts", "power", "power_w", "w")
_VOLTS = ("volts", "voltage", "v")
_AMPS = ("amps", "current", "a", "i")


def _pick(cols: dict[str, int], names) -> int | None:
    return next((cols[n] for n in names if n in cols), None)


def _time(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return datetime.fromisoformat(s.strip()).timestamp()


def read_meter_csv(path: str, offset_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, power in W), sorted check included; clear errors for a wrong file."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 3:
        raise ValueError(f"{path}: need a header row and at least two samples")
    cols = {h.strip().lower(): i for i, h in enumerate(rows[0])}
    it = _pick(cols, _TIME)
    iw, iv, ia = _pick(cols, _WATTS), _pick(cols, _VOLTS), _pick(cols, _AMPS)
    if it is None or (iw is None and (iv is None or ia is None)):
        raise ValueError(f"{path}: header {rows[0]} needs a time column ({'/'.join(_TIME)}) and either a power column "
                         f"({'/'.join(_WATTS)}) or volts ({'/'.join(_VOLTS)}) and amps ({'/'.join(_AMPS)}) columns")
    t, p = [], []
    for k, r in enumerate(rows[1:], start=2):
        try:
            t.append(_time(r[it]) + offset_s)
            p.append(float(r[iw]) if iw is not None else float(r[iv]) * float(r[ia]))
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path}: row {k} is not a valid sample ({e}): {r}") from None
    t, p = np.asarray(t), np.asarray(p)
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{path}: timestamps must strictly increase")
    return t, p


def window_energy(t: np.ndarray, p: np.ndarray, start: float, end: float) -> tuple[float, float]:
    """(energy J, mean power W) over [start, end]; the window must lie inside the log."""
    if not end > start:
        raise ValueError(f"empty window [{start}, {end}]")
    if start < t[0] or end > t[-1]:
        raise ValueError(f"window [{start:.3f}, {end:.3f}] s is not covered by the meter log "
                         f"[{t[0]:.3f}, {t[-1]:.3f}] s: start logging earlier / stop later, or fix --meter-offset")
    inner = (t > start) & (t < end)
    tt = np.concatenate([[start], t[inner], [end]])
    pp = np.concatenate([[np.interp(start, t, p)], p[inner], [np.interp(end, t, p)]])
    e = float(np.sum((pp[1:] + pp[:-1]) * np.diff(tt)) / 2)
    return e, e / (end - start)


def meter_energy(path: str, idle: tuple[float, float], run: tuple[float, float], images: int,
                 offset_s: float = 0.0) -> dict:
    t, p = read_meter_csv(path, offset_s)
    _, idle_w = window_energy(t, p, *idle)
    run_j, run_w = window_energy(t, p, *run)
    dur = run[1] - run[0]
    delta_j = run_j - idle_w * dur
    return {"source": f"meter CSV {path}", "idle_w": idle_w, "run_w": run_w, "delta_w": run_w - idle_w,
            "run_energy_j": run_j, "delta_energy_j": delta_j, "images": images,
            "energy_per_image_j": delta_j / images, "samples": int(len(t))}
