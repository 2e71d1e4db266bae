"""The core's AXI4-Lite register map, described once as data (amaranth-soc style "registers as data").

The RTL (rtl/core.py) builds its register block from REGISTERS, rtl/export.py writes registers.json, registers.md
and a C header from it, and the host either imports this module or reads registers.json: no offset is typed twice.

Access kinds: RO (read only; writes ignored), RW (read/write), WO (write only, reads return 0; CTRL's bits are
self-clearing command strobes), W1C (read; writing 1 to a bit clears it).
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fixedpoint.layout import LOAD_TARGETS
from fixedpoint.spec import BUS_BITS, K_PORTS_MAX, HardwareParams, NumericsSpec

#: Magic number in the ID register: ASCII "OSC1".
CORE_ID = 0x4F534331
#: Register-map / RTL interface version (major << 16 | minor). Bump on any change the host must know about.
CORE_VERSION = 0x0001_0001
#: AXI4-Lite address width (a 4 KiB window; registers are 32-bit words at 4-byte offsets).
ADDR_BITS = 12
DATA_BITS = BUS_BITS
#: AXI response codes the register block returns.
RESP_OKAY, RESP_SLVERR = 0, 2


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str = ""

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str  # RO, RW, WO, W1C
    doc: str
    fields: tuple[Field, ...] = field(default_factory=tuple)
    reset: int = 0

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}; fields: {[f.name for f in self.fields]}")


def _f(name, lsb, width, doc=""):
    return Field(name, lsb, width, doc)


_SPEC0 = (_f("PHASE_FRAC_BITS", 0, 8, "F"), _f("PHASE_TURN_BITS", 8, 8, "W"), _f("CORDIC_IN_BITS", 16, 8, "FC"),
          _f("TRIG_BITS", 24, 8, "S"))
_SPEC1 = (_f("CORDIC_ITERS", 0, 8, "I"), _f("CORDIC_GUARD_BITS", 8, 8, "G"),
          _f("CORDIC_ANGLE_GUARD_BITS", 16, 8, "GA"), _f("COUPLING_BITS", 24, 8, "Bw"))
_SPEC2 = (_f("DRIVE_BITS", 0, 8, "Bd"), _f("GAIN_BITS", 8, 8, "unsigned gain width"),
          _f("PRE_SHIFT", 16, 8, "T (derived; a cross-check)"), _f("ACC_BITS", 24, 8, "accumulator width (derived)"))

REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x00, "RO", "Magic number 0x4F534331 ('OSC1'): the core is present.", reset=CORE_ID),
    Register("VERSION", 0x04, "RO", "Register-map version, major << 16 | minor.", reset=CORE_VERSION),
    Register("BUILD_HASH", 0x08, "RO", "32-bit hash of the build parameters and the RTL source (rtl.regs.build_hash)."),
    Register("N", 0x0C, "RO", "Main oscillators n."),
    Register("N_COND", 0x10, "RO", "Conditioning oscillators n_cond (M)."),
    Register("LANES", 0x14, "RO", "MAC lanes L."),
    Register("SPEC0", 0x18, "RO", "Numerics spec, word 0.", _SPEC0),
    Register("SPEC1", 0x1C, "RO", "Numerics spec, word 1.", _SPEC1),
    Register("SPEC2", 0x20, "RO", "Numerics spec, word 2.", _SPEC2),
    Register("CTRL", 0x24, "WO", "Command strobes (self-clearing).", (
        _f("START", 0, 1, "init-trig pass then STEPS Euler steps on the loaded phases (ignored while busy)"),
        _f("ABORT", 1, 1, "stop a run or readback now and return to idle (memories keep their contents)"),
        _f("READBACK", 2, 1, "emit the n+M phase words on m_axis (tlast on the last; ignored while busy)"),
        _f("CLEAR", 3, 1, "clear STATUS.DONE, OVERFLOW and LOAD_ERROR"),
    )),
    Register("STATUS", 0x28, "RO", "Core state.", (
        _f("BUSY", 0, 1, "a run is in progress"),
        _f("DONE", 1, 1, "the last run finished (cleared by START or CTRL.CLEAR)"),
        _f("OVERFLOW", 2, 1, "sticky: a phase left the signed phase word during the last run"),
        _f("LOAD_ERROR", 3, 1, "sticky: a load stream was too long, too short at tlast, or had no valid target"),
        _f("READBACK_BUSY", 4, 1, "readback stream in progress"),
        _f("AXI_ERROR", 5, 1, "sticky: a K read from DDR answered SLVERR/DECERR (streamed-K builds; cleared by START "
           "or CTRL.CLEAR)"),
    )),
    Register("IRQ_ENABLE", 0x2C, "RW", "Interrupt enables.", (_f("DONE", 0, 1, "raise irq when a run finishes"),)),
    Register("IRQ_STATUS", 0x30, "W1C", "Interrupt status; irq = |(IRQ_STATUS & IRQ_ENABLE).",
             (_f("DONE", 0, 1, "a run finished"),)),
    Register("STEPS", 0x34, "RW", "Euler steps per run (writes ignored while busy).", (_f("STEPS", 0, 16),), reset=10),
    Register("GAIN_SHIFT", 0x38, "RW", "R: the global right shift after the per-row gain (writes ignored while busy).",
             (_f("GAIN_SHIFT", 0, 6),), reset=1),
    Register("LOAD_TARGET", 0x3C, "RW", "Selects where s_axis words go and resets the load counter: "
             + ", ".join(f"{k}={v}" for k, v in LOAD_TARGETS.items()) + " (writes ignored while busy).",
             (_f("TARGET", 0, 4),), reset=0xF),
    Register("LOAD_COUNT", 0x40, "RO", "Words accepted for the current load target."),
    Register("CYCLES_LO", 0x44, "RO", "Cycles of the current / last run, low word."),
    Register("CYCLES_HI", 0x48, "RO", "Cycles of the current / last run, high word."),
    Register("STEP_CYCLES", 0x4C, "RO", "Cycles of the last completed Euler step."),
    Register("STEP_COUNT", 0x50, "RO", "Euler steps completed in the current / last run."),
    Register("SCRATCH", 0x54, "RW", "Free scratch register (bus test)."),
    Register("BUILD", 0x58, "RO", "Build variant.", (
        _f("BATCH", 0, 8, "samples per run B (each K weight feeds B phase vectors)"),
        _f("K_IN_DDR", 8, 1, "1: K is streamed from DDR through the m_axi<p> read masters; 0: K is in block RAM"),
        _f("K_PORTS", 12, 4, "K read masters (HP ports); K plane p is read from K_ADDR<p>"),
        _f("LUT_LANES", 16, 12, "MAC lanes with LUT multipliers (the highest-numbered); the others use DSP48E1"),
    )),
    Register("K_WAIT_CYCLES", 0x5C, "RO", "Cycles of the last completed Euler step in which the MAC lanes waited for K "
             "from DDR (0 on on-chip-K builds)."),
) + tuple(
    Register(f"K_ADDR{p}", 0x60 + 4 * p, "RW", f"Streamed-K builds: bus address of K plane {p} in DDR, read by "
             f"m_axi{p} (fixedpoint.layout.k_ddr_planes; 128-byte aligned, the low 7 bits are ignored; writes ignored "
             "while busy).")
    for p in range(K_PORTS_MAX)
)

BY_NAME = {r.name: r for r in REGISTERS}
OFFSETS = {r.name: r.offset for r in REGISTERS}


def _check_table():
    seen = set()
    for r in REGISTERS:
        if r.offset % 4 or r.offset >= 1 << ADDR_BITS or r.offset in seen:
            raise AssertionError(f"register {r.name}: bad or duplicate offset {r.offset:#x}")
        seen.add(r.offset)
        if r.access not in ("RO", "RW", "WO", "W1C"):
            raise AssertionError(f"register {r.name}: unknown access {r.access}")
        used = 0
        for f in r.fields:
            if f.lsb + f.width > DATA_BITS or used & f.mask:
                raise AssertionError(f"register {r.name}: field {f.name} overlaps or overflows")
            used |= f.mask


_check_table()


def offset(name: str) -> int:
    if name not in BY_NAME:
        raise KeyError(f"no register {name!r}; registers: {list(BY_NAME)}")
    return BY_NAME[name].offset


def bits(reg: str, fld: str) -> int:
    """Mask of one field (e.g. bits("CTRL", "START") == 1)."""
    return BY_NAME[reg].field(fld).mask


def pack(reg: str, **values: int) -> int:
    r = BY_NAME[reg]
    word = 0
    for name, v in values.items():
        f = r.field(name)
        if not 0 <= v < 1 << f.width:
            raise ValueError(f"{reg}.{name} = {v} does not fit {f.width} bits")
        word |= v << f.lsb
    return word


def unpack(reg: str, word: int) -> dict[str, int]:
    return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in BY_NAME[reg].fields}


def param_registers(params: HardwareParams) -> dict[str, int]:
    """Values of the read-only build-parameter registers for `params` (the RTL drives exactly these)."""
    s = params.spec
    return {
        "N": params.n, "N_COND": params.n_cond, "LANES": params.lanes,
        "BUILD": pack("BUILD", BATCH=params.batch, K_IN_DDR=int(params.k_streamed), K_PORTS=params.k_ports,
                       LUT_LANES=params.lut_lanes),
        "SPEC0": pack("SPEC0", PHASE_FRAC_BITS=s.phase_frac_bits, PHASE_TURN_BITS=s.phase_turn_bits,
                      CORDIC_IN_BITS=s.cordic_in_bits, TRIG_BITS=s.trig_bits),
        "SPEC1": pack("SPEC1", CORDIC_ITERS=s.cordic_iters, CORDIC_GUARD_BITS=s.cordic_guard_bits,
                      CORDIC_ANGLE_GUARD_BITS=s.cordic_angle_guard_bits, COUPLING_BITS=s.coupling_bits),
        "SPEC2": pack("SPEC2", DRIVE_BITS=s.drive_bits, GAIN_BITS=s.gain_bits, PRE_SHIFT=params.pre_shift,
                      ACC_BITS=params.acc_bits),
        "BUILD_HASH": build_hash(params),
    }


def params_from_registers(values: dict[str, int]) -> HardwareParams:
    """Inverse of param_registers: what a host reads back from a core tells it which images it can load."""
    s0, s1, s2 = unpack("SPEC0", values["SPEC0"]), unpack("SPEC1", values["SPEC1"]), unpack("SPEC2", values["SPEC2"])
    spec = NumericsSpec(phase_frac_bits=s0["PHASE_FRAC_BITS"], phase_turn_bits=s0["PHASE_TURN_BITS"],
                        cordic_in_bits=s0["CORDIC_IN_BITS"], trig_bits=s0["TRIG_BITS"],
                        cordic_iters=s1["CORDIC_ITERS"], cordic_guard_bits=s1["CORDIC_GUARD_BITS"],
                        cordic_angle_guard_bits=s1["CORDIC_ANGLE_GUARD_BITS"], coupling_bits=s1["COUPLING_BITS"],
                        drive_bits=s2["DRIVE_BITS"], gain_bits=s2["GAIN_BITS"])
    build = unpack("BUILD", values["BUILD"])
    p = HardwareParams(n=values["N"], n_cond=values["N_COND"], lanes=values["LANES"], spec=spec, batch=build["BATCH"],
                       k_source="ddr" if build["K_IN_DDR"] else "bram", k_ports=build["K_PORTS"],
                       lut_lanes=build["LUT_LANES"])
    if p.pre_shift != s2["PRE_SHIFT"] or p.acc_bits != s2["ACC_BITS"]:
        raise ValueError(f"core reports pre_shift={s2['PRE_SHIFT']}, acc_bits={s2['ACC_BITS']} but its spec implies "
                         f"{p.pre_shift}, {p.acc_bits}: core and fixedpoint/ disagree; rebuild the bitstream")
    return p


#: The module that writes the Verilog. BUILD_HASH covers every source file it imports from the project's packages
#: below sim/ (transitively, including imports inside functions): see verilog_sources().
VERILOG_ROOT = "rtl.build"
HASHED_PACKAGES = ("rtl", "fixedpoint")
_REPO = Path(__file__).resolve().parent.parent


def _module_file(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path, module: str) -> set[str]:
    """Dotted names of every module `path` (module `module`) imports anywhere in its text, relative ones resolved."""
    is_pkg = path.name == "__init__.py"
    pkg = module.split(".") if is_pkg else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg[:len(pkg) - node.level + 1] if node.level else []
            mod = ".".join(base + (node.module.split(".") if node.module else []))
            if mod:
                found.add(mod)
            found.update(f"{mod}.{a.name}" if mod else a.name for a in node.names)  # `from pkg import submodule`
    return found


def verilog_sources(root: str | Path | None = None) -> list[Path]:
    """Source files that shape the Verilog: imported_sources(VERILOG_ROOT, HASHED_PACKAGES, root).
    Raises FileNotFoundError when `root` holds no rtl/build.py."""
    return imported_sources(VERILOG_ROOT, HASHED_PACKAGES, root)


def imported_sources(module: str, packages: tuple[str, ...], root: str | Path | None = None) -> list[Path]:
    """Source files of `module` and of everything it imports from `packages` (transitively; imports inside
    functions count, so lazily imported builders are covered), plus the package __init__ files on the way.
    Static (ast), so the set does not depend on what the caller has imported. BUILD_HASH (verilog_sources) and
    the bitstream manifest (bitstreams.manifest.source_files) both use it. Raises FileNotFoundError when `root`
    holds no `module`."""
    root = Path(root or _REPO)
    start = _module_file(root, module)
    if start is None:
        raise FileNotFoundError(f"{root} holds no {module.replace('.', '/')}.py")
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in packages:
            continue
        path = _module_file(root, name)
        if path is None:
            continue  # a name imported from a module (`from pkg.mod import Class`), not a module itself
        seen[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))  # parent packages run on import
        todo.extend(imported_modules(path, name))
    return sorted(set(seen.values()))


def build_hash(params: HardwareParams, root: str | Path | None = None) -> int:
    """32-bit hash of the build parameters and the text of every source that shapes the Verilog
    (verilog_sources(root)): host and bitstreams/ compare it with the core's BUILD_HASH register, and the
    simulation cache (sim/env.py) keys builds by it. SHA-256 of the params JSON, then each file's repo-relative
    path and bytes in sorted order; first 4 bytes, big-endian."""
    root = Path(root or _REPO)
    h = hashlib.sha256(json.dumps(params.to_dict(), sort_keys=True).encode())
    for path in verilog_sources(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return int.from_bytes(h.digest()[:4], "big")


def table() -> list[dict]:
    """The register table as plain data (what registers.json holds)."""
    return [asdict(r) for r in REGISTERS]
