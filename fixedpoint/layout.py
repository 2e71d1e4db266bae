"""Load-stream and readback word layouts: the byte contract between host drivers and the RTL (numpy only).

Every load is a sequence of 32-bit words on the core's AXI4-Stream input, written after selecting a
target in the LOAD_TARGET register. Lane-banked memories are sent address-major, lane-minor, with
`lanes_per_word` lanes packed per word (lane t of a word in bits [t*bits, (t+1)*bits)).
Oscillator i lives in lane i % L at group i // L; bank address = group * columns + column.
"""
from __future__ import annotations

import numpy as np

from .quantize import HardwareImage
from .spec import BUS_BITS, HardwareParams

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


def k_banked(params: HardwareParams, k: np.ndarray) -> np.ndarray:
    g, L, n = params.groups, params.lanes, params.n
    return k.reshape(g, L, n).transpose(0, 2, 1).reshape(g * n, L)


def drive_banked(params: HardwareParams, drive_c: np.ndarray) -> np.ndarray:
    g, L, m = params.groups, params.lanes, params.n_cond
    return drive_c.reshape(g, L, m).transpose(0, 2, 1).reshape(g * m, L)


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


def model_streams(image: HardwareImage) -> dict[str, np.ndarray]:
    """Words for the per-model memories (loaded once, cached by image digest)."""
    p, s = image.params, image.params.spec
    return {
        "k": pack_lanes(k_banked(p, image.k), s.coupling_bits, p.lanes_per_word(s.coupling_bits)),
        "kcond": pack_lanes(kcond_banked(p, image.kcond), s.drive_bits, p.lanes_per_word(s.drive_bits)),
        "gain": words_signed(image.gain),
        "omega": words_signed(image.omega_inc),
    }


def request_streams(image: HardwareImage, class_id: int, phases0: np.ndarray) -> dict[str, np.ndarray]:
    """Words for one request: the class's drive rows and the initial phases."""
    p, s = image.params, image.params.spec
    if not 0 <= class_id < image.num_classes:
        raise ValueError(f"class id {class_id} outside 0..{image.num_classes - 1}")
    return {
        "drive": pack_lanes(drive_banked(p, image.drive[class_id]), s.drive_bits, p.lanes_per_word(s.drive_bits)),
        "phase": words_signed(phases0),
    }


def stream_lengths(params: HardwareParams) -> dict[str, int]:
    """Words each load target expects (the RTL counts the same)."""
    s = params.spec
    return {
        "k": params.k_bank_depth * params.lanes // params.lanes_per_word(s.coupling_bits),
        "drive": params.groups * params.n_cond * params.lanes // params.lanes_per_word(s.drive_bits),
        "kcond": params.n_cond * params.lanes // params.lanes_per_word(s.drive_bits),
        "gain": params.n_total,
        "omega": params.n_total,
        "phase": params.n_total,
    }


assert BUS_BITS == 32  # the packers above emit uint32 words
