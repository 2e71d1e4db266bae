"""Frame/payload protocol: round trips, checksum detection, resynchronisation, and a hypothesis fuzz."""
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.protocol import (HEADER, MAGIC, MAX_PAYLOAD, ChecksumError, FrameReader, LimitError, Message, MsgType, ProtocolError,
                           decode_frame, encode_frame, image_from_message, image_message)


def _roundtrip(msg, compress=None, schema=False):
    """Framing layer only (schema=False): arbitrary fields and arrays survive a round trip."""
    return decode_frame(encode_frame(msg, compress=compress), schema=schema)


def test_roundtrip_fields_and_arrays():
    arrays = {"a": np.arange(-5, 5, dtype=np.int64), "b": np.ones((2, 3), np.float32), "c": np.array([], np.uint8),
              "d": np.array(True)}
    msg = Message(MsgType.RUN, {"x": 1, "y": [1.5, "s"], "z": {"k": None}}, arrays, seq=123456)
    for compress in (False, True):
        got = _roundtrip(msg, compress)
        assert got.type == MsgType.RUN and got.seq == 123456 and got.fields == msg.fields
        for k, a in arrays.items():
            assert got.arrays[k].dtype == a.dtype and got.arrays[k].shape == a.shape
            np.testing.assert_array_equal(got.arrays[k], a)


def test_big_endian_arrays_arrive_as_values():
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    got = _roundtrip(Message(MsgType.OK, {}, {"a": a}))
    np.testing.assert_array_equal(got.arrays["a"], a)


def test_every_single_byte_flip_is_caught():
    frame = bytearray(encode_frame(Message(MsgType.RUN, {"v": 7}, {"p": np.arange(10, dtype=np.int64)}, seq=3)))
    for i in range(len(frame)):
        bad = bytearray(frame)
        bad[i] ^= 0x01
        with pytest.raises(ProtocolError):
            decode_frame(bytes(bad), schema=False)


def test_checksum_error_type_for_payload_damage():
    frame = bytearray(encode_frame(Message(MsgType.OK, {"v": 1})))
    frame[HEADER.size + 2] ^= 0xFF
    with pytest.raises(ChecksumError):
        decode_frame(bytes(frame))


def test_refuses_objects_and_unknown_dtypes():
    with pytest.raises(ProtocolError):
        encode_frame(Message(MsgType.OK, {}, {"o": np.array([object()], dtype=object)}))
    with pytest.raises(ProtocolError):
        encode_frame(Message(MsgType.OK, {"f": object()}))
    # a hand-made payload naming a non-whitelisted dtype is rejected, never interpreted
    head = b'{"fields": {}, "arrays": [{"name": "x", "dtype": "object", "shape": [1], "offset": 0, "nbytes": 8}]}'
    payload = struct.pack("<I", len(head)) + head + b"\0" * 8
    h = HEADER.pack(MAGIC, 1, int(MsgType.OK), 0, 1, len(payload))
    with pytest.raises(ProtocolError, match="descriptor"):
        decode_frame(h + payload + struct.pack("<I", zlib.crc32(h + payload)))


def test_oversized_length_rejected_without_allocating():
    h = HEADER.pack(MAGIC, 1, int(MsgType.OK), 0, 1, MAX_PAYLOAD + 1)
    with pytest.raises(ProtocolError):
        decode_frame(h + b"\0" * 4)
    r = FrameReader()  # a stream parser reports it (with its seq) instead of waiting for 64 MiB, then moves on
    r.feed(h + encode_frame(Message(MsgType.OK, {"loaded": True}, seq=9)))
    with pytest.raises(LimitError) as e:
        r.next_frame()
    assert e.value.seq == 1
    assert decode_frame(r.next_frame()).fields == {"loaded": True}


def test_reader_resynchronises_after_garbage_and_split_feeds():
    f1 = encode_frame(Message(MsgType.OK, {"i": 1}, seq=1))
    f2 = encode_frame(Message(MsgType.OK, {"i": 2}, {"a": np.arange(3000, dtype=np.int32)}, seq=2))
    bad_header = MAGIC + b"\xff" * 12  # looks like a frame start, fails the version check
    stream = b"noise" + f1 + bad_header + b"xx" + f2
    r = FrameReader()
    got = []
    for i in range(0, len(stream), 7):  # byte dribble
        r.feed(stream[i:i + 7])
        while (f := r.next_frame()) is not None:
            got.append(decode_frame(f, schema=False))
    assert [m.fields["i"] for m in got] == [1, 2]
    assert r.skipped >= len(b"noise") + len(bad_header)


def test_image_roundtrip_keeps_digest(tiny_image):
    msg = _roundtrip(image_message(tiny_image))
    img = image_from_message(msg)
    assert img.digest() == tiny_image.digest()
    np.testing.assert_array_equal(img.k, tiny_image.k)


def test_image_message_with_tampered_array_is_refused(tiny_image):
    msg = image_message(tiny_image)
    msg.arrays["gain"] = msg.arrays["gain"].copy()
    msg.arrays["gain"][0] ^= 1
    with pytest.raises(ProtocolError, match="digest"):
        image_from_message(_roundtrip(msg))


@pytest.fixture(scope="module")
def tiny_image():
    from fixedpoint.quantize import quantize
    from fixedpoint.spec import HardwareParams

    rng = np.random.default_rng(0)
    n, m, c = 16, 8, 3
    eff = {"K": rng.normal(0, 0.3, (n, n)), "K_drive": rng.normal(0, 0.3, (c, n, m)), "K_cond": rng.normal(0, 0.3, (m, m)),
           "omega": rng.normal(0, 1, n), "omega_cond": rng.normal(0, 1, m)}
    np.fill_diagonal(eff["K"], 0)
    np.fill_diagonal(eff["K_cond"], 0)
    return quantize(eff, HardwareParams(n, m, 8), 0.1, 10, {"relativization": "mean_relative"})


# ---- fuzz ------------------------------------------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_decode_frame_only_raises_protocol_error(data):
    try:
        decode_frame(data)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2**32 - 1), st.sampled_from(list(MsgType)))
def test_fuzz_valid_header_garbage_payload(payload, seq, mtype):
    """A correctly framed and checksummed frame with arbitrary payload bytes: still only ProtocolError."""
    for flags in (0, 1):
        h = HEADER.pack(MAGIC, 1, int(mtype), flags, seq, len(payload))
        try:
            decode_frame(h + payload + struct.pack("<I", zlib.crc32(h + payload)))
        except ProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_fuzz_reader_never_crashes(chunks):
    r = FrameReader()
    for c in chunks:
        r.feed(c)
        while True:
            f = r.next_frame()
            if f is None:
                break
            try:
                decode_frame(f)
            except ProtocolError:
                pass


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=10)
                     | st.floats(allow_nan=False, allow_infinity=False),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                     max_leaves=12)
_dtypes = st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float32", "float64"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json, max_size=5), st.integers(0, 2**32 - 1),
       st.lists(st.tuples(_dtypes, st.lists(st.integers(0, 5), max_size=3)), max_size=3), st.booleans())
def test_fuzz_roundtrip(fields, seq, specs, compress):
    rng = np.random.default_rng(len(specs))
    arrays = {f"a{i}": rng.integers(0, 100, size=shape).astype(dt) for i, (dt, shape) in enumerate(specs)}
    got = decode_frame(encode_frame(Message(MsgType.RESULT, fields, arrays, seq), compress=compress), schema=False)
    assert got.fields == fields and got.seq == seq
    for k, a in arrays.items():
        assert got.arrays[k].dtype == a.dtype and got.arrays[k].shape == a.shape
        np.testing.assert_array_equal(got.arrays[k], a)
