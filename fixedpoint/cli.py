"""Command-line validation shared by every entry point (stdlib only): argparse types and a one-line error.

    from fixedpoint import cli
    ap = cli.ArgumentParser(prog="python -m model.sample", description=...)
    ap.add_argument("--n", type=cli.positive_int, default=16)
    ap.add_argument("--out", type=cli.output_file(cli.IMAGE_FORMATS), required=True)
    args = ap.parse_args(argv)
    if args.a and args.b:
        ap.error("--a and --b exclude each other")    # one line on stderr, exit status 2

Every bad value (wrong type, out of range, nonsense combination, unwritable destination) ends the program
with exactly one line `PROG: error: WHAT (see --help)` and exit status 2, before any work starts.
"""
from __future__ import annotations

import argparse
import math
import os

from .files import check_input, check_output

#: Largest seed: numpy's legacy seeding and most samplers take 32-bit seeds.
MAX_SEED = 2**32 - 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line (no usage block) and exit with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _named(fn, name: str):
    fn.__name__ = name  # argparse names the type in its own messages
    return fn


def int_range(lo: int | None = None, hi: int | None = None):
    """argparse type: an integer in [lo, hi] (either bound may be None)."""
    def parse(text: str) -> int:
        try:
            v = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = (f"between {lo} and {hi}" if lo is not None and hi is not None
                   else f">= {lo}" if lo is not None else f"<= {hi}")
            raise argparse.ArgumentTypeError(f"must be an integer {rng}, got {v}")
        return v

    return _named(parse, "integer")


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    """argparse type: a finite float in [lo, hi] ((lo, hi] / [lo, hi) with lo_open / hi_open)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        bad = not math.isfinite(v)
        bad |= lo is not None and (v <= lo if lo_open else v < lo)
        bad |= hi is not None and (v >= hi if hi_open else v > hi)
        if bad:
            parts = []
            if lo is not None:
                parts.append(f"{'>' if lo_open else '>='} {lo:g}")
            if hi is not None:
                parts.append(f"{'<' if hi_open else '<='} {hi:g}")
            raise argparse.ArgumentTypeError(f"must be a finite number{' ' + ' and '.join(parts) if parts else ''}, "
                                             f"got {text}")
        return v

    return _named(parse, "number")


positive_int = int_range(1)
nonneg_int = int_range(0)
seed = int_range(0, MAX_SEED)
positive_float = float_range(0.0, lo_open=True)
nonneg_float = float_range(0.0)
finite_float = float_range()
probability = float_range(0.0, 1.0)


# ---- output formats: the extensions each kind of writer really writes (first = the default/hint) ----------
#: Raster pictures written by Pillow (model.plots.save_image picks the encoder from the extension).
IMAGE_FORMATS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Animations (Pillow's GIF encoder).
GIF_FORMATS = (".gif",)
#: matplotlib figures (savefig's format comes from the extension).
FIGURE_FORMATS = (".png", ".svg", ".pdf")
#: numpy archives (np.savez).
NPZ_FORMATS = (".npz",)
MARKDOWN_FORMATS = (".md",)
JSON_FORMATS = (".json",)
JSONL_FORMATS = (".jsonl",)
SAFETENSORS_FORMATS = (".safetensors",)
#: torch.save files (training state).
TORCH_FORMATS = (".pt",)


def output_file(formats: tuple[str, ...]):
    """argparse type: a file path we can create (not a directory; checked with a probe file) whose extension
    is one of `formats`, so that the contents match the name. Use it for every output option and say the
    formats in its help."""
    formats = tuple(f.lower() for f in formats)
    if not formats or not all(f.startswith(".") for f in formats):
        raise ValueError(f"formats must be extensions with a dot, got {formats!r}")

    def parse(text: str) -> str:
        try:
            return check_output(text, "path", "file", formats)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return _named(parse, "output file")


def counted(n, noun: str, plural: str | None = None) -> str:
    """"1 image", "2 images", "0 images" (`plural` for irregular nouns: counted(n, "try", "tries"))."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def article(word: str) -> str:
    """"a cifar10 model" / "an imagenet64 model": the indefinite article for `word` (by its first letter)."""
    return f"{'an' if str(word)[:1].lower() in 'aeiou' else 'a'} {word}"


def formats_text(formats: tuple[str, ...]) -> str:
    """The formats for a help text: ".png/.jpg/..."."""
    return "/".join(formats)


#: Extensions that name a file, never a directory: every output format above, and text tables.
FILE_EXTENSIONS = tuple(dict.fromkeys(IMAGE_FORMATS + GIF_FORMATS + FIGURE_FORMATS + NPZ_FORMATS + MARKDOWN_FORMATS
                                      + JSON_FORMATS + JSONL_FORMATS + SAFETENSORS_FORMATS + TORCH_FORMATS
                                      + (".txt", ".csv")))


def output_dir(text: str) -> str:
    """argparse type: a directory that exists and is writable, or can be created.

    A command's --out is a file (output_file, with the extensions its writer writes) when it writes one file,
    a directory (this type) when it writes several; a new directory named like a file (`x.png`, FILE_EXTENSIONS)
    is refused rather than created, so that asking for a file never leaves a directory of that name."""
    ext = os.path.splitext(os.path.normpath(text))[1].lower() if text else ""
    if ext in FILE_EXTENSIONS and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} names a {ext} file, but this option is the directory the command writes its files into; "
            f"give a directory (e.g. {os.path.splitext(os.path.normpath(text))[0]})")
    try:
        return check_output(text, "directory", "dir")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def existing_file(text: str) -> str:
    """argparse type: a readable regular file."""
    try:
        check_input(text, "path")
    except FileNotFoundError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not readable")
    return text


def choice_list(allowed, name: str = "value"):
    """argparse type: a comma-separated list, every item from `allowed` (no duplicates); returns a list."""
    allowed = tuple(allowed)

    def parse(text: str) -> list[str]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in items if s not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(f"unknown {name}(s) {bad or [text]}; choose from {', '.join(allowed)}")
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"repeated {name} in {text!r}")
        return items

    return _named(parse, name)


def int_list(lo: int | None = None, hi: int | None = None):
    """argparse type: a comma-separated list of integers in [lo, hi]; returns a list."""
    one = int_range(lo, hi)

    def parse(text: str) -> list[int]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}")
        return [one(s) for s in items]

    return _named(parse, "integer list")
