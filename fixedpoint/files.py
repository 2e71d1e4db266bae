"""Atomic output files, for every layer (stdlib only): a reader never sees a half-written file.

Write to a temporary file in the target's directory, fsync, give it the permissions a plain open()
would (mkstemp makes 0600 files), then os.replace onto the target; on any error the target is untouched.

check_output() refuses a destination that cannot be written before the long work starts; save_with_rescue()
writes a finished result to a rescue location (and says where) when its destination fails late.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path (same directory and extension) that becomes `path` when the block succeeds."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Atomically write bytes, or text as UTF-8."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- destinations: checked before the long work, rescued after it ------------------------------------------
RESCUE_DIR_NAME = "oscillator-hil-rescued"


def _nearest_existing(path: str) -> str:
    d = path
    while not os.path.lexists(d):
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return d


#: Where the repository keeps what its own commands write (generated docs, benchmark results, figures):
#: outputs may replace files there; every other file of the repository (README.md, LICENSE, sources,
#: checkpoints) is never a destination.
GENERATED_DIRS = ("out", "docs", "benchmarks/results")
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _refuse_repository_file(raw: str, p: str, what: str) -> None:
    """ValueError if `p` is an existing file of the repository outside GENERATED_DIRS that git tracks (where
    git or the repository is absent, e.g. on the board, nothing is checked)."""
    rel = os.path.relpath(os.path.realpath(p), os.path.realpath(_REPO))
    if rel.startswith(os.pardir) or not os.path.isfile(p):
        return
    if any(rel == d or rel.startswith(d + os.sep) for d in GENERATED_DIRS):
        return
    import subprocess

    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "--", rel], cwd=_REPO, timeout=10,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return
    if tracked:
        raise ValueError(f"{what} {raw!r} is a file of the repository; refusing to overwrite it "
                         f"(write into out/, e.g. out/{os.path.basename(raw)})")


def check_output(path: str | os.PathLike, what: str = "output", kind: str = "file",
                 formats: tuple[str, ...] | None = None) -> str:
    """Refuse, before any long work, a destination that cannot be written; returns `path` unchanged.

    kind "file": `path` must not be a directory and its directory (or the nearest existing ancestor, which
    atomic_output will create the rest under) must accept a new file; with `formats` (lower-case extensions
    with the dot, e.g. (".png", ".jpg"): what the writer really writes) its extension must be one of them,
    compared case-insensitively, so a file's contents always match its name. kind "dir": `path` must be a
    directory or creatable as one. The check creates and removes one empty temporary file (so it holds for
    root and for read-only file systems too). Raises ValueError with one line saying what is wrong.
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    raw = os.fspath(path)
    if not raw:
        raise ValueError(f"{what}: empty path")
    p = os.path.abspath(raw)
    if kind == "file":
        if os.path.isdir(p) or raw.endswith(os.sep):
            example = os.path.join(raw, "out" + (formats[0] if formats else ""))
            raise ValueError(f"{what} {raw!r} is a directory; give a file name inside it (e.g. {example})")
        if formats:
            stem, ext = os.path.splitext(raw)
            if ext.lower() not in formats:
                named = f"extension {ext!r}" if ext else "no extension"
                raise ValueError(f"{what} {raw!r} has {named}; it writes {', '.join(formats)} files only "
                                 f"(e.g. {stem + formats[0]})")
        _refuse_repository_file(raw, p, what)
        target_dir = os.path.dirname(p)
    else:
        if os.path.lexists(p) and not os.path.isdir(p):
            raise ValueError(f"{what} {raw!r} exists and is not a directory")
        target_dir = p
    base = _nearest_existing(target_dir)
    if not os.path.isdir(base):
        raise ValueError(f"{what} {raw!r}: {base} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{what} {raw!r}: cannot write in {base} ({e.strerror or e}); choose a writable "
                         "location") from None
    return raw


class DirectoryGivenError(IsADirectoryError, FileNotFoundError):
    """An input that must be a file names a directory. A FileNotFoundError too, so that every caller that
    reports a missing input (one line, exit 2) reports this one the same way, with its own message."""


def check_input(path: str | os.PathLike, what: str = "input", formats: tuple[str, ...] | None = None,
                hint: str = "", shown: str | None = None) -> str:
    """Refuse an input file that is missing or a directory, before any work; returns `path` as a str.

    Raises FileNotFoundError "WHAT 'p' does not exist" (+ `hint`, e.g. how to get one), or DirectoryGivenError
    "WHAT 'p' is a directory; give the file inside it", naming up to three files in it with one of `formats`
    (lower-case extensions with the dot) as examples. `shown`: the path as the message writes it (default `path`).
    """
    raw = os.fspath(path)
    name = raw if shown is None else shown
    if os.path.isdir(raw):
        found = sorted(f for f in os.listdir(raw) if not f.startswith(".") and os.path.isfile(os.path.join(raw, f))
                       and (not formats or os.path.splitext(f)[1].lower() in formats))
        kind = f"a {'/'.join(formats)} file" if formats else "a file"
        inside = (f": {', '.join(os.path.join(name, f) for f in found[:3])}{', ...' if len(found) > 3 else ''}"
                  if found else f" (there is none in it)")
        raise DirectoryGivenError(f"{what} {name!r} is a directory, not a file; give {kind}{inside}")
    if not os.path.isfile(raw):
        raise FileNotFoundError(f"{what} {name!r} does not exist" + (f"; {hint}" if hint else ""))
    return raw


def _rescue_path(path: str) -> list[str]:
    """Candidate places for a result whose destination failed: the temp dir, then the home directory."""
    name = os.path.basename(os.path.normpath(path)) or "output"
    stem, ext = os.path.splitext(name)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    unique = f"{stem}-{stamp}-{os.getpid()}{ext}"
    return [os.path.join(base, RESCUE_DIR_NAME, unique) for base in (tempfile.gettempdir(), os.path.expanduser("~"))]


def save_with_rescue(path: str | os.PathLike, write, what: str = "output", report=None) -> str:
    """Call write(path); if that fails with OSError, call write(rescue) for a rescue path and say so.

    `write` writes the whole result to the path it is given (a file, or a directory of files), atomically.
    Returns the path actually written: `path`, or the rescue path (a line on `report`, default stderr, names
    both and the reason). Raises OSError only when the result could be written nowhere; results are never
    dropped silently.
    """
    import sys

    path = os.fspath(path)
    try:
        write(path)
        return path
    except OSError as e:
        reason = f"{type(e).__name__}: {e.strerror or e}"
    errors = []
    for rescue in _rescue_path(path):
        try:
            os.makedirs(os.path.dirname(rescue), exist_ok=True)
            write(rescue)
        except OSError as e2:
            errors.append(f"{rescue}: {e2.strerror or e2}")
            continue
        print(f"warning: could not write {what} {path} ({reason}); saved it to {rescue} instead",
              file=report or sys.stderr, flush=True)
        return rescue
    raise OSError(f"could not write {what} {path} ({reason}) nor a rescue copy ({'; '.join(errors)})")


class RescuingSaver:
    """`save(path, write, what)`: save_with_rescue for each output of one command; `rescued` is True once any
    output had to go to a rescue path (a command then exits 1 after writing everything it could)."""

    def __init__(self, report=None):
        self.rescued = False
        self._report = report

    def __call__(self, path: str | os.PathLike, write, what: str = "output") -> str:
        written = save_with_rescue(path, write, what, self._report)
        self.rescued |= written != os.fspath(path)
        return written
