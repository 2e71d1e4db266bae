"""The roadmap's quantity type: conversions, dimension checks, formatting."""
import math

import pytest

from bitstreams.roadmap_params import DEFAULTS, Param, ParamSet, parse_overrides
from bitstreams.units import Q, fmt_si, parse_unit


@pytest.mark.parametrize("value,unit,target,expected", [
    (3.35, "TB/s", "GB/s", 3350.0),
    (1, "MiB", "bit", 8 * 2**20),
    (640, "pJ", "J", 6.4e-10),
    (20, "pJ/bit", "J/B", 1.6e-10),
    (21.3, "uW", "W", 2.13e-5),
    (50, "ns", "s", 5e-8),
    (100, "MHz", "Hz", 1e8),
    (1, "h", "s", 3600),
    (989.4, "TFLOP/s", "FLOP/s", 989.4e12),
])
def test_conversions(value, unit, target, expected):
    assert Q.of(value, unit).to(target) == pytest.approx(expected, rel=1e-12)


def test_arithmetic_carries_dimensions():
    e = Q.of(700, "W") * Q.of(2, "ms")
    assert e.to("J") == pytest.approx(1.4)
    t = Q.of(537, "MB") / Q.of(3.35, "TB/s")
    assert t.to("us") == pytest.approx(160.3, rel=1e-3)
    per_bit = Q.of(640, "pJ") / Q.of(32, "bit")
    assert per_bit.to("pJ/bit") == pytest.approx(20)
    assert float(Q.of(2, "s") / Q.of(500, "ms")) == pytest.approx(4)


def test_dimension_errors():
    with pytest.raises(ValueError, match="cannot convert"):
        Q.of(1, "J").to("W")
    with pytest.raises(ValueError, match="dimension mismatch"):
        Q.of(1, "J") + Q.of(1, "s")
    with pytest.raises(ValueError, match="dimension mismatch"):
        Q.of(1, "FLOP") < Q.of(1, "MAC")  # a FLOP count is never silently a MAC count
    with pytest.raises(ValueError, match="not dimensionless"):
        float(Q.of(1, "s"))
    with pytest.raises(ValueError, match="unknown unit"):
        parse_unit("furlong")


def test_every_parameter_has_a_valid_unit_and_kind():
    P = ParamSet()
    for p in DEFAULTS.values():
        assert p.source, p.name
        assert math.isfinite(P.q(p.name).si)
    with pytest.raises(ValueError):
        Param("x", 1, "parsec", "assumption", "s")
    with pytest.raises(ValueError):
        Param("x", 1, "s", "vibes", "s")


def test_overrides_and_their_errors():
    P = ParamSet().with_overrides(gpu_mfu=0.25)
    assert P.v("gpu_mfu", "1") == 0.25 and ParamSet().v("gpu_mfu", "1") == 0.5
    assert "[overridden]" in P.params["gpu_mfu"].note
    with pytest.raises(KeyError, match="unknown roadmap parameter"):
        ParamSet().with_overrides(gpu_mfuu=1)
    assert parse_overrides(["coupler_power=2.5"]) == {"coupler_power": 2.5}
    with pytest.raises(ValueError, match="name=value"):
        parse_overrides(["coupler_power"])


def test_fmt_si():
    assert fmt_si(2.1e-9, "J") == "2.1 nJ"
    assert fmt_si(0.0156, "s") == "15.6 ms"
    assert fmt_si(1500, "W") == "1.5 kW"
