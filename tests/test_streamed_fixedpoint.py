"""The streamed-K build in fixedpoint/: parameters, the K image in DDR, batched requests, batch-invariant golden."""
import numpy as np
import pytest

from fixedpoint.golden import GoldenModel, initial_phases
from fixedpoint.layout import k_ddr_planes, k_words, model_streams, request_streams, stream_lengths, unpack_lanes
from fixedpoint.spec import AXI_BURST_BYTES, AXI_DATA_BITS, FORMATS, HardwareParams
from sim.images import random_image


def _params(n=32, m=3, lanes=8, fmt="pynq-z2-n1024", batch=3):
    return HardwareParams(n, m, lanes, FORMATS[fmt], batch=batch, k_source="ddr")


def test_params_round_trip_and_checks():
    p = _params()
    assert HardwareParams.from_dict(p.to_dict()) == p
    onchip = HardwareParams(32, 3, 8, FORMATS["default"])
    assert "batch" not in onchip.to_dict() and HardwareParams.from_dict(onchip.to_dict()) == onchip
    assert p.mac_cycles_per_step == 3 * (32 // 8) * (32 + 3 * 4)  # B * groups * (n + M * drive digits)
    ragged = HardwareParams(30, 3, 8, FORMATS["pynq-z2-n1024"], lut_lanes=3)
    assert (ragged.groups, ragged.last_group_rows, ragged.drive_passes, ragged.dsp_lanes) == (4, 6, 4, 5)
    assert ragged.mac_cycles_per_step == 4 * (30 + 12) and HardwareParams.from_dict(ragged.to_dict()) == ragged
    with pytest.raises(ValueError, match="lut_lanes"):
        HardwareParams(32, 3, 8, lut_lanes=9)
    with pytest.raises(ValueError, match="columns of a group"):
        HardwareParams(4, 1, 16, FORMATS["wide"])  # 16 lanes > 4 + 1 * 1 columns
    with pytest.raises(ValueError, match="k_source"):
        HardwareParams(32, 3, 8, k_source="sram")
    with pytest.raises(ValueError, match="batch"):
        HardwareParams(32, 3, 8, batch=0)


@pytest.mark.parametrize("lanes,fmt,ports", [(8, "pynq-z2-n1024", 1), (4, "default", 1), (16, "pynq-z2-n1024", 1),
                                             (64, "default", 2), (64, "pynq-z2-n1024", 2), (8, "default", 2)])
def test_k_ddr_planes_layout(lanes, fmt, ports):
    """Wide beats of ports*64 bits; column c = g*n + j starts at a wide-beat boundary, holds the lane-packed
    weights, then zeros; AXI beat q of each wide beat goes to plane q; every plane is whole bursts."""
    p = HardwareParams(64, 2, lanes, FORMATS[fmt], batch=2, k_source="ddr", k_ports=ports)
    img = random_image(p, seed=lanes)
    planes = k_ddr_planes(img)
    assert planes.dtype == np.uint32 and planes.shape == (ports, p.k_plane_bytes // 4)
    assert p.k_plane_bytes % AXI_BURST_BYTES == 0 and p.k_ddr_bytes == ports * p.k_plane_bytes
    beat_words = AXI_DATA_BITS // 32
    # Re-interleave the planes into the logical stream of wide beats.
    stream = planes.reshape(ports, -1, beat_words).transpose(1, 0, 2).reshape(-1)
    stride = p.k_column_beats * ports * beat_words
    assert p.k_column_words <= stride < p.k_column_words + ports * beat_words
    cols = stream[: p.k_bank_depth * stride].reshape(p.k_bank_depth, stride)
    assert not cols[:, p.k_column_words:].any() and not stream[p.k_bank_depth * stride:].any()
    assert np.array_equal(cols[:, : p.k_column_words].reshape(-1), k_words(img))
    s = p.spec
    banked = unpack_lanes(k_words(img), s.coupling_bits, p.lanes_per_word(s.coupling_bits), lanes)
    g, j, l = p.groups - 1, 37, lanes - 1
    assert banked[g * p.n + j, l] == img.k[g * lanes + l, j]
    assert "k" not in model_streams(img) and stream_lengths(p)["k"] == 0
    with pytest.raises(ValueError, match="k_ports"):
        HardwareParams(64, 2, lanes, FORMATS[fmt], k_ports=2)


def test_batched_request_streams_are_sample_major():
    p = _params()
    img = random_image(p, seed=2, num_classes=5)
    ph = initial_phases(4, p.batch, p.n_total, p.spec)
    classes = [4, 0, 4]
    rs = request_streams(img, classes, ph)
    lengths = stream_lengths(p)
    assert len(rs["drive"]) == lengths["drive"] and len(rs["phase"]) == lengths["phase"] == 3 * p.n_total
    one = HardwareParams(p.n, p.n_cond, p.lanes, p.spec)
    per = lengths["drive"] // 3
    for b, c in enumerate(classes):
        single = request_streams(random_image(one, seed=2, num_classes=5), c, ph[b])
        assert np.array_equal(rs["drive"][b * per:(b + 1) * per], single["drive"])
    with pytest.raises(ValueError, match="3 samples"):
        request_streams(img, 0, ph[:2])
    with pytest.raises(ValueError, match="outside"):
        request_streams(img, [0, 5, 1], ph)


def test_a_sample_is_the_same_alone_or_in_a_mixed_batch():
    """Bit-identical phases for every sample whether it runs alone or in a batch with other classes."""
    p = _params(n=48, m=8, lanes=8, fmt="default", batch=4)
    img = random_image(p, seed=9, num_classes=1000, num_steps=10, k_scale=3.0)
    golden = GoldenModel(img)
    ph = initial_phases(7, p.batch, p.n_total, p.spec)
    classes = np.array([999, 3, 999, 512])
    batch = golden.run(classes, ph)
    for b in range(p.batch):
        alone = golden.run(int(classes[b]), ph[b:b + 1])
        assert np.array_equal(alone.phases[0], batch.phases[b])
        assert alone.overflow[0] == batch.overflow[b]
    assert not np.array_equal(batch.phases[0], golden.run(3, ph[:1]).phases[0])  # the class matters
