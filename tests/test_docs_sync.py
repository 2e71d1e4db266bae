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
    assert [b for b, _, _, _ in builds] == [build_line(p) for p in CONFIGS.values()], _diff_hint(
        "docs/resources.md", "python -m rtl.resources --config <name> --out docs/resources.md for each named build")
    assert all(d is not None and d["critical"]["lut_levels"] >= 1 for _, _, _, d in builds), _diff_hint(
        "docs/resources.md (logic depth)", "python -m rtl.resources --config <name> --out docs/resources.md")
    assert doc.read_text() == named_report({}, {b: (c, s, d) for b, c, s, d in builds}), _diff_hint(
        "docs/resources.md", "python -m rtl.resources --rerender --out docs/resources.md")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("OSC_CHECK_SYNTHESIS"), reason="yosys on the PYNQ-Z2 builds takes ~2 min each "
                    "on 2 loaded cores: set OSC_CHECK_SYNTHESIS=1 to run it")
@pytest.mark.parametrize("name", ["pynq-z2", "pynq-z2-streamed"])
def test_resources_cells_match_a_fresh_synthesis(name):
    import shutil

    if shutil.which("yosys") is None:
        pytest.skip("Debian yosys not installed")
    from rtl.resources import CONFIGS, build_line, count, recorded, synthesize

    recorded_cells, recorded_depth = {b: (c, d) for b, c, _, d in recorded(DOCS / "resources.md")}[
        build_line(CONFIGS[name])]
    cells, _, depth = synthesize(CONFIGS[name], timeout_s=3600)
    hint = _diff_hint("docs/resources.md", f"python -m rtl.resources --config {name} --out docs/resources.md")
    assert count(cells) == count(recorded_cells), hint
    # the logic-depth report is produced, parsed back, and the same as a fresh analysis of the same netlist
    assert recorded_depth is not None, hint
    assert depth == recorded_depth, hint


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


def test_headline_figures_come_from_the_benchmarks():
    """README.md, docs/rtl.md and docs/host.md carry the cycle, latency and resource figures that
    benchmarks.headline renders from benchmarks/results/bench_cycles.json and docs/resources.md."""
    from benchmarks import headline

    f = headline.figures()
    for path in headline.files():
        assert (REPO / path).read_text() == headline.render(path, (REPO / path).read_text(), f), _diff_hint(
            path, "python benchmarks/headline.py")


def test_a_stale_headline_number_fails():
    """One cycle more in the benchmark changes the generated README rows (so the check above fails on it)."""
    from benchmarks import headline

    f = headline.figures()
    readme = (REPO / "README.md").read_text()
    stale = headline.render("README.md", readme, dict(f, step=f["step"] + 1, run=f["run"] + 10))
    assert stale != readme
    assert f"{f['step'] + 1:,} measured" in stale and f"{f['run'] + 10:,} cycles" in stale
    with pytest.raises(ValueError, match="lines start with"):
        headline.render("README.md", readme.replace("| Cycles per Euler step at that build |", "| cycles |"), f)


def test_cycle_benchmark_is_from_todays_rtl():
    """bench_cycles.json measures today's RTL: its STEP_CYCLES sits just under the cycle model (the model's FSM
    allowance is at most 5 cycles high), so a latency change in rtl/ without a new benchmark run fails here."""
    from fixedpoint.spec import PYNQ_Z2
    from rtl.resources import cycle_accounting, measured_cycles

    meas, acc = measured_cycles(PYNQ_Z2), cycle_accounting(PYNQ_Z2)
    assert meas is not None, "benchmarks/results/bench_cycles.json: run python benchmarks/bench_cycles.py"
    assert 0 <= acc["step_model"] - meas["step_cycles"] <= 5, (
        f"STEP_CYCLES {meas['step_cycles']} measured vs model {acc['step_model']}: the benchmark is stale; run "
        "python benchmarks/bench_cycles.py, python benchmarks/headline.py, python -m rtl.resources --rerender "
        "--out docs/resources.md, python -m bitstreams.roadmap --no-measure")
    assert meas["run_cycles"] >= meas["steps"] * meas["step_cycles"] + acc["init_pass"] - 5 * meas["steps"]


def test_depth_clock_is_the_boards_clock():
    from bitstreams.board_config import CONFIGS
    from rtl.depth import CLOCK_NS

    assert CLOCK_NS == pytest.approx(1e3 / CONFIGS["pynq-z2"].fclk0_mhz)
