"""Load-stream and readback word layouts: the byte contract between host drivers and the RTL (numpy only).

Every load is a sequence of 32-bit words on the core's AXI4-Stream input, written after selecting a
target in the LOAD_TARGET register. Lane-banked memories are sent address-major, lane-minor, with
`lanes_per_word` lanes packed per word (lane t of a word in bits [t*bits, (t+1)*bits)).
Oscillator i lives in lane i % L at group i // L; bank address = group * columns + column. When L does not divide
n the last group is ragged: its lanes beyond row n hold all-zero weights (the banks are padded to groups * L rows).

Batches (params.batch = B): the per-request loads carry B samples, sample-major (sample b's drive rows, then
sample b+1's; phase words likewise), and the readback returns B * (n + n_cond) words in the same order.
Streamed-K builds (params.k_source == "ddr") have no "k" load: K sits in DDR as `k_ddr_planes` (the same
lane-packed columns, each padded to whole wide beats, split by AXI beat over the read ports' planes, each plane
padded to whole 16-beat bursts).
"""
from __future__ import annotations

import numpy as np

from .quantize import HardwareImage
from .spec import AXI_DATA_BITS, BUS_BITS, HardwareParams

#: Load targets, in LOAD_TARGET register encoding. The RTL imports this table.
LOAD_TARGETS = {"k": 0, "drive": 1, "kcond": 2, "gain": 3, "omega": 4, "phase": 5}


def pack_lanes(banked: np.ndarray, bits: int, per_word: int) -> np.ndarray:
    """(depth, lanes) signed ints -> uint32 words, per_word lanes in each."""
    depth, lanes = banked.shape
    if lanes % per_word:
        raise ValueError(f"{lanes} lanes do not pack evenly {per_word} per word")
    mask = (1 << bits) - 1
    v = (np.asarray(banked, dtype=np.int64) & mask).reshape(depth, lanes // per_word, per_word)
    shifts = (np.arange(per_word, dtype=np.int64) * bits)[None, None, :]
    return (v << shifts).sum(axis=2).reshape(-1).astype(np.uint64).astype(np.uint32)


def unpack_lanes(words: np.ndarray, bits: int, per_word: int, lanes: int) -> np.ndarray:
    """Inverse of pack_lanes (sign-extending each field)."""
    w = np.asarray(words, dtype=np.int64).reshape(-1, lanes // per_word, 1)
    shifts = (np.arange(per_word, dtype=np.int64) * bits)[None, None, :]
    f = (w >> shifts) & ((1 << bits) - 1)
    f = np.where(f >= 1 << (bits - 1), f - (1 << bits), f)
    return f.reshape(-1, lanes)


def _rows_padded(params: HardwareParams, rows: np.ndarray) -> np.ndarray:
    """(n, c) -> (groups * lanes, c): the ragged last group's missing rows are zero weights."""
    rows = np.asarray(rows)
    out = np.zeros((params.groups * params.lanes, rows.shape[1]), dtype=np.int64)
    out[: params.n] = rows
    return out


def k_banked(params: HardwareParams, k: np.ndarray) -> np.ndarray:
    g, L, n = params.groups, params.lanes, params.n
    return _rows_padded(params, k).reshape(g, L, n).transpose(0, 2, 1).reshape(g * n, L)


def drive_banked(params: HardwareParams, drive_c: np.ndarray) -> np.ndarray:
    g, L, m = params.groups, params.lanes, params.n_cond
    return _rows_padded(params, drive_c).reshape(g, L, m).transpose(0, 2, 1).reshape(g * m, L)


def kcond_banked(params: HardwareParams, kcond: np.ndarray) -> np.ndarray:
    m, L = params.n_cond, params.lanes
    out = np.zeros((m, L), dtype=np.int64)
    out[:, :m] = np.asarray(kcond).T  # address m, lane l -> Kc[l, m]
    return out


def words_signed(values: np.ndarray) -> np.ndarray:
    """One value per word, two's complement."""
    return (np.asarray(values, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32)


def words_to_phases(words: np.ndarray, params: HardwareParams) -> np.ndarray:
    """Readback words (sign-extended phase words) -> int64 phases."""
    return np.asarray(words, dtype=np.uint32).view(np.int32).astype(np.int64)


def k_words(image: HardwareImage) -> np.ndarray:
    """K as lane-packed 32-bit words, column after column (the on-chip build's "k" load stream)."""
    p, s = image.params, image.params.spec
    return pack_lanes(k_banked(p, image.k), s.coupling_bits, p.lanes_per_word(s.coupling_bits))


def k_ddr_planes(image: HardwareImage) -> np.ndarray:
    """The K image a streamed-K build reads from DDR each Euler step: (k_ports, k_plane_bytes // 4) uint32 words
    (little-endian), plane p for AXI read master p.

    The logical K stream is a sequence of wide beats of k_ports * 64 bits: column c (= group * n + j, the order
    the lanes consume) fills k_column_beats wide beats, its k_column_words packed words first, then zeros.
    AXI beat p (bits [64p, 64p+64)) of every wide beat goes to plane p, in order; each plane is zero-padded to
    whole 16-beat bursts (k_plane_bytes). With one port the plane is simply the padded columns.
    """
    p = image.params
    wide_words = p.k_beat_bits // BUS_BITS
    col_stride = p.k_column_beats * wide_words
    stream = np.zeros((p.k_bank_depth, col_stride), dtype=np.uint32)
    stream[:, : p.k_column_words] = k_words(image).reshape(p.k_bank_depth, p.k_column_words)
    beats = stream.reshape(p.k_beats_used, p.k_ports, AXI_DATA_BITS // BUS_BITS)
    out = np.zeros((p.k_ports, p.k_plane_bytes // 4), dtype=np.uint32)
    for port in range(p.k_ports):
        out[port, : beats.shape[0] * beats.shape[2]] = beats[:, port, :].reshape(-1)
    return out


def model_streams(image: HardwareImage) -> dict[str, np.ndarray]:
    """Words for the per-model memories (loaded once, cached by image digest); no "k" for streamed-K builds."""
    p, s = image.params, image.params.spec
    out = {} if p.k_streamed else {"k": k_words(image)}
    out.update({
        "kcond": pack_lanes(kcond_banked(p, image.kcond), s.drive_bits, p.lanes_per_word(s.drive_bits)),
        "gain": words_signed(image.gain),
        "omega": words_signed(image.omega_inc),
    })
    return out


def request_streams(image: HardwareImage, class_id, phases0: np.ndarray) -> dict[str, np.ndarray]:
    """Words for one request: each sample's class drive rows and the initial phases.

    class_id: an int, or one class per sample ((B,) ints; samples of a batch may differ); phases0:
    (n_total,) for B = 1 or (B, n_total) phase words.
    """
    p, s = image.params, image.params.spec
    phases0 = np.asarray(phases0, dtype=np.int64).reshape(-1, p.n_total)
    ids = np.broadcast_to(np.asarray(class_id, dtype=np.int64).reshape(-1), (phases0.shape[0],))
    if phases0.shape[0] != p.batch:
        raise ValueError(f"a request for this build holds {p.batch} samples of {p.n_total} phases, got {phases0.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= image.num_classes):
        raise ValueError(f"class ids {ids.tolist()} outside 0..{image.num_classes - 1}")
    per_d = p.lanes_per_word(s.drive_bits)
    return {
        "drive": np.concatenate([pack_lanes(drive_banked(p, image.drive[c]), s.drive_bits, per_d) for c in ids]),
        "phase": words_signed(phases0.reshape(-1)),
    }


def stream_lengths(params: HardwareParams) -> dict[str, int]:
    """Words each load target expects (the RTL counts the same); "k" is 0 on streamed-K builds."""
    s = params.spec
    return {
        "k": 0 if params.k_streamed else params.k_bank_depth * params.k_column_words,
        "drive": params.batch * params.groups * params.n_cond * params.lanes // params.lanes_per_word(s.drive_bits),
        "kcond": params.n_cond * params.lanes // params.lanes_per_word(s.drive_bits),
        "gain": params.n_total,
        "omega": params.n_total,
        "phase": params.state_words,
    }


assert BUS_BITS == 32  # the packers above emit uint32 words
