"""Register map as data: table sanity, exports, parameter round trip, build hash; Verilog writer + lint."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixedpoint.layout import LOAD_TARGETS
from fixedpoint.spec import FORMATS, PYNQ_Z2, HardwareParams
from rtl import regs
from rtl.build import compact_zero_inits
from rtl.export import registers_h, registers_json, registers_md, write_exports

REPO = Path(__file__).resolve().parent.parent


def test_table_offsets_unique_and_required_registers_present():
    names = {r.name for r in regs.REGISTERS}
    for need in ("ID", "VERSION", "N", "N_COND", "LANES", "BUILD_HASH", "CTRL", "STATUS", "IRQ_ENABLE", "IRQ_STATUS",
                 "STEPS", "GAIN_SHIFT", "LOAD_TARGET", "LOAD_COUNT", "CYCLES_LO", "CYCLES_HI", "STEP_CYCLES"):
        assert need in names
    offs = [r.offset for r in regs.REGISTERS]
    assert len(set(offs)) == len(offs) and all(o % 4 == 0 for o in offs)
    assert regs.BY_NAME["IRQ_STATUS"].access == "W1C"
    assert regs.bits("CTRL", "START") == 1 and regs.pack("SPEC0", TRIG_BITS=16) == 16 << 24
    with pytest.raises(KeyError, match="no register"):
        regs.offset("NOPE")
    with pytest.raises(ValueError, match="does not fit"):
        regs.pack("STEPS", STEPS=1 << 16)


@pytest.mark.parametrize("params", [PYNQ_Z2, HardwareParams(8, 2, 4), HardwareParams(32, 4, 8, FORMATS["wide"])])
def test_param_registers_round_trip(params):
    values = regs.param_registers(params)
    assert regs.params_from_registers(values) == params


def test_params_from_registers_rejects_inconsistent_core():
    values = regs.param_registers(HardwareParams(8, 2, 4))
    values["SPEC2"] ^= 1 << 16  # PRE_SHIFT disagrees with the spec
    with pytest.raises(ValueError, match="disagree"):
        regs.params_from_registers(values)


def test_build_hash_depends_on_params():
    a, b = regs.build_hash(HardwareParams(8, 2, 4)), regs.build_hash(HardwareParams(8, 2, 4, FORMATS["wide"]))
    assert a != b and a == regs.build_hash(HardwareParams(8, 2, 4)) and 0 <= a < 1 << 32


def test_build_hash_sources_cover_what_the_build_loads():
    """Every project module loaded while writing the Verilog is in the hashed set (spec and layout included)."""
    code = ("import sys; from fixedpoint.spec import HardwareParams; from rtl.build import verilog_text; "
            "verilog_text(HardwareParams(8, 2, 4)); "
            "print('\\n'.join(sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    loaded = {Path(f).resolve() for f in res.stdout.split()}
    project = {f for f in loaded if f.is_relative_to(REPO) and f.relative_to(REPO).parts[0] in regs.HASHED_PACKAGES}
    hashed = set(regs.verilog_sources())
    assert REPO / "fixedpoint" / "spec.py" in project and REPO / "rtl" / "core.py" in project
    assert project <= hashed, f"loaded by the build but not hashed: {sorted(map(str, project - hashed))}"
    assert {REPO / "fixedpoint" / "spec.py", REPO / "fixedpoint" / "layout.py", REPO / "rtl" / "cordic.py"} <= hashed


def test_build_hash_changes_with_every_hashed_source(tmp_path):
    """A one-byte edit of any file that shapes the Verilog gives a new BUILD_HASH (so a new cache key)."""
    for pkg in regs.HASHED_PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    p = HardwareParams(8, 2, 4)
    base = regs.build_hash(p, root=tmp_path)
    assert base == regs.build_hash(p)  # relative paths and contents only: the same hash in any checkout
    files = regs.verilog_sources(tmp_path)
    assert len(files) >= 8
    for f in files:
        text = f.read_bytes()
        f.write_bytes(text + b"\n")
        try:
            assert regs.build_hash(p, root=tmp_path) != base, f"editing {f.relative_to(tmp_path)} kept the hash"
        finally:
            f.write_bytes(text)
    assert regs.build_hash(p, root=tmp_path) == base
    (tmp_path / "rtl" / "extra.py").write_text("X = 1\n")  # a module the build does not import: no new hash
    assert regs.build_hash(p, root=tmp_path) == base


def test_exports(tmp_path):
    paths = write_exports(tmp_path)
    assert {p.name for p in paths} == {"registers.json", "registers.md", "osc_core_regs.h"}
    doc = json.loads((tmp_path / "registers.json").read_text())
    assert doc["load_targets"] == LOAD_TARGETS
    assert {r["name"]: r["offset"] for r in doc["registers"]} == regs.OFFSETS
    assert "#define OSC_STATUS_OFFSET 0x028u" in registers_h()
    assert "| `0x024` | CTRL | WO |" in registers_md()
    assert registers_json() == (tmp_path / "registers.json").read_text()


def test_docs_registers_md_is_current():
    from pathlib import Path

    doc = Path(__file__).resolve().parent.parent / "docs" / "registers.md"
    assert doc.read_text() == registers_md(), "docs/registers.md is stale: run python -m rtl.export --out docs"


def test_compact_zero_inits_folds_only_zero_blocks():
    text = "  initial begin\n    m[0] = 4'h0;\n    m[1] = 4'h0;\n  end\n  initial begin\n    q[0] = 4'h3;\n  end\n"
    out = compact_zero_inits(text)
    assert "for (m_init_i = 0; m_init_i < 2;" in out and "q[0] = 4'h3;" in out


def test_build_cli_writes_lint_clean_verilog(tmp_path):
    res = subprocess.run([sys.executable, "-m", "rtl.build", "--n", "8", "--n-cond", "2", "--lanes", "4",
                          "--out", str(tmp_path), "--lint"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "lint" in res.stdout and (tmp_path / "osc_core.v").exists() and (tmp_path / "registers.json").exists()
    assert json.loads((tmp_path / "params.json").read_text())["build_hash"] == regs.build_hash(HardwareParams(8, 2, 4))


def test_build_cli_rejects_bad_params(tmp_path):
    res = subprocess.run([sys.executable, "-m", "rtl.build", "--n", "10", "--n-cond", "5", "--lanes", "4",
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode != 0 and "must not exceed lanes" in res.stderr
