"""Roadmap arithmetic: workload counts, XC7Z020 capacity, and figures that follow their inputs."""
import json

import pytest

from bitstreams import roadmap_model as rm
from bitstreams.roadmap import compute, render_markdown
from bitstreams.roadmap_params import ParamSet
from fixedpoint.spec import PYNQ_Z2, HardwareParams
from model.config import CONFIGS

P = ParamSet()
CPU = {"host": {}, "float": [
    {"config": "cifar10-n1024", "n": 1024, "mode": "batch1", "batch": 1, "dyn_s_per_image": 0.01,
     "dec_s_per_image": 0.004, "dyn_mac": 21136640, "dec_mac": 33914880},
    {"config": "cifar10-n1024", "n": 1024, "mode": "batched", "batch": 64, "dyn_s_per_image": 0.002,
     "dec_s_per_image": 0.001, "dyn_mac": 21136640, "dec_mac": 33914880}], "golden": []}


def _row(result, name):
    return next(r for r in result["rows"] if r["config"] == name)


@pytest.mark.parametrize("name,dyn,dec", [
    ("cifar10-n1024", 21.1e6, 33.9e6), ("cifar10-n2048", 84.2e6, 85.8e6), ("cifar10-n4096", 336e6, 342e6),
    ("imagenet64-n6656", 0.886e9, 1.20e9), ("imagenet64-n10240", 2.10e9, 2.84e9),
    ("imagenet64-n16384", 5.37e9, 7.26e9)])
def test_workload_matches_fact_sheet(name, dyn, dec):
    w = rm.workload(CONFIGS[name], 10)
    assert w.dyn_mac == pytest.approx(dyn, rel=3e-3)
    assert w.dec_mac == pytest.approx(dec, rel=3e-3)


def test_decoder_params_match_released_counts():
    from model.config import param_count

    for name in rm.UN0_CONFIGS:
        cfg = CONFIGS[name]
        dyn_params = cfg.n * cfg.n + cfg.n + cfg.n_cond + cfg.n_cond**2 + cfg.num_classes * cfg.n * cfg.n_cond
        assert rm.decoder_params(cfg) == param_count(cfg) - dyn_params


def test_bram_capacity_arithmetic():
    # n1024, 64 lanes: 4-bit K fills 128 BRAM36 of 140; 8-bit needs 256 (does not fit).
    assert rm.k_bram36(1024, 8, 64, 4) == 128
    assert rm.k_bram36(1024, 8, 64, 8) == 256
    assert rm.k_bram36(512, 8, 64, 8) == 64  # hardware.md §2 table
    assert rm.k_bram36(256, 8, 64, 16) == 32
    assert rm.bram18_for(16384, 4) == 4 and rm.bram18_for(2048, 9) == 1 and rm.bram18_for(2049, 9) == 2
    fit = rm.fpga_fit(CONFIGS["cifar10-n1024"], P)
    assert (fit.where, fit.bits, fit.k_bram36) == ("on-chip", 4, 128)
    assert rm.fpga_fit(CONFIGS["cifar10-n256"], P).bits == 8
    assert rm.fpga_fit(CONFIGS["cifar10-n2048"], P).where == "ddr"
    big = CONFIGS["imagenet64-n16384"]
    assert rm.fpga_fit(big, P).where == "ddr"  # 128 MiB at 4 bit < 384 MiB
    assert rm.fpga_fit(big, P.with_overrides(fpga_ddr_for_k=100)).where == "none"
    # fewer BRAMs on a (hypothetical) smaller part: n1024 no longer fits on chip at any width
    assert rm.fpga_fit(CONFIGS["cifar10-n1024"], P.with_overrides(fpga_bram36=100)).where == "ddr"


def test_pynq_z2_params_agree_with_roadmap_inputs():
    assert PYNQ_Z2.lanes == P.v("fpga_lanes", "1")
    assert PYNQ_Z2.spec.coupling_bits == P.v("fpga_coupling_bits_onchip", "bit")
    assert rm.fpga_cycles(1024, 8, PYNQ_Z2.lanes, 1, P.with_overrides(fpga_step_overhead_cycles=0,
                                                                       fpga_image_overhead_cycles=0),
                          bits=4)["mac_cycles_per_step"] == PYNQ_Z2.mac_cycles_per_step + 8 * PYNQ_Z2.drive_passes


def test_cycles_use_the_benchmark_else_the_rtl_accounting():
    """The PYNQ-Z2 build's cycles are the cycle benchmark's (benchmarks/results/bench_cycles.json); a build it did
    not measure takes the RTL's accounting."""
    rtl = pytest.importorskip("rtl.resources")
    c = rm.fpga_cycles(1024, 8, PYNQ_Z2.lanes, 10, P, bits=4)
    meas = rtl.measured_cycles(PYNQ_Z2)
    assert meas is not None and c["source"] == "measured: " + meas["source"]
    assert c["cycles_per_step"] == meas["step_cycles"] >= c["mac_cycles_per_step"]
    assert c["cycles_per_image"] == meas["run_cycles"] + P.v("fpga_image_overhead_cycles", "cycle")
    other = rm.fpga_cycles(512, 8, 64, 10, P, bits=4)
    acc = rtl.cycle_accounting(HardwareParams(512, 8, 64, PYNQ_Z2.spec))
    assert other["source"] == "rtl.resources.cycle_accounting"
    assert other["cycles_per_step"] == acc["step_model"] >= other["mac_cycles_per_step"]
    assert other["cycles_per_image"] == 10 * acc["step_model"] + acc["init_pass"] + P.v("fpga_image_overhead_cycles",
                                                                                         "cycle")


def test_figures_follow_inputs():
    base = compute(P, CPU)
    slow = compute(P.with_overrides(gpu_mfu=0.25), CPU)
    name = "imagenet64-n16384"
    assert _row(slow, name)["estimates"]["GPU batched"]["latency_s"] == pytest.approx(
        2 * _row(base, name)["estimates"]["GPU batched"]["latency_s"])
    cpl = compute(P.with_overrides(coupler_power=2.0), CPU)
    assert _row(cpl, name)["analog_parts"]["couplers_j"] == pytest.approx(2 * _row(base, name)["analog_parts"]["couplers_j"])
    fast = compute(P.with_overrides(fpga_clock=200), CPU)
    b, f = (_row(r, "cifar10-n1024")["estimates"]["FPGA XC7Z020"]["detail"]["t_compute_step_s"] for r in (base, fast))
    assert f == pytest.approx(b / 2)
    # streamed-K build: per-image latency scales with the clock (cycles per request / fpga_clock / B)
    s0, s1 = (_row(r, "imagenet64-n6656")["estimates"]["FPGA XC7Z020"] for r in (base, fast))
    assert s1["latency_s"] == pytest.approx(s0["latency_s"] / 2)
    d0 = _row(base, "cifar10-n4096")["estimates"]["FPGA XC7Z020"]["detail"]
    assert d0["bound"] == "ddr" and d0["t_ddr_step_s"] > d0["t_compute_step_s"]
    # a 4-bit K on chip at n4096 would need 512 BRAM36: with none of the 140 left the model still streams it
    assert _row(base, "cifar10-n4096")["fpga_fit"]["where"] == "ddr"


def test_fpga_column_is_the_streamed_benchmark():
    """The roadmap's FPGA XC7Z020 numbers for streamed configs are benchmarks/bench_streamed.py's images/s (same
    batch, bound and cycles per step, at 4-bit K)."""
    from bitstreams.roadmap import STREAMED_JSON

    bench = {(m["config"], m["k_bits"]): m for m in json.loads(STREAMED_JSON.read_text())["model"]}
    r = compute(P, CPU)
    streamed = [row for row in r["rows"] if row["fpga_fit"]["where"] == "ddr"]
    assert [row["config"] for row in streamed] == ["cifar10-n2048", "cifar10-n4096", "imagenet64-n6656",
                                                  "imagenet64-n10240", "imagenet64-n16384"]
    for row in streamed:
        e = row["estimates"]["FPGA XC7Z020"]
        d = e["detail"]
        m = bench[(row["config"], d["fit"]["bits"])]
        assert d["fit"]["bits"] == P.v("fpga_coupling_bits_ddr", "bit") == 4
        assert (d["batch"], d["bound"]) == (m["batch"], m["bound"])
        assert round(d["cycles"]["compute_cycles_per_step"]) == m["compute_cycles_per_step"]
        assert round(d["cycles"]["ddr_cycles_per_step"]) == m["ddr_cycles_per_step"]
        assert round(1 / e["latency_s"], 2) == m["images_per_s"] == round(d["images_per_s"], 2)
    n6656 = bench[("imagenet64-n6656", 4)]["images_per_s"]  # the README quotes it (benchmarks.headline)
    assert round(1 / _row(r, "imagenet64-n6656")["estimates"]["FPGA XC7Z020"]["latency_s"], 2) == n6656 > 1
    assert round(1 / _row(r, "imagenet64-n16384")["estimates"]["FPGA XC7Z020"]["latency_s"], 2) == \
        bench[("imagenet64-n16384", 4)]["images_per_s"]
    # the benchmark's measured check is quoted in the report
    chk = r["streamed_check"]
    assert chk["bit_exact"] and chk["max_abs_error"] < 0.10 and {b["n"] for b in chk["builds"]} >= {1024, 6656}
    assert "streamed builds simulated" in render_markdown(r, P)


def test_cpu_rows_measured_and_extrapolated():
    r = compute(P, CPU)
    e = _row(r, "cifar10-n1024")["estimates"]["CPU batch1"]
    assert e["latency_s"] == pytest.approx(0.014) and "measured" in e["basis"]
    e2 = _row(r, "cifar10-n4096")["estimates"]["CPU batch1"]
    w = rm.workload(CONFIGS["cifar10-n4096"], 10)
    assert e2["latency_s"] == pytest.approx(w.dyn_mac / (21136640 / 0.01) + w.dec_mac / (33914880 / 0.004))
    assert "extrapolated" in e2["basis"]
    assert e["energy_j"] == pytest.approx(0.014 * P.v("cpu_power_per_core", "W") * P.v("cpu_cores", "1"))


def test_measured_gpu_replaces_estimate():
    r = compute(P, CPU, gpu_measured={"cifar10-n1024": {"batch1_latency_s": 1e-3, "batch1_energy_j": 0.2}})
    e = _row(r, "cifar10-n1024")["estimates"]["GPU batch 1"]
    assert e["latency_s"] == 1e-3 and e["energy_j"] == 0.2 and "measured" in e["basis"]


def test_claim_and_markdown():
    r = compute(P, CPU)
    assert [c["config"] for c in r["claim"]] == list(rm.UN0_CONFIGS)
    for c in r["claim"]:
        # Amdahl: with the decoder on the GPU the whole-image ratio cannot exceed 1 / decoder share
        assert c["total_ratio"] <= c["amdahl_max_ratio"] + 1e-9
        # at the break-even coupler power the core ratio is exactly the claimed factor
        if c["config"] == "imagenet64-n16384":
            uw = c["breakeven_coupler_w"] * 1e6
            r2 = compute(P.with_overrides(coupler_power=uw), CPU)
            assert r2["claim"][-1]["core_ratio"] == pytest.approx(P.v("claim_factor", "1"), rel=1e-9)
    md = render_markdown(r, P)
    assert "## 6. Where the 1000× energy claim stands" in md
    assert "128 BRAM36 at 4-bit, 256 BRAM36 at 8-bit" in md
    json.dumps(r)  # the result is plain data


def test_streamed_yosys_counts_feed_the_power_model_of_their_build_only():
    rtl = pytest.importorskip("rtl.resources")
    from bitstreams.power_model import Resources

    res = Resources(20000, 30000, 135, 80, source="yosys test")
    base, syn = compute(P, CPU), compute(P, CPU, streamed_resources=(rtl.PYNQ_Z2_STREAMED, res))
    e0, e1 = (_row(r, "imagenet64-n6656")["estimates"]["FPGA XC7Z020"] for r in (base, syn))
    assert e1["detail"]["resources"]["source"] == "yosys test" and e1["latency_s"] == e0["latency_s"]
    assert e1["energy_j"] != e0["energy_j"]
    other = _row(syn, "imagenet64-n16384")["estimates"]["FPGA XC7Z020"]["detail"]["resources"]["source"]
    assert other.startswith("analytic")
