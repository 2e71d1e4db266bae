"""The fixed-point numerics contract of the oscillator hardware: one place for every format and width.

Everything the RTL builds, the golden model computes and the host packs is derived from the two
dataclasses below. docs/numerics.md explains each choice; this module is the single source of truth
(numpy-free, so the RTL generator, the board agent and the host all import it).

Units:
  phase   signed integer in units of 2**-F turns, P = W + F bits, wraps at +-2**(W-1) turns (the W
          whole-turn bits keep the unwrapped phase that Un-0's mean-relative readout needs).
  trig    signed S-bit integers approximating A*sin and A*cos, A = 2**(S-1) - 1.
  weights signed integers, per-row scale folded into an unsigned gain g_i and a global right shift.
  omega   signed per-step phase increment Omega_i = round(omega_i * dt * 2**F / (2 pi)).

One Euler step for oscillator i (all oscillators see the trig of the *old* phases):
  accS_i = sum_j w_ij s_j,  accC_i = sum_j w_ij c_j                  (exact integer MACs)
  u_i    = c_i * accS_i - s_i * accC_i                               (exact)
  d_i    = (((u_i >> T) * g_i) + 2**(R-1)) >> R                      (>> is arithmetic, floor)
  theta_i <- wrap_P(theta_i + Omega_i + d_i)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

#: Width of every AXI word (registers, load stream, readback stream).
BUS_BITS = 32
#: Largest class count and Euler step count a model config or a hardware image may declare (checked before any
#: tensor is read; model.config re-uses them). Steps: 40x the release recipes' 10-25 steps.
MAX_CLASSES = 1000
MAX_STEPS = 1000
#: Streamed-K builds: data width of the K read master (a Zynq-7000 HP port is 64-bit AXI3; UG585 Table 22-8).
AXI_DATA_BITS = 64
#: Beats per K read burst: AXI3's maximum (HP ports are AXI3; longer AXI4 bursts get split, PG059).
AXI_BURST_BEATS = 16
#: Bytes per K read burst (128 B); the K image in DDR is a whole number of bursts, each burst-aligned.
AXI_BURST_BYTES = AXI_BURST_BEATS * AXI_DATA_BITS // 8
#: Where the main coupling K lives: on-chip block RAM, or DDR, streamed once per Euler step.
K_SOURCES = ("bram", "ddr")
#: Most K read masters (HP ports) a streamed-K build may use; the XC7Z020 has four HP ports.
K_PORTS_MAX = 4


def signed_bits(bound: int) -> int:
    """Bits of a two's-complement word that holds every integer in [-bound, bound]."""
    return max(1, int(bound).bit_length() + 1)


@dataclass(frozen=True)
class NumericsSpec:
    """Formats of the datapath. Defaults are the project's chosen format (see docs/numerics.md)."""

    phase_frac_bits: int = 24  # F: fraction of a turn
    phase_turn_bits: int = 8  # W: signed whole turns above the wrap
    cordic_in_bits: int = 16  # FC: top fraction bits the CORDIC sees (truncated)
    trig_bits: int = 16  # S: sin/cos output width
    cordic_iters: int = 16  # I: micro-rotations
    cordic_guard_bits: int = 4  # G: extra LSBs on the x/y datapath
    cordic_angle_guard_bits: int = 4  # GA: extra LSBs on the residual angle
    coupling_bits: int = 8  # Bw: main coupling K weights
    drive_bits: int = 16  # Bd: class drive and conditioning-block weights
    gain_bits: int = 17  # unsigned per-row gain mantissa (fits a DSP48 B port)

    def __post_init__(self):
        checks = [
            (8 <= self.phase_frac_bits <= 30, "phase_frac_bits must be 8..30"),
            (2 <= self.phase_turn_bits and self.phase_bits <= BUS_BITS, "phase word must fit 32 bits with >= 2 turn bits"),
            (4 <= self.cordic_in_bits <= self.phase_frac_bits, "cordic_in_bits must be 4..phase_frac_bits"),
            (4 <= self.trig_bits <= 18, "trig_bits must be 4..18 (DSP48 port)"),
            (1 <= self.cordic_iters <= 24, "cordic_iters must be 1..24"),
            (0 <= self.cordic_guard_bits <= 8 and 0 <= self.cordic_angle_guard_bits <= 8, "guard bits must be 0..8"),
            (2 <= self.coupling_bits <= 16, "coupling_bits must be 2..16"),
            (2 <= self.drive_bits <= 16, "drive_bits must be 2..16"),
            (4 <= self.gain_bits <= 24, "gain_bits must be 4..24"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"invalid NumericsSpec: {msg} (got {self})")

    @property
    def phase_bits(self) -> int:
        return self.phase_turn_bits + self.phase_frac_bits

    @property
    def trig_amplitude(self) -> int:
        """A: the integer that stands for 1.0 at the CORDIC output."""
        return (1 << (self.trig_bits - 1)) - 1

    @property
    def coupling_max(self) -> int:
        return (1 << (self.coupling_bits - 1)) - 1

    @property
    def drive_max(self) -> int:
        return (1 << (self.drive_bits - 1)) - 1

    @property
    def cordic_angles(self) -> tuple[int, ...]:
        """atan(2**-i) in units of 2**-(FC+GA) turns, rounded to nearest."""
        scale = 1 << (self.cordic_in_bits + self.cordic_angle_guard_bits)
        return tuple(int(round(math.atan(2.0**-i) / (2 * math.pi) * scale)) for i in range(self.cordic_iters))

    @property
    def cordic_gain(self) -> float:
        return math.prod(math.sqrt(1.0 + 2.0 ** (-2 * i)) for i in range(self.cordic_iters))

    @property
    def cordic_x0(self) -> int:
        """Start vector length: A * 2**G / gain, so the rotated vector ends at amplitude A."""
        return int(round(self.trig_amplitude * (1 << self.cordic_guard_bits) / self.cordic_gain))

    @property
    def cordic_xy_bits(self) -> int:
        return self.trig_bits + self.cordic_guard_bits + 2

    @property
    def cordic_z_bits(self) -> int:
        return self.cordic_in_bits + self.cordic_angle_guard_bits + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NumericsSpec":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown NumericsSpec fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


#: Named formats. "default" is the project's choice; "pynq-z2-n1024" is what fits cifar10-n1024's
#: K into the XC7Z020 block RAM (4-bit couplings); "wide" is a near-float reference format.
FORMATS: dict[str, NumericsSpec] = {
    "default": NumericsSpec(),
    "pynq-z2-n1024": NumericsSpec(coupling_bits=4),
    "wide": NumericsSpec(coupling_bits=16, trig_bits=18, cordic_in_bits=20, cordic_iters=20),
}


def get_format(name: str) -> NumericsSpec:
    if name not in FORMATS:
        raise ValueError(f"unknown numerics format {name!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[name]


@dataclass(frozen=True)
class HardwareParams:
    """One build of the oscillator core: sizes, lane count and the numerics spec.

    Oscillator i (0 <= i < n) lives in lane i % lanes, group i // lanes. Conditioning oscillators
    n..n+n_cond-1 form one extra group handled by lanes 0..n_cond-1.

    batch (B): samples per run; every weight the lanes read feeds B phase vectors (one per clock), so a run
    of B samples reads K once per Euler step. k_source: "bram" keeps K in on-chip banks (loaded once per
    model); "ddr" streams K from DDR once per Euler step through k_ports AXI4 read masters (one per HP port),
    each reading its own plane of `k_plane_bytes` in 16-beat bursts (fixedpoint.layout.k_ddr_planes;
    docs/numerics.md §9).
    """

    n: int
    n_cond: int
    lanes: int
    spec: NumericsSpec = field(default_factory=NumericsSpec)
    batch: int = 1
    k_source: str = "bram"
    k_ports: int = 1

    def __post_init__(self):
        if self.n < 1 or self.n_cond < 1 or self.lanes < 1:
            raise ValueError(f"n, n_cond and lanes must be positive (got n={self.n}, n_cond={self.n_cond}, lanes={self.lanes})")
        if not 1 <= self.batch <= 64:
            raise ValueError(f"batch must be 1..64 (got {self.batch})")
        if self.k_source not in K_SOURCES:
            raise ValueError(f"k_source must be one of {K_SOURCES} (got {self.k_source!r})")
        if not 1 <= self.k_ports <= K_PORTS_MAX or (self.k_ports > 1 and not self.k_streamed):
            raise ValueError(f"k_ports must be 1..{K_PORTS_MAX}, and 1 unless K is streamed from DDR (got {self.k_ports})")
        if self.n % self.lanes:
            raise ValueError(f"n={self.n} must be a multiple of lanes={self.lanes}")
        if self.n_cond > self.lanes:
            raise ValueError(f"n_cond={self.n_cond} must not exceed lanes={self.lanes}")
        for name, b in (("coupling", self.spec.coupling_bits), ("drive", self.spec.drive_bits)):
            per = self.lanes_per_word(b)
            if self.lanes % per:
                raise ValueError(f"lanes={self.lanes} must be a multiple of {per} ({name} weights packed per 32-bit word)")
        if self.acc_bound >= 1 << 53:
            raise ValueError(f"accumulator bound {self.acc_bound} exceeds 2**53: too large for an exact float64 golden model")

    # --- sizes -----------------------------------------------------------------------------
    @property
    def n_total(self) -> int:
        return self.n + self.n_cond

    @property
    def groups(self) -> int:
        """Main row groups per Euler step (the conditioning group comes on top)."""
        return self.n // self.lanes

    @staticmethod
    def lanes_per_word_for(bits: int, lanes: int) -> int:
        """Weights packed in one 32-bit load word: a power of two, so lane fields never straddle words."""
        per = 1
        while per * 2 <= min(BUS_BITS // bits, lanes):
            per *= 2
        return per

    def lanes_per_word(self, bits: int) -> int:
        return self.lanes_per_word_for(bits, self.lanes)

    @property
    def k_streamed(self) -> bool:
        """K is read from DDR once per Euler step (no K banks on chip)."""
        return self.k_source == "ddr"

    @property
    def k_bank_depth(self) -> int:
        """Per lane: one K weight per (group, column); also the number of K columns per Euler step."""
        return self.groups * self.n

    @property
    def drive_bank_depth(self) -> int:
        """Per lane: each sample's class drive rows of each group, then one group of conditioning-block rows."""
        return (self.batch * self.groups + 1) * self.n_cond

    @property
    def state_words(self) -> int:
        """Phase words of one run: n + n_cond per sample."""
        return self.batch * self.n_total

    # --- K in DDR (k_source "ddr") -------------------------------------------------------------
    @property
    def k_column_words(self) -> int:
        """32-bit words of one K column (the L weights one MAC cycle needs)."""
        return self.lanes // self.lanes_per_word(self.spec.coupling_bits)

    @property
    def k_beat_bits(self) -> int:
        """Bits the K reader takes per clock: one AXI beat from every port (a "wide beat")."""
        return self.k_ports * AXI_DATA_BITS

    @property
    def k_column_beats(self) -> int:
        """Wide beats per K column: a column is zero-padded to whole wide beats."""
        return -(-self.k_column_words * BUS_BITS // self.k_beat_bits)

    @property
    def k_beats_used(self) -> int:
        """Wide beats of K the lanes consume per Euler step (each port delivers this many AXI beats)."""
        return self.k_bank_depth * self.k_column_beats

    @property
    def k_bursts(self) -> int:
        """16-beat read bursts per port and Euler step (each plane is zero-padded to whole bursts)."""
        return -(-self.k_beats_used // AXI_BURST_BEATS)

    @property
    def k_plane_bytes(self) -> int:
        """Bytes of one port's K plane in DDR (read once per Euler step)."""
        return self.k_bursts * AXI_BURST_BYTES

    @property
    def k_ddr_bytes(self) -> int:
        """Bytes of K in DDR over all planes: what one Euler step reads."""
        return self.k_ports * self.k_plane_bytes

    # --- widths ----------------------------------------------------------------------------
    @property
    def acc_bound(self) -> int:
        s = self.spec
        main = s.trig_amplitude * (self.n * s.coupling_max + self.n_cond * s.drive_max)
        return main  # conditioning rows (n_cond * drive_max * A) are always smaller

    @property
    def acc_bits(self) -> int:
        return signed_bits(self.acc_bound)

    @property
    def u_bound(self) -> int:
        return 2 * self.spec.trig_amplitude * self.acc_bound

    @property
    def u_bits(self) -> int:
        return signed_bits(self.u_bound)

    @property
    def pre_shift(self) -> int:
        """T: right shift of u before the gain multiply so (u >> T) * g stays inside 63 bits."""
        return max(0, self.u_bits + self.spec.gain_bits - 63)

    @property
    def scaled_bits(self) -> int:
        return self.u_bits - self.pre_shift + self.spec.gain_bits

    # --- cycle accounting --------------------------------------------------------------------
    @property
    def mac_cycles_per_step(self) -> int:
        """The bound B*N*(N+n_cond)/L: every main-row MAC of every sample, L per cycle."""
        return self.batch * self.n * self.n_total // self.lanes

    def to_dict(self) -> dict:
        d = {"n": self.n, "n_cond": self.n_cond, "lanes": self.lanes, "spec": self.spec.to_dict()}
        if self.batch != 1 or self.k_source != "bram":  # on-chip single-sample builds keep their original form
            d.update(batch=self.batch, k_source=self.k_source, k_ports=self.k_ports)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HardwareParams":
        return cls(n=int(d["n"]), n_cond=int(d["n_cond"]), lanes=int(d["lanes"]), spec=NumericsSpec.from_dict(d["spec"]),
                   batch=int(d.get("batch", 1)), k_source=str(d.get("k_source", "bram")), k_ports=int(d.get("k_ports", 1)))

    def with_spec(self, **changes) -> "HardwareParams":
        return replace(self, spec=replace(self.spec, **changes))


#: The PYNQ-Z2 build: cifar10-n1024 with 4-bit K in 128 BRAM36 and 64 MAC lanes (128 DSP48E1).
PYNQ_Z2 = HardwareParams(n=1024, n_cond=8, lanes=64, spec=FORMATS["pynq-z2-n1024"])


def default_lanes(n: int, n_cond: int, spec: NumericsSpec, max_lanes: int = 64) -> int:
    """Largest power-of-two lane count <= max_lanes that divides n, holds n_cond and packs evenly."""
    lanes = 1
    while lanes * 2 <= max_lanes and n % (lanes * 2) == 0:
        lanes *= 2
    while lanes < n_cond:
        lanes *= 2
    for bits in (spec.coupling_bits, spec.drive_bits):
        per = HardwareParams.lanes_per_word_for(bits, lanes)
        if lanes % per:
            raise ValueError(f"no lane count fits n={n}, n_cond={n_cond}")
    return lanes


def default_build(n: int, n_cond: int, fmt: str | None = None, lanes: int | None = None) -> HardwareParams:
    """The core build a model of n main and n_cond conditioning oscillators runs on, unless told otherwise.

    This is the one place that picks it: the software boards (`golden`, `sim`) model this build and
    `bitstreams.measure` times it. For cifar10-n1024 (n=1024, n_cond=8) it is PYNQ_Z2, the build the
    PYNQ-Z2 runs (4-bit K in 128 BRAM36; the 8-bit "default" format needs 256 of the XC7Z020's 140);
    for other sizes the "default" format at default_lanes. `fmt` (a FORMATS name) and `lanes` override.
    Raises ValueError for an unknown format or a lane count that does not fit n and n_cond.
    """
    board_size = (n, n_cond) == (PYNQ_Z2.n, PYNQ_Z2.n_cond)
    spec = get_format(fmt) if fmt is not None else (PYNQ_Z2.spec if board_size else FORMATS["default"])
    if lanes is None and board_size and spec == PYNQ_Z2.spec:
        return PYNQ_Z2
    return HardwareParams(n, n_cond, lanes or default_lanes(n, n_cond, spec), spec)
