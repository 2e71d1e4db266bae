"""The mutation check's mutant list stays valid, and a planted RTL bug is caught (the full run: python -m sim.mutate,
report in benchmarks/results/mutation.md; too long for CI)."""
import shutil

import pytest

from fixedpoint.spec import HardwareParams
from sim import mutate
from sim.regression import session_seed

KINDS = {"iteration count", "rounding", "sign/zero extension", "width", "wrap point", "lane/bank indexing",
         "FSM edge", "bus handshake"}


def test_mutant_list_applies_cleanly(tmp_path):
    """At least 12 mutants over every kind; each patch hits its file exactly once and leaves valid Python."""
    names = [m.name for m in mutate.MUTANTS]
    assert len(names) >= 12 and len(set(names)) == len(names)
    assert {m.kind for m in mutate.MUTANTS} == KINDS
    assert {"phase-wraps-at-64-turns", "accumulator-one-bit-narrow"} <= set(names)  # the two issue 13 named
    for m in mutate.MUTANTS:
        root = tmp_path / m.name
        (root / m.path).parent.mkdir(parents=True)
        shutil.copy(mutate.REPO / m.path, root / m.path)
        mutate.apply(m, root)
        text = (root / m.path).read_text()
        assert m.new in text and text != (mutate.REPO / m.path).read_text()
        compile(text, m.path, "exec")
    with pytest.raises(mutate.MutantDoesNotApply):
        mutate.apply(m, root)  # already applied: the text is gone


def test_every_build_has_mutants():
    """Each mutant runs on known builds; every build of sim.regression.TESTBENCHES gets mutants, and at least four
    target the streamed-K build alone (its AXI4 read master, column assembler and ABORT drain)."""
    from sim.regression import TESTBENCHES

    runs = {m.name: m.testbenches() for m in mutate.MUTANTS}
    assert all(b and set(b) <= set(TESTBENCHES) for b in runs.values()), runs
    assert set(TESTBENCHES) <= {b for bs in runs.values() for b in bs}
    assert sum(b == ["streamed"] for b in runs.values()) >= 4
    assert runs["trig-zero-extended"] == list(TESTBENCHES)  # rtl/lanes.py: shared by every build


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_phase_wrap_mutant_is_caught():
    """The mutant that passed the old regression (wrap at +-64 turns) now fails it, in the directed edge cases."""
    m = next(m for m in mutate.MUTANTS if m.name == "phase-wraps-at-64-turns")
    seed = session_seed()
    res = mutate.run_one(m, HardwareParams(8, 2, 4), "icarus", seed, images=1, runs=2, timeout_s=600)
    assert res["result"] == "caught", res
    assert "on-chip:test_worst_cases" in res["failed_tests"], res


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_abort_drain_mutant_is_caught():
    """A streamed-K mutant runs on the streamed build only, and ABORT without draining the K reads is caught."""
    m = next(m for m in mutate.MUTANTS if m.name == "abort-keeps-stale-beats")
    res = mutate.run_one(m, HardwareParams(8, 2, 4), "icarus", session_seed(), images=1, runs=1, timeout_s=600)
    assert res["result"] == "caught" and res["benches"] == ["streamed"], res
    assert "streamed:test_abort_with_reads_in_flight" in res["failed_tests"], res
