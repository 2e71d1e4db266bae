"""Bitstream provenance: a consistent build passes check_bitstream; every kind of mismatch is refused."""
import json
import shutil
from dataclasses import replace

import pytest

from bitstreams.build import CONFIGS, make_manifest
from bitstreams.manifest import (REPO_ROOT, SOURCE_PATTERNS, BitstreamMismatch, check_bitstream, source_hash,
                                 write_json_atomic)
from fixedpoint.spec import PYNQ_Z2


@pytest.fixture
def fake_build(tmp_path):
    """A copy of the hardware sources (so the test can edit them) and a build dir with a .bit/.hwh + manifest."""
    root = tmp_path / "repo"
    for pat in SOURCE_PATTERNS:
        for p in REPO_ROOT.glob(pat):
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


def test_refuses_other_parameters(fake_build):
    root, bit = fake_build
    with pytest.raises(BitstreamMismatch, match="was built for n=1024"):
        check_bitstream(bit, replace(PYNQ_Z2, lanes=32), root=root)
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
