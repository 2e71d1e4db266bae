"""Bitstream provenance: a consistent build passes check_bitstream; every kind of mismatch is refused."""
import json
import shutil
from dataclasses import replace

import pytest

from bitstreams.build import CONFIGS, make_manifest
from bitstreams.manifest import (REPO_ROOT, BitstreamMismatch, check_bitstream, source_files, source_hash,
                                 write_json_atomic)
from fixedpoint.spec import PYNQ_Z2


@pytest.fixture
def fake_build(tmp_path):
    """A copy of the hardware sources (so the test can edit them) and a build dir with a .bit/.hwh + manifest."""
    root = tmp_path / "repo"
    for p in source_files(REPO_ROOT):
        dst = root / p.relative_to(REPO_ROOT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst)
    out = tmp_path / "build"
    out.mkdir()
    cfg = CONFIGS["pynq-z2"]
    (out / f"{cfg.name}.bit").write_bytes(b"\x00\x09\x0f\xf0" + b"bitstream" * 100)
    (out / f"{cfg.name}.hwh").write_text("<EDKSYSTEM/>")
    man = make_manifest(out, cfg, "pynq-z2", "pynq-z2-n1024", None, True, root=root)
    write_json_atomic(out / f"{cfg.name}.json", man)
    return root, out / f"{cfg.name}.bit"


def test_consistent_build_passes(fake_build):
    root, bit = fake_build
    man = check_bitstream(bit, PYNQ_Z2, root=root)
    assert man["source_hash"] == source_hash(root)
    assert man["params"] == PYNQ_Z2.to_dict()
    assert man["files"][bit.name]


def test_refuses_changed_sources(fake_build):
    root, bit = fake_build
    core = root / "rtl" / "core.py"
    core.write_text(core.read_text() + "\n# changed\n")
    with pytest.raises(BitstreamMismatch, match=r"other hardware sources.*rtl/core.py"):
        check_bitstream(bit, PYNQ_Z2, root=root)


SOURCES = [p.relative_to(REPO_ROOT).as_posix() for p in source_files(REPO_ROOT)]


def test_sources_are_what_the_build_imports():
    """Derived, not listed: the build module, what it imports lazily (rtl.export, bitstreams.resources), the
    numerics under the RTL (fixedpoint.spec, layout) and the Vivado sources it copies; nothing it never imports."""
    assert {"bitstreams/build.py", "rtl/core.py", "rtl/export.py", "bitstreams/resources.py", "fixedpoint/spec.py",
            "fixedpoint/layout.py", "bitstreams/board_config.py", "bitstreams/pynq-z2/osc_core_wrapper.v",
            "bitstreams/pynq-z2/block_design.tcl", "bitstreams/pynq-z2/build_bitstream.tcl"} <= set(SOURCES)
    assert not {"bitstreams/roadmap.py", "host/api.py", "model/core.py", "sim/client.py"} & set(SOURCES)


@pytest.mark.parametrize("rel", SOURCES)
def test_changing_any_source_changes_the_hash_and_is_refused(fake_build, rel):
    root, bit = fake_build
    before = source_hash(root)
    f = root / rel
    f.write_bytes(f.read_bytes() + (b"\n# changed\n" if rel.endswith((".py", ".tcl")) else b"\n// changed\n"))
    assert source_hash(root) != before
    with pytest.raises(BitstreamMismatch, match=f"other hardware sources.*{rel}"):
        check_bitstream(bit, PYNQ_Z2, root=root)


def test_a_new_import_of_the_build_joins_the_sources(fake_build):
    root, _ = fake_build
    (root / "bitstreams" / "extra.py").write_text("X = 1\n")
    before = source_hash(root)
    assert "bitstreams/extra.py" not in {p.relative_to(root).as_posix() for p in source_files(root)}
    build = root / "bitstreams" / "build.py"
    build.write_text(build.read_text() + "\n\ndef _extra():\n    from .extra import X\n    return X\n")
    assert "bitstreams/extra.py" in {p.relative_to(root).as_posix() for p in source_files(root)}
    (root / "bitstreams" / "extra.py").write_text("X = 2\n")
    assert source_hash(root) != before


def test_refuses_other_parameters(fake_build):
    root, bit = fake_build
    with pytest.raises(BitstreamMismatch, match="was built for n=1024"):
        check_bitstream(bit, replace(PYNQ_Z2, lanes=32, lut_lanes=0), root=root)
    with pytest.raises(BitstreamMismatch, match="coupling_bits=4"):
        check_bitstream(bit, PYNQ_Z2.with_spec(coupling_bits=8), root=root)


def test_refuses_swapped_bit_or_hwh(fake_build):
    root, bit = fake_build
    bit.write_bytes(bit.read_bytes() + b"x")
    with pytest.raises(BitstreamMismatch, match="file hash"):
        check_bitstream(bit, PYNQ_Z2, root=root)


def test_refuses_swapped_hwh(fake_build):
    root, bit = fake_build
    bit.with_suffix(".hwh").write_text("<other/>")
    with pytest.raises(BitstreamMismatch, match=r"\.hwh"):
        check_bitstream(bit, PYNQ_Z2, root=root)


def test_refuses_missing_or_forged_manifest(fake_build):
    root, bit = fake_build
    mpath = bit.with_suffix(".json")
    man = json.loads(mpath.read_text())
    man["build_hash"] = (man["build_hash"] or 0) ^ 1
    mpath.write_text(json.dumps(man))
    with pytest.raises(BitstreamMismatch, match="BUILD_HASH"):
        check_bitstream(bit, PYNQ_Z2, root=root)
    mpath.unlink()
    with pytest.raises(BitstreamMismatch, match="no build manifest"):
        check_bitstream(bit, PYNQ_Z2, root=root)
    with pytest.raises(FileNotFoundError):
        check_bitstream(bit.with_name("nope.bit"), PYNQ_Z2, root=root)
