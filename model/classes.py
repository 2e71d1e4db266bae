"""Class names and name -> class-id resolution for the supported datasets.

Pure Python (no torch): the board side and the host CLI resolve "cat" or "volcano" with it.

Index conventions (these are what the generator's K_drive is indexed by):
- cifar10: the official CIFAR-10 label ids, which equal the alphabetical order of the names.
- digits: the digit value 0-9.
- imagenet64: the 0-based index in sorted-WordNet-id order (Un-0's ImageNet class ids and the
  torchvision/Keras classifiers); volcano = 980. The 1-based ILSVRC ``map_clsloc.txt`` index used by
  the downsampled-ImageNet files (volcano = 362) is kept in the table too, see :func:`imagenet_table`.
"""

from __future__ import annotations

import difflib
import functools
import numbers
import os
import re
from dataclasses import dataclass

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
DIGITS_CLASSES = tuple(str(i) for i in range(10))
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

IMAGENET_TABLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "imagenet_classes.tsv")

DATASETS = ("cifar10", "digits", "imagenet64")


@dataclass(frozen=True)
class ImageNetClass:
    wnid: str  # WordNet id, e.g. n09472597
    index: int  # 0-based sorted-wnid index (Un-0 class id)
    clsloc: int  # 1-based map_clsloc.txt index (downsampled-ImageNet label)
    name: str  # readable name(s); synonyms separated by ", "


@functools.lru_cache(maxsize=1)
def imagenet_table() -> tuple[ImageNetClass, ...]:
    """The 1000 ILSVRC-2012 classes, ordered by sorted-wnid index."""
    if not os.path.exists(IMAGENET_TABLE_PATH):
        raise FileNotFoundError(
            f"ImageNet class table {IMAGENET_TABLE_PATH} is missing; it ships with the repository "
            "(restore it from version control)"
        )
    rows = []
    with open(IMAGENET_TABLE_PATH, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != ["wnid", "sorted_index", "map_clsloc_index", "name"]:
            raise ValueError(f"{IMAGENET_TABLE_PATH}: unexpected header {header}")
        for lineno, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                raise ValueError(f"{IMAGENET_TABLE_PATH}:{lineno}: expected 4 tab-separated fields")
            rows.append(ImageNetClass(parts[0], int(parts[1]), int(parts[2]), parts[3]))
    rows.sort(key=lambda r: r.index)
    if [r.index for r in rows] != list(range(1000)) or sorted(r.clsloc for r in rows) != list(range(1, 1001)):
        raise ValueError(f"{IMAGENET_TABLE_PATH}: indices are not a permutation of 0..999 / 1..1000")
    return tuple(rows)


def class_names(dataset: str) -> list[str]:
    """Readable names in class-id order (ImageNet: the first synonym of each class)."""
    if dataset == "cifar10":
        return list(CIFAR10_CLASSES)
    if dataset == "digits":
        return list(DIGITS_CLASSES)
    if dataset == "imagenet64":
        return [r.name.split(",")[0].strip() for r in imagenet_table()]
    raise ValueError(f"unknown dataset {dataset!r}; known datasets: {list(DATASETS)}")


def _norm(s: str) -> str:
    """Case-insensitive, '_' / '-' / repeated spaces treated as one space."""
    return re.sub(r"[\s_\-]+", " ", s.strip().lower())


@functools.lru_cache(maxsize=None)
def _aliases(dataset: str) -> dict[str, int]:
    """Every accepted spelling (normalised) -> class id. Ambiguous synonyms map to the first class."""
    out: dict[str, int] = {}
    if dataset == "imagenet64":
        for r in imagenet_table():
            out.setdefault(r.wnid.lower(), r.index)
            for syn in r.name.split(","):
                if syn.strip():
                    out.setdefault(_norm(syn), r.index)
        return out
    for i, name in enumerate(class_names(dataset)):
        out[_norm(name)] = i
    if dataset == "digits":
        for i, w in enumerate(_DIGIT_WORDS):
            out[w] = i
    if dataset == "cifar10":
        out.setdefault("plane", 0)
        out.setdefault("car", 1)
    return out


def resolve_class(name_or_index: str | int, dataset: str, num_classes: int | None = None) -> int:
    """Map a class name (any synonym, any case, '_' or ' ') or an index to the class id.

    ``num_classes`` (what the checkpoint offers) bounds integer ids. Raises ValueError with close
    matches and the available classes when nothing fits.
    """
    names = class_names(dataset)
    limit = len(names) if num_classes is None else num_classes
    if isinstance(name_or_index, bool):
        raise ValueError(f"class must be a name or an integer index, got {name_or_index!r}")
    if isinstance(name_or_index, numbers.Integral) or (isinstance(name_or_index, str) and name_or_index.strip().isdigit()
                                          and _norm(name_or_index) not in _aliases(dataset)):
        idx = int(name_or_index)
        if not 0 <= idx < limit:
            raise ValueError(f"class index {idx} out of range for {dataset} (0..{limit - 1})")
        return idx
    if not isinstance(name_or_index, str):
        raise ValueError(f"class must be a name or an integer index, got {type(name_or_index).__name__}")
    aliases = _aliases(dataset)
    key = _norm(name_or_index)
    if key in aliases and aliases[key] < limit:
        return aliases[key]
    close = difflib.get_close_matches(key, list(aliases), n=5, cutoff=0.6)
    hint = f" Close matches: {close}." if close else ""
    if dataset != "imagenet64" and key in _aliases("imagenet64"):
        hint = (f" {name_or_index!r} is an ImageNet-64 class (id {_aliases('imagenet64')[key]}): it needs an ImageNet-64 "
                "checkpoint. Import Un-0's released weights (Hugging Face repo un-ai/Un-0, e.g. imagenet64_n6656.pt) with "
                "`python -m model.checkpoint import-un0 imagenet64_n6656.pt out/imagenet64-n6656.safetensors`, then pass "
                "--checkpoint out/imagenet64-n6656.safetensors.")
    shown = names[:limit]
    avail = shown if len(shown) <= 20 else shown[:20] + [f"... ({len(shown)} classes in all)"]
    raise ValueError(
        f"unknown {dataset} class {name_or_index!r}.{hint} The checkpoint offers: {avail}"
    )
