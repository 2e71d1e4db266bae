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
#: DSP48E1 port widths (UG479, "DSP48E1 slice"): A 25 bits (after the pre-adder), B 18 bits, P 48 bits, signed.
DSP_A_BITS, DSP_B_BITS, DSP_P_BITS = 25, 18, 48
#: DSP48E1 the MAC lanes of a PYNQ-Z2 build may use: the XC7Z020's 220 (DS190) less what the rest of the core
#: takes (post-processor and CORDIC: 7 by yosys today, docs/resources.md) and a margin for the post-processor's
#: pipelining. fixedpoint.spec.lut_lanes_for turns it into the number of LUT-multiplier lanes.
MAC_DSP_BUDGET = 200


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
    lut_lanes: int = 0

    def __post_init__(self):
        if self.n < 1 or self.n_cond < 1 or self.lanes < 1:
            raise ValueError(f"n, n_cond and lanes must be positive (got n={self.n}, n_cond={self.n_cond}, lanes={self.lanes})")
        if not 1 <= self.batch <= 64:
            raise ValueError(f"batch must be 1..64 (got {self.batch})")
        if self.k_source not in K_SOURCES:
            raise ValueError(f"k_source must be one of {K_SOURCES} (got {self.k_source!r})")
        if not 1 <= self.k_ports <= K_PORTS_MAX or (self.k_ports > 1 and not self.k_streamed):
            raise ValueError(f"k_ports must be 1..{K_PORTS_MAX}, and 1 unless K is streamed from DDR (got {self.k_ports})")
        if not 0 <= self.lut_lanes <= self.lanes:
            raise ValueError(f"lut_lanes must be 0..lanes={self.lanes} (got {self.lut_lanes})")
        if self.n_cond > self.lanes:
            raise ValueError(f"n_cond={self.n_cond} must not exceed lanes={self.lanes}")
        if self.lanes > self.columns_per_group:
            raise ValueError(f"lanes={self.lanes} must not exceed the MAC columns of a group, n + n_cond * "
                             f"drive_passes = {self.columns_per_group} (a group's rows are post-processed while the "
                             f"next group's MACs run)")
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
        """Main row groups per Euler step (the conditioning group comes on top): ceil(n / lanes); the last one is
        ragged when lanes does not divide n (its missing rows have all-zero weights and are not post-processed)."""
        return -(-self.n // self.lanes)

    @property
    def last_group_rows(self) -> int:
        """Rows of the last main group: n - (groups - 1) * lanes (= lanes unless the group is ragged)."""
        return self.n - (self.groups - 1) * self.lanes

    # --- MAC lanes: digit-serial weights (docs/rtl.md, "MAC lanes") ------------------------------
    @property
    def digit_bits(self) -> int:
        """Signed width of the lane multiplier's weight operand: one coupling weight, or one digit of a drive /
        conditioning-block weight (coupling_bits unsigned bits, or the signed top digit)."""
        return self.spec.coupling_bits + 1

    @property
    def drive_passes(self) -> int:
        """Digits of a drive weight (ceil(drive_bits / coupling_bits)): the drive columns of a group are swept
        this many times, top digit first, and accumulated by Horner's rule (acc << coupling_bits between passes)."""
        return -(-self.spec.drive_bits // self.spec.coupling_bits)

    @property
    def columns_per_group(self) -> int:
        """MAC columns of a main group: the n_cond drive columns once per digit, then the n K columns."""
        return self.n + self.n_cond * self.drive_passes

    @property
    def pack_shift(self) -> int | None:
        """k of the two-lane DSP48E1 packing (A = d_l + d_(l+1) * 2**k, P = A * trig holds both products: WP521,
        WP486), or None when the format's products do not fit the DSP48E1's 25-bit A / 48-bit P (UG479)."""
        return dsp_pack_shift(self.spec)

    @property
    def dsp_lanes(self) -> int:
        """Lanes whose products a DSP48E1 forms (lanes 0..dsp_lanes-1); the other lut_lanes use LUT multipliers."""
        return self.lanes - self.lut_lanes

    @property
    def mac_dsps(self) -> int:
        """DSP48E1 of the MAC lanes: one per product (sin, cos) of a lane pair when packed, else per lane."""
        return mac_dsps_for(self.dsp_lanes, self.spec)

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
        """MAC cycles of the main groups in one Euler step: B * groups * (n + n_cond * drive_passes) (every sample
        of every column of every group, all lanes at once); the conditioning group and the drain come on top
        (rtl.resources.cycle_accounting)."""
        return self.batch * self.groups * self.columns_per_group

    def to_dict(self) -> dict:
        d = {"n": self.n, "n_cond": self.n_cond, "lanes": self.lanes, "spec": self.spec.to_dict()}
        if self.batch != 1 or self.k_source != "bram":  # on-chip single-sample builds keep their original form
            d.update(batch=self.batch, k_source=self.k_source, k_ports=self.k_ports)
        if self.lut_lanes:
            d["lut_lanes"] = self.lut_lanes
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HardwareParams":
        return cls(n=int(d["n"]), n_cond=int(d["n_cond"]), lanes=int(d["lanes"]), spec=NumericsSpec.from_dict(d["spec"]),
                   batch=int(d.get("batch", 1)), k_source=str(d.get("k_source", "bram")), k_ports=int(d.get("k_ports", 1)),
                   lut_lanes=int(d.get("lut_lanes", 0)))

    def with_spec(self, **changes) -> "HardwareParams":
        return replace(self, spec=replace(self.spec, **changes))


def dsp_pack_shift(spec: NumericsSpec) -> int | None:
    """Field offset k for two lane products in one DSP48E1, or None if the format does not allow it.

    A lane product is digit * trig, digit in [-2**(c-1), 2**c - 1] (c = coupling_bits), trig a signed trig_bits
    word, so |product| <= 2**c' * 2**(S-1) with c' the larger digit magnitude: k = signed_bits of that bound holds one
    product as a signed k-bit field. A = d_lo + d_hi * 2**k needs k + c + 1 <= 25 bits (DSP48E1 A port), the trig
    <= 18 bits (B port) and P = A * trig <= 48 bits (UG479; the INT8 packing of Xilinx WP486 and the INT4 packing
    of WP521 use the same A-port construction).
    """
    c, S = spec.coupling_bits, spec.trig_bits
    dmax = max(1 << (c - 1), (1 << c) - 1 if spec.drive_bits > c else (1 << (c - 1)) - 1)
    k = signed_bits(dmax << (S - 1))
    if k + c + 1 > DSP_A_BITS or S > DSP_B_BITS or k + c + 1 + S > DSP_P_BITS:
        return None
    return k


def mac_dsps_for(dsp_lanes: int, spec: NumericsSpec) -> int:
    """DSP48E1 that dsp_lanes MAC lanes use: 2 per lane pair when packing fits the format, else 2 per lane."""
    return 2 * (-(-dsp_lanes // 2)) if dsp_pack_shift(spec) is not None else 2 * dsp_lanes


def lut_lanes_for(lanes: int, spec: NumericsSpec, dsp_budget: int = MAC_DSP_BUDGET) -> int:
    """Fewest LUT-multiplier lanes so that the DSP lanes of a `lanes`-lane build use at most dsp_budget DSP48E1."""
    lut = 0
    while mac_dsps_for(lanes - lut, spec) > dsp_budget:
        lut += 1
    return lut


#: The PYNQ-Z2 build: cifar10-n1024 with 4-bit K in 128 BRAM36 (one 4096 x 4 bank per lane) and 256 MAC lanes,
#: two per DSP48E1 pair up to MAC_DSP_BUDGET, LUT multipliers for the rest (docs/rtl.md, "MAC lanes").
PYNQ_Z2_LANES = 256
PYNQ_Z2 = HardwareParams(n=1024, n_cond=8, lanes=PYNQ_Z2_LANES, spec=FORMATS["pynq-z2-n1024"],
                         lut_lanes=lut_lanes_for(PYNQ_Z2_LANES, FORMATS["pynq-z2-n1024"]))


def default_lanes(n: int, n_cond: int, spec: NumericsSpec, max_lanes: int = 64) -> int:
    """Largest power-of-two lane count <= max_lanes that divides n, holds n_cond and packs evenly (a ragged last
    group is allowed, but these builds keep whole groups; PYNQ_Z2 is the ragged-capable 256-lane build)."""
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
    lanes = lanes or default_lanes(n, n_cond, spec)
    return HardwareParams(n, n_cond, lanes, spec, lut_lanes=lut_lanes_for(lanes, spec))
