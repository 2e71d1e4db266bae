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

    4 bytes  header length H (<= MAX_HEADER)
    H bytes  UTF-8 JSON object: {"fields": {...plain JSON values...},
                                 "arrays": [{"name", "dtype", "shape", "offset", "nbytes"}, ...]}
    rest     raw array bytes, little-endian, C order, back to back in descriptor order

Arrays use a whitelist of numeric dtypes; nothing is ever unpickled or evaluated. decode_frame is the one
place where wire input is checked: the frame, the JSON header, every array descriptor, and every field and
array against the schema of its message type (MESSAGE_SCHEMA). Every malformed input raises ProtocolError
(subclasses ChecksumError, LimitError), never anything else. A compressed payload is inflated in two steps:
first the header (at most MAX_HEADER bytes), which declares the exact body size; that size is checked
against the caller's limit (and an optional `admit` hook) before the body is inflated, so a small frame
cannot expand into a large allocation.
"""
from __future__ import annotations

import enum
import json
import math
import re
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
MAX_HEADER = 1 << 20  # JSON header of a payload
MAX_ARRAYS = 16  # arrays in one message
MAX_NDIM = 4  # dimensions of one array (the protocol's arrays have 1..3)
MAX_DIM = 1 << 31  # one dimension
MAX_WIRE_INT = 1 << 53  # integers in fields (exact in a float64 JSON reader)
FLAG_ZLIB = 1
COMPRESS_ABOVE = 4096  # compress payloads larger than this (helps slow serial links)
_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool"}
INT_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"})  # exact in int64


class ProtocolError(ValueError):
    """A frame or payload that does not follow the protocol. `seq` is the frame's sequence number when its
    checksum was good (the receiver can answer that request), else None (resynchronise); `kind` is the
    ERROR kind an agent answers with."""

    kind = "protocol"

    def __init__(self, message: str, seq: int | None = None):
        super().__init__(message)
        self.seq = seq


class ChecksumError(ProtocolError):
    """A frame whose CRC32 does not match: corrupted on the link; the sender should retry."""

    kind = "checksum"


class LimitError(ProtocolError):
    """A well-formed message that asks for more than the receiver's stated limits (sizes, steps, memory)."""

    kind = "limit"


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
    AUTH = 10  # client_nonce -> CHALLENGE (host.auth: mutual HMAC challenge-response)
    CHALLENGE = 11  # agent_nonce, agent_proof
    PROVE = 12  # client_proof -> OK {authenticated: true} or ERROR kind=auth


@dataclass
class Message:
    type: MsgType
    fields: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seq: int = 0


# ---- message schema (the one place that says what each message may hold) -------------------------------
@dataclass(frozen=True)
class _Check:
    desc: str
    ok: object  # callable(value) -> bool


def _is_int(v, lo=-MAX_WIRE_INT, hi=MAX_WIRE_INT):
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and abs(v) <= 1e300)


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _params_ok(v) -> bool:
    """A HardwareParams dict: n, n_cond, lanes and a spec of small integers that HardwareParams accepts."""
    if not isinstance(v, dict) or set(v) != {"n", "n_cond", "lanes", "spec"}:
        return False
    if not all(_is_int(v[k], 1, 1 << 20) for k in ("n", "n_cond", "lanes")):
        return False
    spec = v["spec"]
    if not isinstance(spec, dict) or len(spec) > 32 or not all(_is_int(x, 0, 64) for x in spec.values()):
        return False
    from fixedpoint.spec import HardwareParams

    try:
        HardwareParams.from_dict(v)
    except (TypeError, ValueError, KeyError):
        return False
    return True


INT = _Check("an integer", _is_int)
COUNT = _Check("an integer >= 0", lambda v: _is_int(v, 0))
NUM = _Check("a finite number", _is_num)
BOOL = _Check("true or false", lambda v: isinstance(v, bool))
DIGEST = _Check("a 64-digit lowercase hex SHA-256 digest", lambda v: isinstance(v, str) and bool(_HEX64.fullmatch(v)))
NONCE = _Check("64 lowercase hex digits", DIGEST.ok)
TEXT = _Check("a string of at most 4096 characters", lambda v: isinstance(v, str) and len(v) <= 4096)
OBJECT = _Check("a JSON object", lambda v: isinstance(v, dict))
PARAMS = _Check("a hardware-params object {n, n_cond, lanes, spec} that fixedpoint.spec accepts", _params_ok)
NUMBERS = TIMING = _Check("an object of finite numbers",
                lambda v: isinstance(v, dict) and len(v) <= 64 and all(_is_num(x) for x in v.values()))
DIGESTS = _Check("a list of digests", lambda v: isinstance(v, list) and len(v) <= 1024 and all(DIGEST.ok(x) for x in v))
INFO = _Check("an object with 'board' (string) and 'params' (null or hardware params)",
              lambda v: isinstance(v, dict) and isinstance(v.get("board"), str)
              and (v.get("params") is None or _params_ok(v.get("params"))))


def _opt(c: _Check) -> _Check:
    return _Check(f"null or {c.desc}", lambda v: v is None or c.ok(v))


#: per message type: (required fields, optional fields, required arrays, optional arrays). Arrays: name -> ndim;
#: every array of a message must have an integer dtype (INT_DTYPES). Replies may also carry agent_s.
MESSAGE_SCHEMA: dict[MsgType, tuple[dict, dict, dict, dict]] = {
    MsgType.HELLO: ({}, {}, {}, {}),
    MsgType.INFO: ({"info": INFO, "protocol": INT}, {"images": DIGESTS, "auth": BOOL, "idle_s": NUM, "stats": NUMBERS}, {}, {}),
    MsgType.HAS_IMAGE: ({"digest": DIGEST}, {}, {}, {}),
    MsgType.LOAD_IMAGE: ({"params": PARAMS, "dt": NUM, "num_steps": COUNT, "gain_shift": INT, "digest": DIGEST},
                         {"model_config": _opt(OBJECT)},
                         {"k": 2, "drive": 3, "kcond": 2, "gain": 1, "omega_inc": 1}, {}),
    MsgType.RUN: ({"digest": DIGEST, "class_id": INT}, {"steps": _opt(COUNT), "trajectory": BOOL},
                  {"phases0": 1}, {}),
    MsgType.RESULT: ({}, {"timing": TIMING, "overflow": BOOL}, {"phases": 1}, {"trajectory": 2}),
    MsgType.OK: ({}, {"loaded": BOOL, "digest": DIGEST, "bye": BOOL, "authenticated": BOOL}, {}, {}),
    MsgType.ERROR: ({"kind": TEXT, "message": TEXT}, {}, {}, {}),
    MsgType.BYE: ({}, {}, {}, {}),
    MsgType.AUTH: ({"client_nonce": NONCE}, {}, {}, {}),
    MsgType.CHALLENGE: ({"agent_nonce": NONCE, "agent_proof": NONCE}, {}, {}, {}),
    MsgType.PROVE: ({"client_proof": NONCE}, {}, {}, {}),
}
_REPLY_EXTRA = {"agent_s": NUM}
_REPLIES = {MsgType.INFO, MsgType.RESULT, MsgType.OK, MsgType.ERROR, MsgType.CHALLENGE}


def check_fields(mtype: MsgType, fields: dict, descs: list[dict], seq: int | None = None) -> None:
    """Fields and array descriptors of a message against MESSAGE_SCHEMA; ProtocolError naming the first fault."""
    req, opt, req_arr, opt_arr = MESSAGE_SCHEMA[mtype]
    allowed = dict(req, **opt, **(_REPLY_EXTRA if mtype in _REPLIES else {}))
    for name in fields:
        if name not in allowed:
            raise ProtocolError(f"{mtype.name} has an unknown field {name[:40]!r} (allowed: {sorted(allowed)})", seq)
    for name, chk in allowed.items():
        if name not in fields:
            if name in req:
                raise ProtocolError(f"{mtype.name} lacks field {name!r} ({chk.desc})", seq)
            continue
        if not chk.ok(fields[name]):
            raise ProtocolError(f"{mtype.name} field {name!r} must be {chk.desc}, got {_short(fields[name])}", seq)
    arr = dict(req_arr, **opt_arr)
    names = [d["name"] for d in descs]
    for name in names:
        if name not in arr:
            raise ProtocolError(f"{mtype.name} carries an unknown array {name[:40]!r} (allowed: {sorted(arr)})", seq)
    for name in req_arr:
        if name not in names:
            raise ProtocolError(f"{mtype.name} lacks array {name!r}", seq)
    for d in descs:
        if d["dtype"] not in INT_DTYPES or len(d["shape"]) != arr[d["name"]]:
            raise ProtocolError(f"{mtype.name} array {d['name']!r} must be a {arr[d['name']]}-D integer array, got "
                                f"{len(d['shape'])}-D {d['dtype']}", seq)


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


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


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _finite_float(s):
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"number {s[:20]} is out of range")
    return v


def parse_header_json(raw: bytes, seq: int | None = None) -> tuple[dict, list[dict], int]:
    """The payload's JSON header -> (fields, descriptors, body size); every descriptor checked."""
    try:
        head = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"payload header is not valid JSON: {e}", seq) from None
    if not isinstance(head, dict) or set(head) != {"fields", "arrays"} or not isinstance(head["fields"], dict) \
            or not isinstance(head["arrays"], list):
        raise ProtocolError("payload header must be an object with exactly 'fields' (object) and 'arrays' (list)", seq)
    descs = head["arrays"]
    if len(descs) > MAX_ARRAYS:
        raise ProtocolError(f"payload declares {len(descs)} arrays (at most {MAX_ARRAYS})", seq)
    off, names = 0, set()
    for d in descs:
        if not isinstance(d, dict) or set(d) != {"name", "dtype", "shape", "offset", "nbytes"}:
            raise ProtocolError(f"bad array descriptor {_short(d)}: needs exactly name, dtype, shape, offset, nbytes", seq)
        name, dtype, shape, o, nbytes = d["name"], d["dtype"], d["shape"], d["offset"], d["nbytes"]
        if not isinstance(name, str) or not 0 < len(name) <= 64 or name in names:
            raise ProtocolError(f"bad array descriptor {_short(d)}: name must be a new string of 1..64 characters", seq)
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ProtocolError(f"bad array descriptor {_short(d)}: dtype must be one of {sorted(_DTYPES)}", seq)
        if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_int(s, 0, MAX_DIM) for s in shape):
            raise ProtocolError(f"bad array descriptor {_short(d)}: shape must be a list of at most {MAX_NDIM} "
                                f"integers in 0..{MAX_DIM}", seq)
        count = 1
        for s in shape:
            count *= s
        if not _is_int(o, 0) or not _is_int(nbytes, 0) or o != off or count * np.dtype(dtype).itemsize != nbytes:
            raise ProtocolError(f"array {name!r}: {_short(nbytes)} bytes at offset {_short(o)} do not match shape "
                                f"{shape} {dtype} following the previous arrays (offset {off})", seq)
        names.add(name)
        off += nbytes
    return head["fields"], descs, off


def decode_payload(payload: bytes, seq: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """An uncompressed payload -> (fields, arrays); structure only (no message schema)."""
    src = _Source(payload, False)
    fields, descs = _read_header(src, seq)
    body = src.read(sum(d["nbytes"] for d in descs))
    return fields, _arrays(descs, body, src, seq)


class _Source:
    """Payload bytes, inflated on demand (never more than asked for) when compressed."""

    def __init__(self, payload: bytes, compressed: bool):
        self.data = memoryview(payload)
        self.pos = 0
        self.z = zlib.decompressobj() if compressed else None
        self.tail = self.data

    def read(self, n: int) -> bytes:
        if self.z is None:
            out = bytes(self.data[self.pos:self.pos + n])
            self.pos += len(out)
            return out
        parts, got = [], 0
        while got < n and not self.z.eof:
            before = len(self.tail)
            chunk = self.z.decompress(self.tail, min(n - got, 1 << 24))
            self.tail = self.z.unconsumed_tail
            if not chunk and len(self.tail) == before:  # no progress: the input is used up
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def at_end(self) -> bool:
        if self.z is None:
            return self.pos == len(self.data)
        return not self.read(1) and self.z.eof and not self.z.unused_data


def _read_header(src: _Source, seq):
    first = src.read(4)
    if len(first) < 4:
        raise ProtocolError("payload shorter than its 4-byte header length", seq)
    (hlen,) = struct.unpack("<I", first)
    if hlen > MAX_HEADER:
        raise ProtocolError(f"payload header of {hlen} bytes exceeds the {MAX_HEADER}-byte limit", seq)
    raw = src.read(hlen)
    if len(raw) != hlen:
        raise ProtocolError(f"payload header length {hlen} exceeds the payload", seq)
    fields, descs, _ = parse_header_json(raw, seq)
    return fields, descs


def _arrays(descs, body: bytes, src: _Source, seq) -> dict[str, np.ndarray]:
    need = sum(d["nbytes"] for d in descs)
    if len(body) != need or not src.at_end():
        raise ProtocolError(f"payload body does not hold exactly the {need} bytes its arrays declare", seq)
    arrays, off = {}, 0
    for d in descs:
        dt = np.dtype(d["dtype"]).newbyteorder("<")
        raw = body[off:off + d["nbytes"]]
        off += d["nbytes"]
        arrays[d["name"]] = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(d["shape"])
    return arrays


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


def parse_header(head: bytes, max_length: int = MAX_PAYLOAD) -> tuple[int, int, int, int]:
    """Check a 16-byte header; returns (type, flags, seq, length). Raises ProtocolError."""
    if len(head) != HEADER_SIZE:
        raise ProtocolError(f"frame header needs {HEADER_SIZE} bytes, got {len(head)}")
    magic, version, mtype, flags, seq, length = HEADER.unpack(head)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r} (expected {MAGIC!r})")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version}, this side speaks {PROTOCOL_VERSION}: update the agent or host")
    if flags & ~FLAG_ZLIB:
        raise ProtocolError(f"unknown frame flags {flags:#x}")
    if length > min(max_length, MAX_PAYLOAD):
        raise LimitError(f"frame of {length} bytes exceeds the {min(max_length, MAX_PAYLOAD)}-byte limit", seq)
    return mtype, flags, seq, length


def decode_frame(frame: bytes, *, max_payload: int = MAX_PAYLOAD, admit=None, schema: bool = True) -> Message:
    """One complete frame (header + payload + CRC) -> Message whose fields and arrays follow MESSAGE_SCHEMA.

    `max_payload` bounds the payload after decompression. `admit(mtype, fields, descriptors)`, if given, is
    called after the header is checked and before any array byte is inflated; it raises LimitError (or
    ProtocolError) to refuse the message. `schema=False` checks structure only (tests of the framing).
    Raises ProtocolError / ChecksumError / LimitError and nothing else.
    """
    try:
        return _decode_frame(bytes(frame), max_payload, admit, schema)
    except ProtocolError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, zlib.error) as e:
        # a fault the checks above did not name: still a protocol error, never a crash of the caller
        raise ProtocolError(f"malformed message ({type(e).__name__}: {e})") from None


def _decode_frame(frame: bytes, max_payload, admit, schema) -> Message:
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
    # from here on the frame arrived as sent: errors carry its seq so the receiver can answer them
    try:
        mt = MsgType(mtype)
    except ValueError:
        raise ProtocolError(f"unknown message type {mtype}", seq) from None
    src = _Source(frame[HEADER_SIZE:-CRC_SIZE], bool(flags & FLAG_ZLIB))
    try:
        fields, descs = _read_header(src, seq)
        if schema:
            check_fields(mt, fields, descs, seq)
        if admit is not None:
            admit(mt, fields, descs)
        body_len = sum(d["nbytes"] for d in descs)
        if body_len > max_payload:
            raise LimitError(f"{mt.name} declares {body_len / 2**20:.1f} MiB of arrays, more than the receiver's "
                             f"{max_payload / 2**20:.1f} MiB limit", seq)
        body = src.read(body_len)
        arrays = _arrays(descs, body, src, seq)
    except zlib.error as e:
        raise ProtocolError(f"compressed payload is corrupt: {e}", seq) from None
    except ProtocolError as e:
        if e.seq is None:
            e.seq = seq
        raise
    return Message(mt, fields, arrays, seq)


class FrameReader:
    """Incremental frame parser for byte streams: feed() bytes, next_frame() returns complete frames.

    Garbage before a magic is skipped (counted in `skipped`); a header that fails its checks makes the
    parser drop one byte and search for the next magic, so one corrupted frame cannot wedge the link.
    A header announcing more than `max_length` payload bytes is never buffered: next_frame raises
    LimitError carrying its seq (the receiver may answer it) and the parser moves on.
    """

    def __init__(self, max_length: int = MAX_PAYLOAD):
        self._buf = bytearray()
        self.skipped = 0
        self.max_length = max_length

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next complete raw frame, or None if more bytes are needed. Raises LimitError for a frame
        header that announces more than max_length bytes (that header is skipped)."""
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
                _, _, _, length = parse_header(bytes(self._buf[:HEADER_SIZE]), self.max_length)
            except LimitError:
                self.skipped += 1
                del self._buf[:1]
                raise
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
_IMAGE_ARRAYS = ("k", "drive", "kcond", "gain", "omega_inc")  # MESSAGE_SCHEMA[LOAD_IMAGE] arrays


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


def image_descriptor_check(fields: dict, descs: list[dict], seq: int | None = None) -> tuple[object, int, int]:
    """LOAD_IMAGE before any array byte is inflated: the descriptors must have exactly the shapes the image's
    params imply. Returns (HardwareParams, classes, bytes the image takes in memory as int64 arrays)."""
    from fixedpoint.spec import HardwareParams

    p = HardwareParams.from_dict(fields["params"])  # MESSAGE_SCHEMA checked it already
    shapes = {d["name"]: tuple(d["shape"]) for d in descs}
    classes = shapes["drive"][0] if len(shapes.get("drive", ())) == 3 else -1
    expect = {"k": (p.n, p.n), "drive": (classes, p.n, p.n_cond), "kcond": (p.n_cond, p.n_cond),
              "gain": (p.n_total,), "omega_inc": (p.n_total,)}
    for name, shape in expect.items():
        if shapes.get(name) != shape:
            raise ProtocolError(f"LOAD_IMAGE array {name!r} has shape {shapes.get(name)}, but params "
                                f"n={p.n}, n_cond={p.n_cond} need {shape}", seq)
    if classes < 1:
        raise ProtocolError("LOAD_IMAGE has no class drive rows", seq)
    elements = sum(math.prod(s) for s in expect.values())
    return p, classes, 8 * elements
