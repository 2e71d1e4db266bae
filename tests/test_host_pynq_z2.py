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
    with pytest.raises(FileNotFoundError, match="does not exist; give the .bit with its .hwh"):
        PynqZ2Board(str(tmp_path / "nope.bit"))


# ---- issue 12 item 9: the manifest is compared with what the board and the checkpoint need, not with itself
def _consistent_set(tmp_path, params, part=None):
    """A .bit/.hwh/.json set whose manifest is self-consistent and built from the current sources."""
    from dataclasses import replace

    from bitstreams.build import CONFIGS, make_manifest
    from bitstreams.manifest import write_json_atomic

    base = CONFIGS["pynq-z2"]
    cfg = replace(base, name=base.bitstream_name(params), params=params, **({"part": part} if part else {}))
    out = tmp_path / "build"
    out.mkdir(parents=True)
    bit = out / f"{cfg.name}.bit"
    bit.write_bytes(b"\x00\x09\x0f\xf0" + b"bitstream" * 100)
    (out / f"{cfg.name}.hwh").write_text("<EDKSYSTEM/>")
    write_json_atomic(out / f"{cfg.name}.json", make_manifest(out, cfg, "pynq-z2", "custom", None, True))
    return str(bit)


def test_refuses_a_consistent_manifest_for_another_core(tmp_path):
    from dataclasses import replace

    from bitstreams.manifest import check_bitstream

    n512 = replace(PYNQ_Z2, n=512)
    bit = _consistent_set(tmp_path, n512)
    assert check_bitstream(bit, n512)["params"]["n"] == 512  # the set is self-consistent
    with pytest.raises(BoardError, match="n: built 512, needed 1024"):
        PynqZ2Board(bit)
    lanes = replace(PYNQ_Z2, lanes=32, lut_lanes=0)
    with pytest.raises(BoardError, match=f"lanes: built {PYNQ_Z2.lanes}, needed 32"):
        PynqZ2Board(_consistent_set(tmp_path / "l", PYNQ_Z2), expected=lanes)


def test_refuses_a_checkpoint_that_does_not_fit_the_core(tmp_path):
    from model.config import get_config

    bit = _consistent_set(tmp_path, PYNQ_Z2)
    with pytest.raises(BoardError, match="n: core 1024, checkpoint needs 64"):
        PynqZ2Board(bit, model=get_config("cifar10-n64"))


def test_refuses_a_build_for_another_part(tmp_path):
    bit = _consistent_set(tmp_path, PYNQ_Z2, part="xc7z010clg400-1")
    with pytest.raises(BoardError, match="part 'xc7z010clg400-1'"):
        PynqZ2Board(bit)


def test_matching_build_passes_the_checks_and_reaches_the_overlay(tmp_path):
    """Everything matches: the only thing left is programming the PL, which needs the board itself."""
    from model.config import get_config

    bit = _consistent_set(tmp_path, PYNQ_Z2)
    with pytest.raises(Exception) as e:
        PynqZ2Board(bit, model=get_config("cifar10-n1024"))
    assert not isinstance(e.value, BoardError), e.value  # pynq.Overlay() itself fails off-board


def test_host_api_passes_the_checkpoint_to_the_check(tmp_path):
    from host import api
    from host.testing import random_checkpoint

    ck = random_checkpoint(str(tmp_path / "n64.safetensors"), "cifar10-n64")
    bit = _consistent_set(tmp_path, PYNQ_Z2)
    with pytest.raises(BoardError, match="n: core 1024, checkpoint needs 64"):
        api.open("pynq-z2", ck, bitfile=bit)


# ---- issue 11 item 7: the board refuses a bitstream of the wrong variant and names the one the model needs
def test_streamed_manifest_round_trip(tmp_path):
    from bitstreams.board_config import CONFIGS
    from bitstreams.manifest import check_bitstream
    from bitstreams.streamed import pynq_z2_build

    need = pynq_z2_build(6656, 1, "imagenet64")
    bit = _consistent_set(tmp_path, need)
    assert bit.endswith(CONFIGS["pynq-z2"].bitstream_name(need) + ".bit")
    man = check_bitstream(bit, need)
    assert (man["variant"], man["batch"], man["k_ports"]) == ("ddr", need.batch, 2)
    assert man["serves"] == {"n": 6656, "n_cond": 1, "models": ["imagenet64-n6656"]}
    assert man["largest_model"] == "imagenet64-n6656"
    assert man["k_hp_ports"] == {"m_axi0": "S_AXI_HP1", "m_axi1": "S_AXI_HP2"}
    on_chip = check_bitstream(_consistent_set(tmp_path / "onchip", PYNQ_Z2), PYNQ_Z2)
    assert (on_chip["variant"], on_chip["largest_model"], on_chip["k_ports"]) == ("bram", "cifar10-n1024", 0)


def test_refuses_the_onchip_bitstream_for_an_imagenet64_model(tmp_path):
    from model.config import get_config

    bit = _consistent_set(tmp_path, PYNQ_Z2)
    with pytest.raises(BoardError) as e:
        PynqZ2Board(bit, model=get_config("imagenet64-n6656"))
    msg = str(e.value)
    assert "holds the on-chip-K build for n=1024, n_cond=8, which serves cifar10-n1024" in msg
    assert "needs the streamed-K build (K in DDR over 2 HP ports, batch 3)" in msg
    assert "n: core 1024, checkpoint needs 6656" in msg and "k_source: built bram, needed ddr" in msg
    assert "program osc_pynq_z2_ddr_n6656_m1_b3.bit instead" in msg
    assert "python -m bitstreams.build --config pynq-z2 --model imagenet64-n6656" in msg


def test_refuses_a_streamed_bitstream_for_the_cifar_model(tmp_path):
    from bitstreams.streamed import pynq_z2_build
    from model.config import get_config

    bit = _consistent_set(tmp_path, pynq_z2_build(6656, 1, "imagenet64"))
    with pytest.raises(BoardError, match=r"serves imagenet64-n6656; checkpoint 'cifar10-n1024' needs the on-chip-K "
                                         r"build .*program osc_pynq_z2\.bit instead"):
        PynqZ2Board(bit, model=get_config("cifar10-n1024"))


def test_matching_streamed_build_reaches_the_overlay(tmp_path):
    from bitstreams.streamed import pynq_z2_build
    from model.config import get_config

    bit = _consistent_set(tmp_path, pynq_z2_build(6656, 1, "imagenet64"))
    with pytest.raises(Exception) as e:
        PynqZ2Board(bit, model=get_config("imagenet64-n6656"))
    assert not isinstance(e.value, BoardError), e.value  # pynq.Overlay() itself fails off-board
