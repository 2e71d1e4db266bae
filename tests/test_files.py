"""Atomic output files: whole or untouched, with ordinary permissions."""
import os
import stat

import pytest

from fixedpoint.files import atomic_output, write_atomic


def test_write_atomic_replaces_whole_file_with_normal_permissions(tmp_path):
    p = tmp_path / "sub" / "out.txt"
    write_atomic(p, "first")
    write_atomic(p, b"second")
    assert p.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert [x.name for x in p.parent.iterdir()] == ["out.txt"]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    p = tmp_path / "out.bin"
    write_atomic(p, b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(p) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("writer died")
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.bin"]


def test_counts_and_articles_read_right():
    from fixedpoint.cli import article, counted

    assert [counted(k, "image") for k in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    assert counted(1, "try", "tries") == "1 try" and counted(4, "try", "tries") == "4 tries"
    assert (article("imagenet64"), article("cifar10"), article("int")) == ("an imagenet64", "a cifar10", "an int")


def test_check_input_tells_a_directory_from_a_missing_file(tmp_path):
    from fixedpoint.files import DirectoryGivenError, check_input

    (tmp_path / "a.safetensors").write_bytes(b"x")
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(DirectoryGivenError, match=r"is a directory, not a file; give a \.safetensors file: "
                       rf"{tmp_path}/a\.safetensors$"):
        check_input(tmp_path, "checkpoint", (".safetensors",))
    with pytest.raises(FileNotFoundError, match="'x' does not exist; make one") as e:
        check_input(tmp_path / "none", "checkpoint", hint="make one", shown="x")
    assert not isinstance(e.value, IsADirectoryError)
    assert check_input(tmp_path / "notes.md") == str(tmp_path / "notes.md")
