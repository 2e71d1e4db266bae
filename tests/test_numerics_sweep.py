"""The float64 numpy reference used for error analysis agrees with the torch model; the sweep runs."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fixedpoint import accuracy  # noqa: E402
from model.hardware_image import effective_params  # noqa: E402
from model.config import get_config  # noqa: E402
from model.numerics_sweep import run_sweep, sweep_specs, write_report  # noqa: E402
from model.un0 import OscillatorGenerator  # noqa: E402
from fixedpoint.spec import FORMATS  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return OscillatorGenerator(get_config("cifar10-n64")).double().eval()


def test_numpy_effective_params_equal_torch(model):
    tensors = {f"dynamics.{k}": v.detach().numpy() for k, v in model.dynamics.named_parameters()}
    eff = effective_params(model.cfg, tensors)
    ref = {k: v.detach().numpy() for k, v in model.effective_params().items()}
    for k in ("K", "K_cond", "K_drive"):
        np.testing.assert_allclose(eff[k], ref[k], rtol=0, atol=1e-15)
    np.testing.assert_allclose(eff["omega"], ref["omega"].reshape(-1), atol=0)


def test_float_reference_equals_torch_model(model):
    tensors = {f"dynamics.{k}": v.detach().numpy() for k, v in model.dynamics.named_parameters()}
    eff = effective_params(model.cfg, tensors)
    g = torch.Generator().manual_seed(3)
    theta0 = model.initial_phases(6, g)
    cls = torch.tensor([0, 1, 2, 3, 4, 9])
    with torch.no_grad():
        want = model.integrate(cls, theta0).numpy()
    got = accuracy.float_euler(eff, theta0.numpy(), cls.numpy(), model.cfg.dt, model.cfg.num_steps)
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_sweep_reports_error_falling_with_coupling_bits(model, tmp_path):
    base = FORMATS["default"]
    specs = [s for s in sweep_specs(base) if s[0] == "coupling_bits" and s[1] in ("4", "8", "12")]
    rows = run_sweep(model.float(), samples=8, specs=specs, progress=False)
    errs = [r["phase_err_rms"] for r in rows]
    assert errs[0] > errs[1] > errs[2]
    assert rows[2]["psnr_db"] > rows[0]["psnr_db"]
    write_report(rows, str(tmp_path), "t", "note")
    assert json.loads((tmp_path / "sweep.json").read_text())[0]["axis"] == "coupling_bits"
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_sweep_classifier_metrics(model):
    from model.evaluate import SmallCNN

    torch.manual_seed(0)
    clf = SmallCNN(10).eval()
    specs = [s for s in sweep_specs(FORMATS["default"]) if s[0] == "coupling_bits" and s[1] in ("4", "16")]
    rows = run_sweep(model.float(), samples=16, specs=specs, progress=False, classifier=clf)
    for r in rows:
        assert 0.0 <= r["label_agreement"] <= 1.0 and r["fd_classifier"] >= 0.0
    # 16-bit couplings give images within ~1e-4 of float: the classifier cannot tell them apart
    assert rows[1]["label_agreement"] == 1.0
    assert rows[1]["fd_classifier"] < rows[0]["fd_classifier"]
