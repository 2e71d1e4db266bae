"""Loaders on tiny files written in each exact on-disk format (data.md §3); nothing is downloaded."""
import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import classes
from model.data import (CIFAR10_TAR, DatasetError, load_cifar10_python, load_cifar10_tar, load_dataset, load_digits,
                        load_fashion_mnist, load_image_folder, load_imagenet_downsampled, read_idx, to_float, to_uint8)


def _check_contract(ds, n, size):
    x, y = ds.batch(np.arange(len(ds)))
    assert x.shape == (n, 3, size, size) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert y.dtype == np.int64 and y.shape == (n,)


def test_float_uint8_round_trip():
    u = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16).repeat(3, 1)
    assert np.array_equal(to_uint8(to_float(u)), u)
    assert to_float(u).min() == -1.0 and to_float(u).max() == 1.0


def test_cifar_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    planar = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        planar[name] = (data, labels)
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
    ds = load_cifar10_python(tmp_path, "train")
    _check_contract(ds, 20, 32)
    data, labels = planar["data_batch_2"]
    # planar layout: first 1024 bytes are the red plane, row-major
    assert np.array_equal(ds.images[4, 0].reshape(-1), data[0, :1024])
    assert np.array_equal(ds.images[4, 2, 31], data[0, 2048 + 31 * 32:2048 + 32 * 32])
    assert ds.labels[4:8].tolist() == labels
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert len(test) == 4 and test.class_names == classes.class_names("cifar10")
    (root / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_cifar10_python(root, "train")


def _png_bytes(arr_hwc):
    buf = io.BytesIO()
    Image.fromarray(arr_hwc).save(buf, format="PNG")
    return buf.getvalue()


def test_class_folder_tree(tmp_path):
    rng = np.random.default_rng(1)
    imgs = {}
    for cls in ("cat", "airplane", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for k in range(3):
            a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            (tmp_path / "train" / cls / f"{k:04d}.png").write_bytes(_png_bytes(a))
            imgs[(cls, k)] = a
    ds = load_image_folder(tmp_path / "train", cache_dir=tmp_path / "cache")
    _check_contract(ds, 9, 32)
    assert ds.class_names == ["airplane", "cat", "dog"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.array_equal(ds.images[4].transpose(1, 2, 0), imgs[("cat", 1)])  # PNG is lossless
    again = load_image_folder(tmp_path / "train", cache_dir=tmp_path / "cache")  # from the .npz cache
    assert np.array_equal(again.images, ds.images)
    # Un-0's ImageNet tree: integer folder names are the class ids
    (tmp_path / "inet" / "00980").mkdir(parents=True)
    (tmp_path / "inet" / "00980" / "00000000.png").write_bytes(_png_bytes(imgs[("dog", 0)]))
    assert load_image_folder(tmp_path / "inet", cache_dir=tmp_path / "cache").labels.tolist() == [980]


def test_cifar_tar_read_in_place_and_cached(tmp_path):
    rng = np.random.default_rng(2)
    tar_path = tmp_path / "tiny.tar.gz"
    truth = {}
    with tarfile.open(tar_path, "w:gz") as tf:
        for split in ("train", "test"):
            for cls in ("bird", "airplane"):
                for k in range(2):
                    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    data = _png_bytes(a)
                    info = tarfile.TarInfo(f"{split}/{cls}/{k:04d}.png")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
                    truth[(split, cls, k)] = a
    ds = load_cifar10_tar(tar_path, "test", cache_dir=tmp_path / "c", progress=False)
    _check_contract(ds, 4, 32)
    assert ds.class_names == ["airplane", "bird"] and ds.labels.tolist() == [0, 0, 1, 1]
    assert np.array_equal(ds.images[3].transpose(1, 2, 0), truth[("test", "bird", 1)])
    cached = list((tmp_path / "c").glob("*.npz"))
    assert len(cached) == 2 and not list((tmp_path / "c").glob("*.tmp"))
    tar_path.write_bytes(b"")  # the cache is keyed on the file, a changed file is not served from it
    with pytest.raises(DatasetError, match="not a readable tar"):
        load_cifar10_tar(tar_path, "train", cache_dir=tmp_path / "c", progress=False)
    with pytest.raises(DatasetError, match="cifar10-jpeg.tar.gz"):
        load_cifar10_tar(tmp_path / "missing.tar.gz", cache_dir=tmp_path / "c")


def _idx(path, arr, magic):
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_idx(tmp_path):
    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([9, 0, 3, 3, 1], dtype=np.uint8)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, 2051)
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 2049)
    assert np.array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), imgs)
    ds = load_fashion_mnist(tmp_path, "test")
    _check_contract(ds, 5, 32)
    assert ds.labels.tolist() == [9, 0, 3, 3, 1]
    assert np.array_equal(ds.images[:, 0, 2:30, 2:30], imgs) and np.array_equal(ds.images[:, 1], ds.images[:, 2])
    assert ds.images[:, :, :2].max() == 0 and ds.images[:, :, 30:].max() == 0
    with pytest.raises(DatasetError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path, "train")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x03" + b"\x00" * 16))
    with pytest.raises(DatasetError, match="unsigned-byte"):
        read_idx(tmp_path / "bad.gz")


def test_imagenet_npz_labels_are_mapped_to_sorted_wnid(tmp_path):
    table = classes.imagenet_table()
    volcano = next(r for r in table if r.wnid == "n09472597")
    assert (volcano.index, volcano.clsloc) == (980, 362)
    rng = np.random.default_rng(4)
    data = rng.integers(0, 256, (3, 3 * 64 * 64), dtype=np.uint8)
    np.savez(tmp_path / "val_data.npz", data=data, labels=np.array([362, 1, 1000]))
    ds = load_imagenet_downsampled(tmp_path, "test", 64)
    _check_contract(ds, 3, 64)
    expected = [980] + [next(r.index for r in table if r.clsloc == c) for c in (1, 1000)]
    assert ds.labels.tolist() == expected
    assert np.array_equal(ds.images[1].reshape(-1), data[1])  # planar
    np.savez(tmp_path / "val_data.npz", data=data, labels=np.array([0, 1, 2]))  # 0-based by mistake
    with pytest.raises(DatasetError, match="1-based"):
        load_imagenet_downsampled(tmp_path, "test", 64)
    with pytest.raises(DatasetError, match="train_data_batch_1"):
        load_imagenet_downsampled(tmp_path, "train", 64)


def test_digits_and_unknown_names():
    tr, te = load_digits("train"), load_digits("test")
    assert len(tr) + len(te) == 1797 and len(te) == 359
    _check_contract(te, 359, 32)
    assert np.array_equal(te.images[:, :, ::4, ::4].shape, (359, 3, 8, 8))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar100")


@pytest.mark.needs_data
def test_shared_cifar_tar_if_present():
    if not CIFAR10_TAR.is_file():
        pytest.skip("../shared/datasets/cifar10-jpeg.tar.gz not present")
    ds = load_dataset("cifar10", "test")
    assert len(ds) == 10000 and np.bincount(ds.labels).tolist() == [1000] * 10
    assert ds.class_names == classes.class_names("cifar10")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="dataset-fashion-mnist not installed")
def test_installed_fashion_mnist():
    ds = load_dataset("fashion-mnist", "test")
    assert len(ds) == 10000 and ds.image_size == 32
