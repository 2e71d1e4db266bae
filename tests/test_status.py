"""fixedpoint.status: the status line long work shows (start, ticks with elapsed seconds, done/failed)."""
import io
import time

import pytest

from fixedpoint.status import status


def test_status_lines_in_a_log():
    out = io.StringIO()
    with status("building the thing", stream=out, every=0.05) as st:
        time.sleep(0.18)
        st.update("linking the thing")
        time.sleep(0.12)
    lines = out.getvalue().splitlines()
    assert lines[0] == "building the thing ..."
    assert any(ln.startswith("building the thing ... ") and ln.endswith(" s") for ln in lines[1:-1])
    assert any(ln.startswith("linking the thing ... ") for ln in lines[1:-1])
    assert lines[-1].startswith("linking the thing ... done in ") and lines[-1].endswith(" s")


def test_status_reports_failure_and_reraises():
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with status("loading", stream=out, every=10):
            raise KeyboardInterrupt
    assert out.getvalue().splitlines()[-1].startswith("loading ... failed after ")


def test_session_load_shows_a_status_line(tmp_path, capsys):
    import host
    from host.testing import random_checkpoint

    ck = random_checkpoint(str(tmp_path / "n64.safetensors"), "cifar10-n64")
    with host.open("golden", ck):
        pass
    err = capsys.readouterr().err
    assert "loading the model onto the golden core" in err and "done in" in err
