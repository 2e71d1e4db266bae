"""Framed, checksummed messages between the host and a board agent (numpy + stdlib only, no pickle).

Frame (all integers little-endian):

    offset size  field
    0      4     magic  b"OSCF"
    4      1     version (PROTOCOL_VERSION)
    5      1     type    (MsgType)
    6      2     flags   (bit 0: payload is zlib-compressed)
    8      4     seq     request sequence number; a reply carries its request's seq
    12     4     length  payload bytes on the wire (<= MAX_PAYLOAD)
    16     len   payload
    16+len 4     CRC32 of bytes [0, 16+len)

Payload (after decompression):

    4 bytes  header length H
    H bytes  UTF-8 JSON object: {"fields": {...plain JSON values...},
                                 "arrays": [{"name", "dtype", "shape", "offset", "nbytes"}, ...]}
    rest     raw array bytes, little-endian, C order, at the given offsets

Arrays use a whitelist of numeric dtypes; nothing is ever unpickled or evaluated. Every malformed
input raises ProtocolError (or its subclass ChecksumError), never anything else.
"""
from __future__ import annotations

import enum
import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"OSCF"
PROTOCOL_VERSION = 1
HEADER = struct.Struct("<4sBBHII")
HEADER_SIZE = HEADER.size  # 16
CRC_SIZE = 4
MAX_PAYLOAD = 64 << 20  # 64 MiB: the largest image (cifar10-n4096 K as int8) fits with room
FLAG_ZLIB = 1
COMPRESS_ABOVE = 4096  # compress payloads larger than this (helps slow serial links)
_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool"}


class ProtocolError(ValueError):
    """A frame or payload that does not follow the protocol."""


class ChecksumError(ProtocolError):
    """A frame whose CRC32 does not match: corrupted on the link; the sender should retry."""


class MsgType(enum.IntEnum):
    HELLO = 1  # -> INFO
    INFO = 2
    HAS_IMAGE = 3  # fields: digest -> OK {loaded: bool}
    LOAD_IMAGE = 4  # image fields + arrays -> OK {digest}
    RUN = 5  # fields: digest, class_id, steps, trajectory; arrays: phases0 -> RESULT
    RESULT = 6
    OK = 7
    ERROR = 8  # fields: kind, message
    BYE = 9  # -> OK, then the agent closes the connection


@dataclass
class Message:
    type: MsgType
    fields: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seq: int = 0


# ---- payload -------------------------------------------------------------------------------------
def encode_payload(fields: dict, arrays: dict[str, np.ndarray]) -> bytes:
    descs, blobs, off = [], [], 0
    for name, a in arrays.items():
        a = np.asarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt.name not in _DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {a.dtype}, which the protocol does not carry")
        raw = np.ascontiguousarray(a, dtype=dt.newbyteorder("<")).tobytes()
        descs.append({"name": name, "dtype": dt.name, "shape": list(a.shape), "offset": off, "nbytes": len(raw)})
        blobs.append(raw)
        off += len(raw)
    try:
        head = json.dumps({"fields": fields, "arrays": descs}, allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"message fields are not plain JSON: {e}") from None
    return struct.pack("<I", len(head)) + head + b"".join(blobs)


def decode_payload(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    if len(payload) < 4:
        raise ProtocolError("payload shorter than its 4-byte header length")
    (hlen,) = struct.unpack_from("<I", payload)
    if hlen > len(payload) - 4:
        raise ProtocolError(f"payload header length {hlen} exceeds payload ({len(payload) - 4} bytes)")
    try:
        head = json.loads(payload[4:4 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"payload header is not valid JSON: {e}") from None
    if not isinstance(head, dict) or not isinstance(head.get("fields"), dict) or not isinstance(head.get("arrays"), list):
        raise ProtocolError("payload header must be an object with 'fields' (object) and 'arrays' (list)")
    body = memoryview(payload)[4 + hlen:]
    arrays = {}
    for d in head["arrays"]:
        try:
            name, dtype, shape, off, nbytes = d["name"], d["dtype"], d["shape"], d["offset"], d["nbytes"]
        except (KeyError, TypeError):
            raise ProtocolError(f"bad array descriptor {d!r}") from None
        if not isinstance(name, str) or dtype not in _DTYPES or not isinstance(shape, list) \
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 1 << 40 for s in shape) \
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in (off, nbytes)):
            raise ProtocolError(f"bad array descriptor {d!r}")
        dt = np.dtype(dtype).newbyteorder("<")
        count = 1
        for s in shape:
            count *= s
        if count * dt.itemsize != nbytes or off < 0 or off + nbytes > len(body):
            raise ProtocolError(f"array {name!r}: {nbytes} bytes at {off} do not match shape {shape} {dtype} "
                                f"inside a {len(body)}-byte body")
        arrays[name] = np.frombuffer(body[off:off + nbytes], dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(shape)
    return head["fields"], arrays


# ---- frames --------------------------------------------------------------------------------------
def encode_frame(msg: Message, compress: bool | None = None) -> bytes:
    payload = encode_payload(msg.fields, msg.arrays)
    flags = 0
    if compress or (compress is None and len(payload) > COMPRESS_ABOVE):
        packed = zlib.compress(payload, 1)
        if len(packed) < len(payload):
            payload, flags = packed, FLAG_ZLIB
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"message payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    head = HEADER.pack(MAGIC, PROTOCOL_VERSION, int(msg.type), flags, msg.seq & 0xFFFFFFFF, len(payload))
    return head + payload + struct.pack("<I", zlib.crc32(head + payload))


def parse_header(head: bytes) -> tuple[int, int, int, int]:
    """Check a 16-byte header; returns (type, flags, seq, length). Raises ProtocolError."""
    if len(head) != HEADER_SIZE:
        raise ProtocolError(f"frame header needs {HEADER_SIZE} bytes, got {len(head)}")
    magic, version, mtype, flags, seq, length = HEADER.unpack(head)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r} (expected {MAGIC!r})")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version}, this side speaks {PROTOCOL_VERSION}: update the agent or host")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame length {length} exceeds the {MAX_PAYLOAD}-byte limit")
    if flags & ~FLAG_ZLIB:
        raise ProtocolError(f"unknown frame flags {flags:#x}")
    return mtype, flags, seq, length


def decode_frame(frame: bytes) -> Message:
    """One complete frame (header + payload + CRC) -> Message. Raises ProtocolError / ChecksumError."""
    frame = bytes(frame)
    if len(frame) < HEADER_SIZE + CRC_SIZE:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than header + CRC")
    head = frame[:HEADER_SIZE]
    try:
        mtype, flags, seq, length = parse_header(head)
    except ProtocolError:
        if frame[:4] == MAGIC and zlib.crc32(frame[:-4]) != struct.unpack("<I", frame[-4:])[0]:
            raise ChecksumError("frame checksum mismatch (corrupted header)") from None
        raise
    if len(frame) != HEADER_SIZE + length + CRC_SIZE:
        raise ProtocolError(f"frame holds {len(frame) - HEADER_SIZE - CRC_SIZE} payload bytes, header says {length}")
    (crc,) = struct.unpack("<I", frame[-CRC_SIZE:])
    if zlib.crc32(frame[:-CRC_SIZE]) != crc:
        raise ChecksumError(f"frame checksum mismatch (seq {seq}): corrupted on the link")
    payload = frame[HEADER_SIZE:-CRC_SIZE]
    if flags & FLAG_ZLIB:
        try:
            d = zlib.decompressobj()
            payload = d.decompress(payload, MAX_PAYLOAD)
            if d.unconsumed_tail or not d.eof:
                raise ProtocolError("compressed payload is truncated or larger than the limit")
        except zlib.error as e:
            raise ProtocolError(f"compressed payload is corrupt: {e}") from None
    try:
        mt = MsgType(mtype)
    except ValueError:
        raise ProtocolError(f"unknown message type {mtype}") from None
    fields, arrays = decode_payload(payload)
    return Message(mt, fields, arrays, seq)


class FrameReader:
    """Incremental frame parser for byte streams: feed() bytes, next_frame() returns complete frames.

    Garbage before a magic is skipped (counted in `skipped`); a header that fails its checks makes the
    parser drop one byte and search for the next magic, so one corrupted frame cannot wedge the link.
    """

    def __init__(self):
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next complete raw frame, or None if more bytes are needed. Raises ProtocolError when
        garbage was skipped over a header that looked like a frame but did not parse."""
        while True:
            i = self._buf.find(MAGIC)
            if i < 0:
                keep = len(MAGIC) - 1  # a magic may straddle the next feed
                drop = max(0, len(self._buf) - keep)
                self.skipped += drop
                del self._buf[:drop]
                return None
            if i:
                self.skipped += i
                del self._buf[:i]
            if len(self._buf) < HEADER_SIZE:
                return None
            try:
                _, _, _, length = parse_header(bytes(self._buf[:HEADER_SIZE]))
            except ProtocolError:
                self.skipped += 1
                del self._buf[:1]
                continue
            total = HEADER_SIZE + length + CRC_SIZE
            if len(self._buf) < total:
                return None
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            return frame


# ---- the model image on the wire ----------------------------------------------------------------
_IMAGE_ARRAYS = ("k", "drive", "kcond", "gain", "omega_inc")


def image_message(image, seq: int = 0) -> Message:
    """LOAD_IMAGE for a HardwareImage: the smallest integer dtype per array (serial links are slow)."""
    arrays = {}
    for name in _IMAGE_ARRAYS:
        a = np.asarray(getattr(image, name), dtype=np.int64)
        for dt in (np.int8, np.int16, np.int32, np.int64):
            if a.size == 0 or (a.min() >= np.iinfo(dt).min and a.max() <= np.iinfo(dt).max):
                arrays[name] = a.astype(dt)
                break
    fields = {"params": image.params.to_dict(), "dt": image.dt, "num_steps": image.num_steps,
              "gain_shift": image.gain_shift, "model_config": image.model_config, "digest": image.digest()}
    return Message(MsgType.LOAD_IMAGE, fields, arrays, seq)


def image_from_message(msg: Message):
    """LOAD_IMAGE -> validated HardwareImage whose digest equals the one the sender computed."""
    from fixedpoint.quantize import HardwareImage
    from fixedpoint.spec import HardwareParams

    f, a = msg.fields, msg.arrays
    try:
        img = HardwareImage(params=HardwareParams.from_dict(f["params"]), dt=float(f["dt"]),
                            num_steps=int(f["num_steps"]), gain_shift=int(f["gain_shift"]),
                            model_config=dict(f.get("model_config") or {}),
                            **{name: a[name].astype(np.int64) for name in _IMAGE_ARRAYS})
        img.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"LOAD_IMAGE does not hold a valid hardware image: {e}") from None
    if img.digest() != f.get("digest"):
        raise ProtocolError("LOAD_IMAGE digest mismatch: the image changed on the way (or the sender is broken)")
    return img
