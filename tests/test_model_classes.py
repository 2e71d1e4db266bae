"""Class tables and name resolution (pure Python, no torch)."""

import sys

import pytest

from model.classes import class_names, imagenet_table, resolve_class


def test_cifar10_alphabetical_is_official_order():
    names = class_names("cifar10")
    assert names == sorted(names) and len(names) == 10
    assert resolve_class("cat", "cifar10") == 3 and resolve_class("truck", "cifar10") == 9
    assert resolve_class("AIRPLANE", "cifar10") == 0 and resolve_class(7, "cifar10") == 7
    assert resolve_class("7", "cifar10") == 7


def test_imagenet_table_orders():
    t = imagenet_table()
    assert len(t) == 1000
    assert [r.wnid for r in t] == sorted(r.wnid for r in t)  # index = sorted-wnid order
    volcano = t[980]
    assert (volcano.wnid, volcano.clsloc, volcano.name) == ("n09472597", 362, "volcano")
    assert t[0].name == "tench" and t[0].clsloc == 449
    # Un-0's ImageNet sample grid: tench ... volcano
    grid = [0, 1, 207, 281, 291, 388, 417, 933, 971, 980]
    assert [class_names("imagenet64")[i] for i in grid] == [
        "tench", "goldfish", "golden retriever", "tabby", "lion", "giant panda", "balloon",
        "cheeseburger", "bubble", "volcano"]


@pytest.mark.parametrize("spelling", ["volcano", "Volcano", " VOLCANO ", "n09472597", 980, "980"])
def test_volcano(spelling):
    assert resolve_class(spelling, "imagenet64") == 980


def test_name_variants_and_errors():
    assert resolve_class("golden_retriever", "imagenet64") == 207
    assert resolve_class("Golden Retriever", "imagenet64") == 207
    assert resolve_class("giant-panda", "imagenet64") == 388
    with pytest.raises(ValueError) as e:
        resolve_class("vulcano", "imagenet64")
    assert "volcano" in str(e.value) and "offers" in str(e.value)
    with pytest.raises(ValueError, match=r"Close matches: \['cat'\]"):
        resolve_class("kat", "cifar10")
    with pytest.raises(ValueError, match="out of range"):
        resolve_class(10, "cifar10")
    with pytest.raises(ValueError, match="out of range"):
        resolve_class(5, "cifar10", num_classes=4)
    with pytest.raises(ValueError, match="known datasets"):
        class_names("mnist")
    assert resolve_class("three", "digits") == 3 and resolve_class("3", "digits") == 3


def test_pure_python_modules_do_not_import_torch():
    import subprocess

    code = "import sys, model, model.config, model.classes; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_integer_class_ids_resolve_like_ints():
    import numpy as np

    assert resolve_class(np.int64(3), "cifar10") == resolve_class(3, "cifar10") == 3
    with pytest.raises(ValueError, match="out of range"):
        resolve_class(np.uint8(10), "cifar10")
    with pytest.raises(ValueError, match="name or an integer index"):
        resolve_class(np.bool_(True), "cifar10")
