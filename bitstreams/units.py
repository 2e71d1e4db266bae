"""A tiny quantity type so roadmap arithmetic cannot mix seconds with joules or pJ with J.

Every roadmap parameter is stored with its unit string ("pJ", "TB/s", "uW", "MiB" ...). `Q` parses it
into an SI value plus a dimension vector; `*` and `/` combine dimensions, `+`/`-`/comparisons demand
equal dimensions, and `.to("mJ")` converts back with a dimension check. Base dimensions are
time (s), energy (J), data (B = byte; "bit" is 1/8 B) and count-like units (FLOP, MAC, op, cycle)
that stay separate so a FLOP rate is never silently used as a MAC rate.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

_PREFIX = {"": 1.0, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3,
           "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
#: base symbol -> (factor to SI, {dimension: exponent})
_BASE = {
    "s": (1.0, {"time": 1}),
    "h": (3600.0, {"time": 1}),
    "J": (1.0, {"energy": 1}),
    "W": (1.0, {"energy": 1, "time": -1}),
    "Hz": (1.0, {"time": -1}),
    "B": (1.0, {"data": 1}),
    "bit": (0.125, {"data": 1}),
    "b": (0.125, {"data": 1}),
    "FLOP": (1.0, {"flop": 1}),
    "MAC": (1.0, {"mac": 1}),
    "op": (1.0, {"op": 1}),
    "cycle": (1.0, {"cycle": 1}),
    "1": (1.0, {}),
}
# Longest symbols first so "mJ" is milli-joule, "MiB" mebibyte, "bit" not "b"+"it".
_SYMBOLS = sorted(_BASE, key=len, reverse=True)
_PREFIXES = sorted(_PREFIX, key=len, reverse=True)


def _parse_atom(atom: str) -> tuple[float, dict[str, int]]:
    atom = atom.strip()
    m = re.fullmatch(r"(.+?)\^(-?\d+)", atom)
    power = 1
    if m:
        atom, power = m.group(1), int(m.group(2))
    for sym in _SYMBOLS:
        if atom.endswith(sym):
            prefix = atom[: len(atom) - len(sym)]
            if prefix in _PREFIX:
                f, dims = _BASE[sym]
                return (_PREFIX[prefix] * f) ** power, {d: e * power for d, e in dims.items()}
    raise ValueError(f"unknown unit {atom!r}; known symbols {sorted(_BASE)} with prefixes {sorted(_PREFIX)}")


def parse_unit(unit: str) -> tuple[float, dict[str, int]]:
    """'pJ/bit' -> (factor to SI, dimensions). '/' separates numerator from denominators; '*' or '.' multiplies."""
    if not unit or not unit.strip():
        raise ValueError("empty unit string; use '1' for a dimensionless number")
    parts = unit.split("/")
    factor, dims = 1.0, {}
    for i, part in enumerate(parts):
        for atom in re.split(r"[*.·]", part):
            f, d = _parse_atom(atom)
            sign = 1 if i == 0 else -1
            factor *= f**sign
            for k, e in d.items():
                dims[k] = dims.get(k, 0) + sign * e
    return factor, {k: e for k, e in dims.items() if e}


@dataclass(frozen=True)
class Q:
    """A value in SI base units with its dimension; build with Q.of(3.35, "TB/s")."""

    si: float
    dims: tuple = ()

    @classmethod
    def of(cls, value: float, unit: str) -> "Q":
        f, d = parse_unit(unit)
        return cls(float(value) * f, tuple(sorted(d.items())))

    @property
    def dim_dict(self) -> dict[str, int]:
        return dict(self.dims)

    def to(self, unit: str) -> float:
        f, d = parse_unit(unit)
        if dict(self.dims) != d:
            raise ValueError(f"cannot convert {self._dimstr()} to {unit!r} ({_fmt_dims(d)})")
        return self.si / f

    def _dimstr(self) -> str:
        return _fmt_dims(dict(self.dims))

    def _combine(self, other, sign: int) -> "Q":
        if not isinstance(other, Q):
            other = Q(float(other))
        d = dict(self.dims)
        for k, e in other.dims:
            d[k] = d.get(k, 0) + sign * e
        return d

    def __mul__(self, other):
        d = self._combine(other, 1)
        o = other.si if isinstance(other, Q) else float(other)
        return Q(self.si * o, tuple(sorted((k, e) for k, e in d.items() if e)))

    __rmul__ = __mul__

    def __truediv__(self, other):
        d = self._combine(other, -1)
        o = other.si if isinstance(other, Q) else float(other)
        return Q(self.si / o, tuple(sorted((k, e) for k, e in d.items() if e)))

    def __rtruediv__(self, other):
        return Q(float(other)) / self

    def _same(self, other) -> "Q":
        if not isinstance(other, Q):
            other = Q(float(other))
        if self.dims != other.dims:
            raise ValueError(f"dimension mismatch: {self._dimstr()} vs {other._dimstr()}")
        return other

    def __add__(self, other):
        return Q(self.si + self._same(other).si, self.dims)

    __radd__ = __add__

    def __sub__(self, other):
        return Q(self.si - self._same(other).si, self.dims)

    def __lt__(self, other):
        return self.si < self._same(other).si

    def __le__(self, other):
        return self.si <= self._same(other).si

    def __gt__(self, other):
        return self.si > self._same(other).si

    def __ge__(self, other):
        return self.si >= self._same(other).si

    def __float__(self):
        if self.dims:
            raise ValueError(f"{self._dimstr()} is not dimensionless; use .to(unit)")
        return self.si

    def max(self, other) -> "Q":
        return self if self >= other else self._same(other)

    def __repr__(self):
        return f"Q({self.si:.6g} {self._dimstr() or '1'})"


def _fmt_dims(d: dict[str, int]) -> str:
    return " ".join(f"{k}^{e}" if e != 1 else k for k, e in sorted(d.items())) or "dimensionless"


def fmt_si(value: float, unit: str, digits: int = 3) -> str:
    """Engineering notation for tables: fmt_si(2.1e-9, 'J') -> '2.1 nJ'."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    for p, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0), ("m", 1e-3), ("µ", 1e-6),
                 ("n", 1e-9), ("p", 1e-12), ("f", 1e-15)):
        if abs(value) >= f * 0.9995:
            return f"{value / f:.{digits}g} {p}{unit}"
    return f"{value:.{digits}g} {unit}"
