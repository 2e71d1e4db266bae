"""Shared fixtures."""
import pytest


@pytest.fixture
def one_torch_thread():
    """Small tensors: one intra-op thread is faster, and two stall badly on a loaded 2-core CI machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_report_header(config):
    from sim.regression import session_seed

    return f"RTL regression seed: OSC_SEED={session_seed()}"


def pytest_terminal_summary(terminalreporter):
    """The RTL regression's seed and bit-exact comparison count (CI log), from the tests' recorded properties."""
    rows = [dict(r.user_properties)["regression"] for r in terminalreporter.stats.get("passed", [])
            if r.when == "call" and "regression" in dict(r.user_properties)]
    if not rows:
        return
    total = sum(r["comparisons"] for r in rows)
    per_sim = {}
    for r in rows:
        per_sim[r["simulator"]] = per_sim.get(r["simulator"], 0) + r["comparisons"]
    from sim.regression import session_seed

    seed = session_seed()
    terminalreporter.write_sep("-", "RTL vs golden regression")
    terminalreporter.write_line(f"{total} bit-exact comparisons ({', '.join(f'{k} {v}' for k, v in per_sim.items())}) "
                                f"in {len(rows)} simulations; session seed {seed} (simulation seeds "
                                f"{sorted({r['seed'] for r in rows})})")
    terminalreporter.write_line(f"replay: OSC_SEED={seed} python -m pytest tests/test_sim_core.py")
