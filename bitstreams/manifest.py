"""Bitstream provenance: hash the sources a bitstream came from, write it next to the .bit, refuse mismatches.

A build writes <name>.json beside <name>.bit/.hwh (the host's PynqZ2Board already reads its
"build_hash"). check_bitstream() is what a host calls before programming: it refuses a bitstream whose
file hash, source hash, build hash (the core's BUILD_HASH register) or parameters do not match.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from fixedpoint.files import check_input, write_atomic
from fixedpoint.spec import HardwareParams

MANIFEST_FORMAT = "oscillator-hil-bitstream/1"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The module that builds a bitstream and the packages whose sources it imports: the manifest's source hash covers
#: every file of these it imports (rtl.regs.imported_sources, the helper BUILD_HASH uses), so an edit to any of them
#: is a different bitstream; plus the Vivado sources it copies (board_config.VIVADO_SOURCES).
BUILD_MODULE = "bitstreams.build"
SOURCE_PACKAGES = ("rtl", "fixedpoint", "bitstreams")


class BitstreamMismatch(ValueError):
    """The bitstream is not the one these sources and parameters would build: rebuild it."""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_files(root: str | os.PathLike = REPO_ROOT) -> list[Path]:
    """The files a bitstream is built from, under `root`: BUILD_MODULE and every source it imports from
    SOURCE_PACKAGES (transitively, imports inside functions too), and VIVADO_SOURCES of every board's tcl_dir.
    Raises FileNotFoundError when `root` lacks the build module or a Vivado source."""
    from rtl.regs import imported_sources

    from .board_config import CONFIGS, VIVADO_SOURCES

    root = Path(root)
    vivado = {root / "bitstreams" / c.tcl_dir / name for c in CONFIGS.values() for name in VIVADO_SOURCES}
    if missing := sorted(p.relative_to(root).as_posix() for p in vivado if not p.is_file()):
        raise FileNotFoundError(f"Vivado sources {missing} missing under {root}")
    return sorted(set(imported_sources(BUILD_MODULE, SOURCE_PACKAGES, root)) | vivado)


def source_hashes(root: str | os.PathLike = REPO_ROOT) -> dict[str, str]:
    root = Path(root)
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in source_files(root)}


def source_hash(root: str | os.PathLike = REPO_ROOT, hashes: dict[str, str] | None = None) -> str:
    """One sha256 over (path, content hash) of every hardware source, in sorted order."""
    hashes = source_hashes(root) if hashes is None else hashes
    h = hashlib.sha256()
    for path in sorted(hashes):
        h.update(f"{path}\0{hashes[path]}\n".encode())
    return h.hexdigest()


def core_build_hash(params: HardwareParams) -> int | None:
    """The BUILD_HASH register value the RTL bakes in (rtl.regs.build_hash); None when rtl/ is absent."""
    try:
        from rtl.regs import build_hash
    except ImportError:
        return None
    return int(build_hash(params))


def param_differences(built: HardwareParams, needed: HardwareParams) -> list[str]:
    """Human-readable differences between two core builds, e.g. ["n: built 512, needed 1024"]."""
    diffs = [f"{k}: built {getattr(built, k)}, needed {getattr(needed, k)}"
             for k in ("n", "n_cond", "lanes", "k_source", "k_ports", "batch")
             if getattr(built, k) != getattr(needed, k)]
    b, w = built.spec.to_dict(), needed.spec.to_dict()
    diffs += [f"spec.{k}: built {b.get(k)}, needed {w.get(k)}" for k in sorted(set(b) | set(w)) if b.get(k) != w.get(k)]
    return diffs


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, text)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def manifest_path(bit_path: str | os.PathLike) -> Path:
    return Path(os.path.splitext(str(bit_path))[0] + ".json")


def check_bitstream(bit_path: str | os.PathLike, expected_params: HardwareParams,
                    root: str | os.PathLike = REPO_ROOT) -> dict:
    """Return the manifest if `bit_path` was built from the current sources for `expected_params`; else raise."""
    bit = Path(bit_path)
    check_input(bit, "bitstream", (".bit",))
    mpath = manifest_path(bit)
    if not mpath.is_file():
        raise BitstreamMismatch(f"{bit}: no build manifest {mpath.name} beside it, so its sources are unknown; "
                                "rebuild with `python -m bitstreams.build --config pynq-z2` and copy .bit/.hwh/.json together")
    try:
        man = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise BitstreamMismatch(f"{mpath}: unreadable manifest ({e}); rebuild the bitstream") from None
    if not isinstance(man, dict) or not isinstance(man.get("files", {}), dict):
        raise BitstreamMismatch(f"{mpath}: not a build manifest (expected a JSON object with a 'files' map)")
    if man.get("format") != MANIFEST_FORMAT:
        raise BitstreamMismatch(f"{mpath}: format {man.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    recorded = man.get("files", {}).get(bit.name)
    actual = file_sha256(bit)
    if recorded != actual:
        raise BitstreamMismatch(f"{bit}: file hash {actual[:12]}… is not the one its manifest records "
                                f"({str(recorded)[:12]}…): the .bit was replaced or corrupted; copy the matching set")
    hwh = bit.with_suffix(".hwh")
    if hwh.name in man.get("files", {}) and (not hwh.is_file() or file_sha256(hwh) != man["files"][hwh.name]):
        raise BitstreamMismatch(f"{hwh}: missing or not the .hwh built with {bit.name}")
    try:
        built = HardwareParams.from_dict(man["params"])
    except (KeyError, ValueError, TypeError) as e:
        raise BitstreamMismatch(f"{mpath}: bad params record ({e})") from None
    if built != expected_params:
        raise BitstreamMismatch(f"{bit} was built for n={built.n}, n_cond={built.n_cond}, lanes={built.lanes}, "
                                f"spec={built.spec} but n={expected_params.n}, n_cond={expected_params.n_cond}, "
                                f"lanes={expected_params.lanes}, spec={expected_params.spec} is expected "
                                f"(differs: {'; '.join(param_differences(built, expected_params))}): "
                                "use the matching bitstream or rebuild for these parameters")
    now = source_hash(root)
    if man.get("source_hash") != now:
        changed = sorted(p for p, h in source_hashes(root).items() if man.get("sources", {}).get(p) != h)
        gone = sorted(set(man.get("sources", {})) - set(source_hashes(root)))
        raise BitstreamMismatch(f"{bit} was built from other hardware sources (source hash "
                                f"{str(man.get('source_hash'))[:12]}… != current {now[:12]}…; changed: "
                                f"{changed + gone or 'unknown'}): rebuild with `python -m bitstreams.build`")
    want = core_build_hash(expected_params)
    if want is not None and man.get("build_hash") != want:
        raise BitstreamMismatch(f"{bit}: BUILD_HASH {man.get('build_hash')} in the manifest != {want} from rtl.regs: "
                                "rebuild the bitstream")
    return man
