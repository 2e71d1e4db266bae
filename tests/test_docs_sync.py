"""Generated docs match their generators, and no absolute path of a development machine is in the repository.

A stale figure fails here instead of reaching a reader: regenerate with the command the failure names.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def _diff_hint(doc: str, command: str) -> str:
    return f"{doc} is stale: regenerate it with `{command}` and commit the result"


def test_registers_doc_matches_rtl_export():
    from rtl.export import registers_md

    assert (DOCS / "registers.md").read_text() == registers_md(), _diff_hint("docs/registers.md",
                                                                           "python -m rtl.export --out docs")


def test_resources_doc_matches_its_generator():
    """docs/resources.md re-rendered from the yosys cell counts it records: tables, build lines and the cycle
    accounting must be what rtl.resources writes for today's named builds (the on-chip PYNQ-Z2 build and the
    streamed-K build) and RTL latencies. (Re-running yosys itself takes minutes; the cell counts are checked
    against a fresh synthesis in test_resources_cells_match_a_fresh_synthesis, opt-in.)"""
    from rtl.resources import CONFIGS, build_line, named_report, recorded

    doc = DOCS / "resources.md"
    builds = recorded(doc)
    assert [b for b, _, _ in builds] == [build_line(p) for p in CONFIGS.values()], _diff_hint(
        "docs/resources.md", "python -m rtl.resources --config <name> --out docs/resources.md for each named build")
    assert doc.read_text() == named_report({}, {b: (c, s) for b, c, s in builds}), _diff_hint(
        "docs/resources.md", "python -m rtl.resources --config pynq-z2 --out docs/resources.md")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("OSC_CHECK_SYNTHESIS"), reason="yosys on the PYNQ-Z2 builds takes ~2 min each "
                    "on 2 loaded cores: set OSC_CHECK_SYNTHESIS=1 to run it")
@pytest.mark.parametrize("name", ["pynq-z2", "pynq-z2-streamed"])
def test_resources_cells_match_a_fresh_synthesis(name):
    import shutil

    if shutil.which("yosys") is None:
        pytest.skip("Debian yosys not installed")
    from rtl.resources import CONFIGS, build_line, count, recorded, synthesize

    recorded_cells = {b: c for b, c, _ in recorded(DOCS / "resources.md")}[build_line(CONFIGS[name])]
    cells, _ = synthesize(CONFIGS[name], timeout_s=3600)
    assert count(cells) == count(recorded_cells), _diff_hint(
        "docs/resources.md", f"python -m rtl.resources --config {name} --out docs/resources.md")


def test_roadmap_doc_matches_its_generator(tmp_path):
    from bitstreams.roadmap import main

    out = tmp_path / "roadmap.md"
    assert main(["--no-measure", "--doc", str(out), "--fig-dir", str(tmp_path / "fig")]) == 0
    assert out.read_text() == (DOCS / "roadmap.md").read_text(), _diff_hint(
        "docs/roadmap.md", "python -m bitstreams.roadmap --no-measure")


#: absolute paths of a development machine (the strings are assembled so this file does not match itself)
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(" + "|".join(["wo" + "rk", "t" + "mp", "ho" + "me", "ro" + "ot"]) + r")/")
BINARY = (".png", ".gif", ".jpg", ".safetensors", ".pt", ".npz", ".bit")


def test_no_absolute_machine_paths_in_the_repository():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(files) > 50
    hits = []
    for name in files:
        path = REPO / name
        if name.endswith(BINARY) or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                hits.append(f"{name}:{i}: {line.strip()[:120]}")
    assert not hits, ("absolute paths of a development machine (cite the public source, or a path relative to "
                      "the repository):\n" + "\n".join(hits))


def test_machine_path_pattern_catches_what_it_should():
    assert MACHINE_PATH.search("see /" + "work/shared/docs/un0-model.md")
    assert MACHINE_PATH.search('"checkpoint": "/' + 'tmp/exp/x.safetensors"')
    assert not MACHINE_PATH.search("../shared/datasets/cifar10-jpeg.tar.gz and out/tmp/x and /usr/share/datasets")
