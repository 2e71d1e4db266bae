"""The RTL against the torch float model ("verified against the torch reference"): a cifar10-n64 generator
(random init), quantized with the "wide" format, runs in the RTL (Icarus, through SimClient); its phases stay
within the a-priori bound of sim/float_bound.py of torch's float64 Euler phases, and equal golden bit for bit."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fixedpoint.golden import GoldenModel, initial_phases  # noqa: E402
from fixedpoint.layout import words_to_phases  # noqa: E402
from fixedpoint.quantize import quantize  # noqa: E402
from model.hardware_image import effective_params  # noqa: E402
from fixedpoint.readout import phases_to_radians  # noqa: E402
from fixedpoint.spec import FORMATS, HardwareParams  # noqa: E402
from rtl import regs  # noqa: E402
from sim.client import SimClient  # noqa: E402
from sim.float_bound import float_phase_bound  # noqa: E402
from sim.images import load_sequence  # noqa: E402


def test_rtl_vs_torch_float_within_bound():
    from model.config import get_config
    from model.un0 import OscillatorGenerator

    cfg = get_config("cifar10-n64")
    torch.manual_seed(0)
    model = OscillatorGenerator(cfg).double().eval()
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items() if k.startswith("dynamics.")}
    eff = effective_params(cfg, tensors)
    params = HardwareParams(cfg.n, cfg.n_cond, 16, FORMATS["wide"])
    image = quantize(eff, params, cfg.dt, cfg.num_steps, cfg.to_dict())
    class_id = 3
    phases0 = initial_phases(2026, 1, params.n_total, params.spec)[0]
    with torch.no_grad():
        theta0 = torch.from_numpy(phases_to_radians(phases0, params.spec))[None]
        traj = model.integrate(torch.tensor([class_id]), theta0, return_trajectory=True)[:, 0].numpy()
    ref = traj[-1]
    with SimClient(params, simulator="icarus") as sim:
        for target, words in load_sequence(image, class_id, phases0):
            sim.write_reg(regs.offset("LOAD_TARGET"), target)
            sim.stream_in(words)
        sim.write_reg(regs.offset("STEPS"), cfg.num_steps)
        sim.write_reg(regs.offset("GAIN_SHIFT"), image.gain_shift)
        sim.write_reg(regs.offset("IRQ_ENABLE"), 1)
        sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "START"))
        sim.wait_irq(200_000)
        sim.write_reg(regs.offset("CTRL"), regs.bits("CTRL", "READBACK"))
        words = sim.stream_out(params.n_total)
    got = words_to_phases(words, params)
    np.testing.assert_array_equal(got, GoldenModel(image).run(class_id, phases0[None]).phases[0])
    err = np.abs(phases_to_radians(got, params.spec) - ref).max()
    bound = float_phase_bound(image, eff, class_id, traj)
    print(f"max |RTL - torch float64| = {err:.3e} rad, bound along the float trajectory {bound:.3e} rad")
    assert err <= bound
    assert bound < 0.01  # the bound itself is meaningful
