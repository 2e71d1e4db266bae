"""The pynq-z2 board refuses bitstreams that are not the recorded build of the current sources."""
import json

import pytest

pytest.importorskip("pynq")

from bitstreams.manifest import MANIFEST_FORMAT, file_sha256  # noqa: E402
from fixedpoint.spec import PYNQ_Z2  # noqa: E402
from host.boards.base import BoardError  # noqa: E402
from host.boards.pynq_z2 import PynqZ2Board  # noqa: E402


def _bit(tmp_path):
    bit = tmp_path / "osc.bit"
    bit.write_bytes(b"\x01" * 256)
    (tmp_path / "osc.hwh").write_text("<EDKSYSTEM/>")
    return bit


def test_refuses_a_bitstream_without_manifest(tmp_path):
    with pytest.raises(BoardError, match="no build manifest"):
        PynqZ2Board(str(_bit(tmp_path)))


def test_refuses_a_replaced_bitstream(tmp_path):
    bit = _bit(tmp_path)
    man = {"format": MANIFEST_FORMAT, "params": PYNQ_Z2.to_dict(), "files": {"osc.bit": "0" * 64}}
    (tmp_path / "osc.json").write_text(json.dumps(man))
    with pytest.raises(BoardError, match="file hash"):
        PynqZ2Board(str(bit))


def test_refuses_a_bitstream_from_other_sources(tmp_path):
    bit = _bit(tmp_path)
    man = {"format": MANIFEST_FORMAT, "params": PYNQ_Z2.to_dict(), "files": {"osc.bit": file_sha256(bit)},
           "source_hash": "f" * 64, "sources": {}}
    (tmp_path / "osc.json").write_text(json.dumps(man))
    with pytest.raises(BoardError, match="other hardware sources"):
        PynqZ2Board(str(bit))


def test_refuses_a_missing_bitstream(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        PynqZ2Board(str(tmp_path / "nope.bit"))
