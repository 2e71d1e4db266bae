"""Offline dataset loaders for training and evaluation (numpy only; nothing is ever downloaded).

Data contract (un0-model.md §10): images as float in [-1, 1], shape (N, 3, H, W), labels int64.
Datasets are held in memory as uint8 (N, 3, H, W) and converted per batch with :func:`to_float`, so that
CIFAR-10's 50k training images cost 150 MB instead of 600 MB.

Supported sources (CIFAR-10: Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"):

* ``cifar10``        the JPEG tar ``../shared/datasets/cifar10-jpeg.tar.gz`` (read straight from the tar, decoded
                     once and cached as .npz), a ``cifar-10-batches-py`` folder (pickle batches), or a class-folder tree.
* ``fashion-mnist``  IDX gzip files (Debian ``dataset-fashion-mnist`` installs them in /usr/share/datasets/fashion-mnist);
                     28x28 grey padded to 32x32 and replicated to 3 channels.
* ``imagenet64`` / ``imagenet32``  downsampled-ImageNet batches (pickle or .npz, keys data/labels) with 1-based
                     map_clsloc labels, converted to sorted-wnid order (Un-0's class ids) via model/classes.py.
* ``digits``         scikit-learn's 8x8 digits upsampled to 32x32, 3 channels (seconds-fast tests).
* ``imagefolder``    any ``<root>/<class>/<file>`` tree (sorted class folder names -> ids, or integer folder names).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fixedpoint.files import atomic_output

from model.classes import CIFAR10_CLASSES

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where the shared CIFAR-10 JPEG tar lives, relative to the repository root (data.md §1).
CIFAR10_TAR = REPO_ROOT / ".." / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_CACHE_DIR = Path(os.environ.get("OSCILLATOR_HIL_CACHE", Path.home() / ".cache" / "oscillator-hil"))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
DATASET_NAMES = ("cifar10", "fashion-mnist", "imagenet64", "imagenet32", "digits", "imagefolder")
SPLITS = ("train", "test")


class DatasetError(FileNotFoundError):
    """A dataset's files are missing or malformed; the message names the expected files and how to get them."""


@dataclass
class ImageDataset:
    """uint8 images (N, 3, H, W) + int64 labels, with class names; batches come out as float in [-1, 1]."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str] = field(default_factory=list)
    name: str = ""
    source: str = ""

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {self.images.dtype} {self.images.shape}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels shape {self.labels.shape} does not match {self.images.shape[0]} images")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def batch(self, index) -> tuple[np.ndarray, np.ndarray]:
        """Float images in [-1, 1] (float32) and int64 labels for the given indices."""
        return to_float(self.images[index]), self.labels[index]

    def subset(self, index) -> "ImageDataset":
        return ImageDataset(self.images[index], self.labels[index], list(self.class_names), self.name, self.source)

    def per_class(self, k: int, seed: int = 0) -> "ImageDataset":
        """The first k images of each class after a seeded shuffle (class-balanced small subsets)."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self))
        picks = []
        for c in range(self.num_classes):
            picks.append(order[self.labels[order] == c][:k])
        return self.subset(np.sort(np.concatenate(picks)))


def to_float(images_u8: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1] (x / 127.5 - 1)."""
    return images_u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 by round((x + 1) * 127.5), clipped (the inverse of :func:`to_float` on the grid)."""
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------------
# atomic cache helpers
def _atomic_write_npz(path: Path, **arrays) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def repo_relative(path: str | os.PathLike) -> str:
    """A data or checkpoint location as results record it: relative to the repository root when it lies in the
    repository's parent folder (e.g. ../shared/datasets/cifar10-jpeg.tar.gz), so no machine's prefix is stored."""
    p = Path(path).resolve()
    root = REPO_ROOT.resolve()
    if p == root.parent or root.parent in p.parents:
        return os.path.relpath(p, root)
    return str(path)


def _source_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:16]


def _decode_image(data: bytes, size: int | None = None) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10
def _missing_cifar(path: Path) -> DatasetError:
    return DatasetError(
        f"CIFAR-10 not found at {path}. Put the JPEG tar cifar10-jpeg.tar.gz (train/<class>/NNNN.jpg, "
        f"test/<class>/NNNN.jpg) in ../shared/datasets/ next to the repository ({CIFAR10_TAR.resolve()}), where "
        "model.train and model.evaluate find it without a flag; or pass --data-root with the tar, a "
        "'cifar-10-batches-py' folder with data_batch_1..5 and test_batch (the official python version from "
        "https://www.cs.toronto.edu/~kriz/cifar.html, downloaded by you); "
        "or a class-folder tree <root>/<train|test>/<class>/<image>.")


def load_cifar10_tar(tar_path: str | os.PathLike, split: str = "train", cache_dir: str | os.PathLike | None = None,
                     progress: bool = True) -> ImageDataset:
    """Read the CIFAR-10 JPEG tar without unpacking it; both splits are decoded in one pass and cached as .npz."""
    tar_path = Path(tar_path)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not tar_path.is_file():
        raise _missing_cifar(tar_path)
    cache = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    key = _source_key(tar_path)
    cache_files = {s: cache / f"cifar10-jpeg-{key}-{s}.npz" for s in SPLITS}
    if not cache_files[split].is_file():
        per_split: dict[str, list] = {s: [] for s in SPLITS}
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            tqdm = None
        try:
            tf = tarfile.open(tar_path, "r:*")
        except tarfile.ReadError as e:
            raise DatasetError(f"{tar_path} is not a readable tar archive ({e}); expected the gzip tar "
                               "../shared/datasets/cifar10-jpeg.tar.gz") from e
        with tf:
            members = tf
            if progress and tqdm is not None:
                members = tqdm(tf, desc=f"decoding {tar_path.name}", unit="file", total=60022, mininterval=2.0)
            for m in members:
                if not m.isfile():
                    continue
                parts = Path(m.name).parts
                # accept an optional top-level folder: [...]/<split>/<class>/<file>
                if len(parts) < 3 or parts[-3] not in SPLITS or not m.name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                s, cls, fname = parts[-3], parts[-2], parts[-1]
                data = tf.extractfile(m).read()
                per_split[s].append((cls, fname, _decode_image(data)))
        for s in SPLITS:
            items = per_split[s]
            if not items:
                raise DatasetError(f"{tar_path} holds no '{s}/<class>/<image>' members; expected the layout of "
                                   "../shared/datasets/cifar10-jpeg.tar.gz (train/<class>/NNNN.jpg, test/...)")
            classes = sorted({c for c, _, _ in items})
            items.sort(key=lambda t: (classes.index(t[0]), t[1]))
            imgs = np.stack([t[2] for t in items])
            labels = np.array([classes.index(t[0]) for t in items], dtype=np.int64)
            _atomic_write_npz(cache_files[s], images=imgs, labels=labels, classes=np.array(classes))
    with np.load(cache_files[split], allow_pickle=False) as z:
        return ImageDataset(z["images"], z["labels"], [str(c) for c in z["classes"]], "cifar10", repo_relative(tar_path))


def load_cifar10_python(root: str | os.PathLike, split: str = "train") -> ImageDataset:
    """Official CIFAR-10 python batches: pickle dicts with b'data' (N, 3072) planar uint8 and b'labels'.

    Pickle can run code, so only point this at files you obtained yourself (the official archive)."""
    root = Path(root)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DatasetError(f"CIFAR-10 python batches missing in {root}: {missing}. Expected data_batch_1..5 and "
                           "test_batch from the official 'CIFAR-10 python version' archive (cifar-10-python.tar.gz, "
                           "https://www.cs.toronto.edu/~kriz/cifar.html); download and unpack it yourself.")
    imgs, labels = [], []
    for n in names:
        with open(root / n, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise DatasetError(f"{root / n}: b'data' has shape {data.shape}, expected (N, 3072) planar uint8")
        imgs.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(d[b"labels"], dtype=np.int64))
    meta_names = list(CIFAR10_CLASSES)
    meta = root / "batches.meta"
    if meta.is_file():
        with open(meta, "rb") as f:
            m = pickle.load(f, encoding="bytes")
        meta_names = [x.decode() if isinstance(x, bytes) else str(x) for x in m.get(b"label_names", meta_names)]
    return ImageDataset(np.concatenate(imgs), np.concatenate(labels), meta_names, "cifar10", repo_relative(root))


def load_image_folder(root: str | os.PathLike, image_size: int | None = None, name: str = "imagefolder",
                      cache_dir: str | os.PathLike | None = None) -> ImageDataset:
    """``<root>/<class>/<image>`` tree. Integer folder names (e.g. Un-0's ``00980``) are used as ids; otherwise
    sorted folder names map to 0..C-1. Decoded once and cached (keyed by the tree's file list and mtimes)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist; expected <root>/<class>/<image> files")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(f"{root} has no class sub-folders; expected <root>/<class>/<image>")
    files = []
    for c in classes:
        files += [(c, p) for p in sorted((root / c).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise DatasetError(f"{root} has class folders but no images with extensions {IMAGE_EXTENSIONS}")
    integer_ids = all(c.isdigit() for c in classes)
    h = hashlib.sha1(str(root.resolve()).encode())
    for _, p in files:
        h.update(f"{p.name}|{p.stat().st_size}|{int(p.stat().st_mtime)}".encode())
    cache = (Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR) / f"folder-{h.hexdigest()[:16]}-{image_size}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return ImageDataset(z["images"], z["labels"], [str(c) for c in z["classes"]], name, repo_relative(root))
    imgs = [_decode_image(p.read_bytes(), image_size) for _, p in files]
    shapes = {im.shape for im in imgs}
    if len(shapes) != 1:
        raise DatasetError(f"{root}: images have different sizes {sorted(shapes)[:4]}; pass image_size to resize")
    labels = np.array([int(c) if integer_ids else classes.index(c) for c, _ in files], dtype=np.int64)
    ds = ImageDataset(np.stack(imgs), labels, classes, name, repo_relative(root))
    _atomic_write_npz(cache, images=ds.images, labels=ds.labels, classes=np.array(classes))
    return ds


# ----------------------------------------------------------------------------------------------------------------
# IDX (Fashion-MNIST / MNIST)
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip): big-endian magic 0x00000803 (images) or 0x00000801 (labels), uint8 data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise DatasetError(f"{path}: too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()}, expected 0000080N)")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    payload = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {dims} but payload has {payload.size} bytes")
    return payload.reshape(dims)


def load_fashion_mnist(root: str | os.PathLike = FASHION_MNIST_DIR, split: str = "train", pad_to: int = 32) -> ImageDataset:
    """Fashion-MNIST IDX files; 28x28 grey zero-padded (value 0 = black) to ``pad_to`` and replicated to RGB."""
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    found = []
    for n in names:
        for cand in (root / (n + ".gz"), root / n):
            if cand.is_file():
                found.append(cand)
                break
        else:
            raise DatasetError(f"Fashion-MNIST file {n}(.gz) missing in {root}. Install it with "
                               "'apt-get install dataset-fashion-mnist' (files land in /usr/share/datasets/fashion-mnist) "
                               "or pass the folder holding the four *-ubyte.gz files.")
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DatasetError(f"Fashion-MNIST shapes do not match: images {images.shape}, labels {labels.shape}")
    pad = pad_to - images.shape[1]
    if pad < 0:
        raise ValueError(f"pad_to={pad_to} is smaller than the {images.shape[1]}-pixel images")
    lo = pad // 2
    out = np.zeros((images.shape[0], 3, pad_to, pad_to), dtype=np.uint8)
    out[:, :, lo:lo + images.shape[1], lo:lo + images.shape[2]] = images[:, None]
    return ImageDataset(out, labels.astype(np.int64), list(FASHION_MNIST_CLASSES), "fashion-mnist", str(root))


# ----------------------------------------------------------------------------------------------------------------
# Downsampled ImageNet
def _load_batch_file(path: Path) -> dict:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    with open(path, "rb") as f:  # pickle: only user-provided files (the official Imagenet32/64 archives)
        d = pickle.load(f)
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def map_clsloc_to_sorted(labels_1based: np.ndarray) -> np.ndarray:
    """Downsampled-ImageNet labels (1..1000, map_clsloc order) -> Un-0 class ids (0..999, sorted-wnid order)."""
    from model import classes as _classes

    table = np.zeros(1000, dtype=np.int64)
    for row in _classes.imagenet_table():
        table[row.clsloc - 1] = row.index
    labels = np.asarray(labels_1based, dtype=np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 1000):
        raise DatasetError(f"ImageNet labels must be 1-based map_clsloc ids in 1..1000, got range "
                           f"[{labels.min()}, {labels.max()}]")
    return table[labels - 1]


def load_imagenet_downsampled(root: str | os.PathLike, split: str = "train", size: int = 64) -> ImageDataset:
    """Imagenet32/64 batches (``train_data_batch_1..10``, ``val_data``; pickle or .npz, keys data/labels)."""
    root = Path(root)
    stems = [f"train_data_batch_{i}" for i in range(1, 11)] if split == "train" else ["val_data"]
    files = []
    for s in stems:
        for cand in (root / (s + ".npz"), root / s):
            if cand.is_file():
                files.append(cand)
                break
    if not files:
        raise DatasetError(f"no downsampled-ImageNet batches in {root}: expected {stems[0]}(.npz)"
                           f"{' .. ' + stems[-1] if len(stems) > 1 else ''} from the official Imagenet{size}x{size} "
                           "archives (image-net.org 'Downsampled ImageNet', needs an ImageNet account); unpack them yourself.")
    imgs, labels = [], []
    for p in files:
        d = _load_batch_file(p)
        if "data" not in d or "labels" not in d:
            raise DatasetError(f"{p}: expected keys 'data' and 'labels', found {sorted(d)}")
        data = np.asarray(d["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * size * size:
            raise DatasetError(f"{p}: data shape {data.shape}, expected (N, {3 * size * size}) planar uint8 for size {size}")
        imgs.append(data.reshape(-1, 3, size, size))
        labels.append(np.asarray(d["labels"], dtype=np.int64).reshape(-1))
    from model import classes as _classes

    names = _classes.class_names("imagenet64")
    return ImageDataset(np.concatenate(imgs), map_clsloc_to_sorted(np.concatenate(labels)), list(names),
                        f"imagenet{size}", str(root))


# ----------------------------------------------------------------------------------------------------------------
# scikit-learn digits
def load_digits(split: str = "train", size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """sklearn digits (1,797 8x8 images, 0..16) scaled to 0..255 and nearest-upsampled to ``size``; seeded split."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    x = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    f = size // 8
    if f * 8 != size:
        raise ValueError(f"digits size must be a multiple of 8, got {size}")
    x = x.repeat(f, axis=1).repeat(f, axis=2)
    x = np.repeat(x[:, None], 3, axis=1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    idx = np.sort(order[n_test:] if split == "train" else order[:n_test])
    return ImageDataset(np.ascontiguousarray(x[idx]), d.target[idx].astype(np.int64), [str(i) for i in range(10)],
                        "digits", "sklearn.datasets.load_digits")


# ----------------------------------------------------------------------------------------------------------------
def load_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> ImageDataset:
    """One entry point: ``name`` in DATASET_NAMES; ``root`` overrides the default location."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    name = name.lower()
    if name == "cifar10":
        path = Path(root) if root is not None else CIFAR10_TAR
        if path.is_file():
            return load_cifar10_tar(path, split, cache_dir, progress)
        if path.is_dir():
            if (path / "cifar-10-batches-py").is_dir() or (path / "data_batch_1").is_file() or (path / "test_batch").is_file():
                return load_cifar10_python(path, split)
            if (path / split).is_dir():
                ds = load_image_folder(path / split, 32, "cifar10", cache_dir)
                return ds
        raise _missing_cifar(path)
    if name == "fashion-mnist":
        return load_fashion_mnist(root if root is not None else FASHION_MNIST_DIR, split)
    if name in ("imagenet64", "imagenet32"):
        if root is None:
            raise DatasetError(f"{name} has no default location: pass --data-root pointing at the folder with "
                               "train_data_batch_1..10 / val_data (pickle or .npz)")
        return load_imagenet_downsampled(root, split, 64 if name == "imagenet64" else 32)
    if name == "digits":
        return load_digits(split)
    if name == "imagefolder":
        if root is None:
            raise DatasetError("imagefolder needs --data-root <root> with <root>/<class>/<image> (or <root>/<split>/...)")
        root = Path(root)
        return load_image_folder(root / split if (root / split).is_dir() else root, None, "imagefolder", cache_dir)
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASET_NAMES}")
