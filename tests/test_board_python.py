"""The board-side code runs on the PYNQ-Z2's Python: the last PYNQ image for the Z2 is v3.0.1 (Ubuntu 22.04,
Python 3.10; PYNQ v4.0 removed Pynq-Z1/Z2 support, docs/host.md "Packages"), so everything the board imports
(without torch, amaranth or cocotb) must be Python 3.10 syntax and stdlib, and pyproject must admit 3.10."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARD_PYTHON = (3, 10)

# What the board runs: the agent, the pynq-z2 board and driver, the CLI and the API end to end on golden (numpy
# decoder), with the packages the board lacks blocked; prints the repository files it imported.
_CLOSURE = r"""
import importlib.abc, os, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "amaranth", "cocotb"):
            raise ImportError(f"{name} is not on the board")
sys.meta_path.insert(0, Block())
import host, host.agent, host.boards.pynq_z2, host.pynq_driver, host.pictures, host.run, bitstreams.board_config
with host.open("golden", sys.argv[1], progress=False) as osc:
    osc.generate("cat")
root = os.getcwd()
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    rel = os.path.relpath(f, root) if f else ""
    if f and f.endswith(".py") and rel.split(os.sep)[0] in ("fixedpoint", "host", "model", "bitstreams", "rtl", "sim"):
        print(rel)  # the project's own modules (a .venv inside the repository holds the packages, not ours)
"""
# Standard-library names newer than 3.10 (3.11: tomllib, datetime.UTC, typing.Self, enum.StrEnum, ExceptionGroup,
# hashlib.file_digest, asyncio.TaskGroup, BaseException.add_note; 3.12: itertools.batched).
_NEWER_STDLIB = re.compile(r"\btomllib\b|\bdatetime\.UTC\b|import[^\n]*\bUTC\b|\bSelf\b|\bStrEnum\b|\bExceptionGroup\b"
                           r"|\bfile_digest\b|\bTaskGroup\b|\.add_note\(|itertools\.batched|from itertools import[^\n]*\bbatched\b")


def _board_files(ckpt) -> list[Path]:
    out = subprocess.run([sys.executable, "-c", _CLOSURE, str(ckpt)], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    listed = {REPO / line for line in out.stdout.split()}
    static = {p for d in ("fixedpoint", "host") for p in (REPO / d).rglob("*.py")}
    return sorted(listed | static | {REPO / "bitstreams" / "board_config.py"})


def test_board_side_code_is_python_3_10(tmp_path):
    from host.testing import random_checkpoint

    torch_ckpt = random_checkpoint(str(tmp_path / "n64.safetensors"), "cifar10-n64")
    files = _board_files(torch_ckpt)
    assert REPO / "host" / "agent.py" in files and REPO / "model" / "decoder_np.py" in files
    bad = []
    for f in files:
        src = f.read_text()
        try:
            ast.parse(src, str(f), feature_version=BOARD_PYTHON)
        except SyntaxError as e:
            bad.append(f"{f.relative_to(REPO)}:{e.lineno}: {e.msg}")
        bad += [f"{f.relative_to(REPO)}: uses {m.group(0)!r} (newer than Python 3.10)"
                for m in _NEWER_STDLIB.finditer(src)]
    assert not bad, "\n".join(bad)


def test_pyproject_admits_the_boards_python():
    text = (REPO / "pyproject.toml").read_text()
    m = re.search(r'^requires-python\s*=\s*">=(\d+)\.(\d+)"', text, re.M)
    assert m and (int(m.group(1)), int(m.group(2))) <= BOARD_PYTHON
