"""Mutation check of the RTL regression: plant realistic RTL bugs one at a time and check the regression fails.

    python -m sim.mutate [--only NAME ...] [--simulator icarus] [--seed S] [--n 10 --n-cond 2 --lanes 4]
                         [--format pynq-z2-n1024 --lut-lanes 1]
                         [--out benchmarks/results/mutation.md] [--list]

Each mutant is a source patch (file, exact text, replacement) applied to a *temporary copy* of rtl/, fixedpoint/
and sim/ (the repository is never edited). The copy generates its own Verilog; BUILD_HASH of the copy differs, so
its simulation builds never mix with the real ones. The regression (sim.regression, every test of every
testbench in sim.regression.TESTBENCHES that the mutant's file belongs to, small build, random backpressure on
both streams) then runs in a subprocess; a mutant is *caught* when some test fails or the simulation errors,
*missed* when every test passes. The report (one row per mutant, the failing tests, the seed) is written to
benchmarks/results/mutation.md. Runs take about 15-30 s per mutant on Icarus; not part of CI (tests/test_mutate.py
checks that every patch applies and that one mutant is caught).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from fixedpoint import cli
from fixedpoint.files import write_atomic

REPO = Path(__file__).resolve().parent.parent
#: Packages copied into each mutant's tree (everything the build and the testbench import).
COPIED = ("rtl", "fixedpoint", "sim")
DEFAULT_OUT = REPO / "benchmarks" / "results" / "mutation.md"


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str  # iteration count, rounding, sign/zero extension, width, wrap point, indexing, FSM edge, bus handshake
    path: str  # repo-relative file
    old: str  # must occur exactly once
    new: str
    what: str
    #: Testbenches (sim.regression.TESTBENCHES) whose build elaborates the patched line; None: every testbench
    #: whose sources include `path` (shared files such as rtl/lanes.py and rtl/cordic.py: every build).
    benches: tuple[str, ...] | None = None

    def testbenches(self) -> list[str]:
        from sim.regression import TESTBENCHES

        if self.benches is not None:
            return list(self.benches)
        return [name for name, tb in TESTBENCHES.items() if self.path in tb.sources]


MUTANTS: tuple[Mutant, ...] = (
    Mutant("cordic-one-iteration-short", "iteration count", "rtl/cordic.py",
           "for i, alpha in enumerate(s.cordic_angles):", "for i, alpha in enumerate(s.cordic_angles[:-1]):",
           "the CORDIC pipeline builds one micro-rotation fewer than the spec's cordic_iters"),
    Mutant("mac-one-column-short", "iteration count", "rtl/core.py",
           "~seq_drv & (seq_j == n - 1)", "~seq_drv & (seq_j == n - 2)",
           "the MAC sequencer ends each main group one K column early (its last column never accumulated)"),
    Mutant("cordic-round-truncates", "rounding", "rtl/cordic.py",
           "half = (1 << (g - 1)) if g else 0", "half = 0",
           "the CORDIC drops its guard bits by truncation instead of round-half-up"),
    Mutant("post-round-truncates", "rounding", "rtl/core.py",
           'pipe("q8y", signed(p.scaled_bits + 2), q7["x"] + half)', 'pipe("q8y", signed(p.scaled_bits + 2), q7["x"])',
           "d = x >> R without the +2**(R-1) rounding offset"),
    Mutant("k-zero-extended", "sign/zero extension", "rtl/core.py",
           "blk.digit[i].eq(Mux(usek_2, kw, _pick(digits, pass_2)))",
           "blk.digit[i].eq(Mux(usek_2, kw.as_unsigned(), _pick(digits, pass_2)))",
           "K weights zero-extended to the MAC operand width (negative couplings become large positive)"),
    Mutant("trig-zero-extended", "sign/zero extension", "rtl/lanes.py",
           "m.d.sync += [mw.eq(d * t), pw.eq(mw)]", "m.d.sync += [mw.eq(d * t.as_unsigned()), pw.eq(mw)]",
           "the broadcast trig is zero-extended into an unpacked DSP lane's multiply"),
    Mutant("pack-rounding-bias-dropped", "rounding", "rtl/lanes.py",
           "pw.eq(mw + (1 << (k - 1)))", "pw.eq(mw)",
           "a packed DSP pair splits P = A * trig without the 2**(k-1) bias (the low lane's sign borrow is lost)"),
    Mutant("lut-lane-negative-digit-sign", "sign/zero extension", "rtl/lanes.py",
           "Mux(digit[D - 2], neg_trig << (D - 2), neg_trig << (D - 1))",
           "Mux(digit[D - 2], trig << (D - 2), neg_trig << (D - 1))",
           "a LUT lane's multiplier adds the top two digit bits' weight (-2**(D-2) for a negative digit) with the "
           "wrong sign"),
    Mutant("horner-scale-short", "width", "rtl/lanes.py",
           "Mux(sc3, cur << self.horner_shift, cur)", "Mux(sc3, cur << (self.horner_shift - 1), cur)",
           "Horner's rule shifts the accumulator one bit short between drive digits"),
    Mutant("gain-sign-extended", "sign/zero extension", "rtl/core.py",
           'pipe("q5g", unsigned(s.gain_bits), q4["g"])', 'pipe("q5g", signed(s.gain_bits), q4["g"])',
           "the unsigned per-row gain enters the multiply as signed (gains >= 2**(gain_bits-1) turn negative)"),
    Mutant("omega-zero-extended", "sign/zero extension", "rtl/core.py",
           "q2th + q2om)", "q2th + q2om.as_unsigned())",
           "omega zero-extended into the wide phase sum (negative increments look like overflows)"),
    Mutant("accumulator-one-bit-narrow", "width", "rtl/core.py",
           "acc_w = p.acc_bits\n", "acc_w = p.acc_bits - 1\n",
           "MAC accumulators one bit narrower than params.acc_bits (wraps only near the worst case)"),
    Mutant("pre-shift-off-by-one", "width", "rtl/core.py",
           "(q5u >> p.pre_shift) * q5g", "(q5u >> (p.pre_shift + 1)) * q5g",
           "u shifted right by T+1 before the gain multiply"),
    Mutant("post-shift-split-by-4", "width", "rtl/core.py",
           "q8y >> Cat(Const(0, 3), gain_shift[3:])", "q8y >> Cat(Const(0, 2), gain_shift[3:])",
           "the coarse half of the split d = y >> R shifts by 4*R[3:] instead of 8*R[3:]"),
    Mutant("phase-wraps-at-64-turns", "wrap point", "rtl/core.py",
           "wrapped.eq(total[:P])", "wrapped.eq(total[:P - 1].as_signed())",
           "the new phase wraps at +-64 turns (P-1 bits) instead of +-128"),
    Mutant("cordic-fold-quadrant", "wrap point", "rtl/cordic.py",
           "negate = (top2 == 1) | (top2 == 2)", "negate = (top2 == 1)",
           "the CORDIC folds only the second quadrant into range (third quadrant unfolded)"),
    Mutant("overflow-only-upwards", "wrap point", "rtl/core.py",
           '~q11["init"] & (total != wrapped)', '~q11["init"] & (total > wrapped)',
           "OVERFLOW set only when a phase wraps past +2**(P-1), not past -2**(P-1)"),
    Mutant("lane-order-reversed", "lane/bank indexing", "rtl/core.py",
           "word[tk * s.coupling_bits:(tk + 1) * s.coupling_bits]",
           "word[(per_k - 1 - tk) * s.coupling_bits:(per_k - tk) * s.coupling_bits]",
           "K lanes unpacked from a load word in reverse order", benches=("on-chip",)),
    Mutant("kcond-bank-address", "lane/bank indexing", "rtl/core.py",
           'Mux(is_tgt["kcond"], B * G * M + ld_addr, ld_addr)', 'Mux(is_tgt["kcond"], (B * G - 1) * M + ld_addr, ld_addr)',
           "conditioning-block weights written one group low in the drive banks"),
    Mutant("accumulator-clear-late", "FSM edge", "rtl/core.py",
           "seq_first.eq(seq_drv & (seq_m == 0) & (seq_pass == PD - 1))",
           "seq_first.eq(seq_drv & (seq_m == 1) & (seq_pass == PD - 1))",
           "a group's accumulators are cleared on drive column 1 instead of column 0"),
    Mutant("drive-top-digit-unsigned", "sign/zero extension", "rtl/core.py",
           "digits.append(wide[(PD - 1) * c_bits:].as_signed())",
           "digits.append(Cat(wide[(PD - 1) * c_bits:], Const(0, 1)).as_signed())",
           "the top digit of a drive weight is zero-extended (negative drive weights turn large positive)"),
    Mutant("ragged-group-fed-whole", "lane/bank indexing", "rtl/core.py",
           "Mux(ga == G - 1, p.last_group_rows, L)", "Mux(ga == G - 1, L, L)",
           "the ragged last group feeds all L rows to the post-processor (rows past n overwrite other phases)"),
    Mutant("init-pass-one-row-short", "FSM edge", "rtl/core.py",
           "with m.If(init_row == BN - 1):", "with m.If(init_row == BN - 2):",
           "the init pass stops one row early (the last oscillator's trig is never computed)"),
    Mutant("swap-before-drain", "FSM edge", "rtl/core.py",
           "                with m.Elif(~inflight):\n                    m.d.sync += [cur.eq(~cur), steps_done",
           "                with m.Elif(~(seq_active | v1 | v2)):\n                    m.d.sync += [cur.eq(~cur), steps_done",
           "a step ends when the MACs finish, before the post-processor and CORDIC drain"),
    Mutant("readback-ignores-tready", "bus handshake", "rtl/core.py",
           "with m.Elif(self.m_axis_tready):", "with m.Else():",
           "the readback stream advances without tready (words lost under backpressure)"),
    Mutant("load-accepted-while-busy", "bus handshake", "rtl/core.py",
           "self.s_axis_tready.eq(~busy & ~rb_busy & ~load_sel)", "self.s_axis_tready.eq(~rb_busy & ~load_sel)",
           "s_axis_tready stays high during a run"),
    Mutant("load-tlast-one-early", "bus handshake", "rtl/core.py",
           "ld_last.eq(ld_left == 2)]", "ld_last.eq(ld_left == 3)]",
           "the load stream expects tlast one word before the last (the registered words-left count off by one)"),
    Mutant("partial-write-accepted", "bus handshake", "rtl/core.py",
           "wr_fire & (self.s_axil_wstrb != (1 << (regs.DATA_BITS // 8)) - 1)", "wr_fire & (self.s_axil_wstrb == 0)",
           "AXI4-Lite writes with a partial wstrb are applied instead of answered SLVERR"),
    Mutant("irq-clear-on-zero", "bus handshake", "rtl/core.py",
           '(waddr == regs.offset("IRQ_STATUS")) & wdata[0])', '(waddr == regs.offset("IRQ_STATUS")))',
           "IRQ_STATUS clears on any write, not write-1-to-clear"),
    # Streamed-K build only (rtl/core.py _k_stream and the sequencer's K column handshake).
    Mutant("axi-r-ignores-rvalid", "bus handshake", "rtl/core.py",
           'r_fire.eq(port("rvalid") & port("rready"))', 'r_fire.eq(port("rready"))',
           "the K read master takes an R beat whenever it is ready, without rvalid (idle data enters the beat FIFO)",
           benches=("streamed",)),
    Mutant("axi-ar-ignores-arready", "bus handshake", "rtl/core.py",
           'ar_fire.eq(port("arvalid") & port("arready"))', 'ar_fire.eq(port("arvalid"))',
           "the K read master counts a burst as requested without arready (bursts lost when the interconnect stalls)",
           benches=("streamed",)),
    Mutant("burst-address-one-beat-short", "lane/bank indexing", "rtl/core.py",
           "ar_addr.eq(ar_addr + AXI_BURST_BYTES)", "ar_addr.eq(ar_addr + AXI_BURST_BYTES - AXI_DATA_BITS // 8)",
           "each K burst starts one beat below the end of the previous one (INCR step of 15 beats, not 16)",
           benches=("streamed",)),
    Mutant("k-column-on-last-sample", "lane/bank indexing", "rtl/core.py",
           "at_col.eq(seq_active & seq_usek & (seq_b == 0))", "at_col.eq(seq_active & seq_usek & (seq_b == B - 1))",
           "the next K column is popped at the batch's last sample, not its first (sample 0 uses the previous column)",
           benches=("streamed",)),
    Mutant("k-wait-not-cleared", "FSM edge", "rtl/core.py",
           "m.d.sync += [step_cycles_cnt.eq(1), k_wait_cnt.eq(0)]", "m.d.sync += step_cycles_cnt.eq(1)",
           "K_WAIT_CYCLES is not cleared when a step starts (it accumulates over the run)",
           benches=("streamed",)),
    Mutant("abort-keeps-stale-beats", "FSM edge", "rtl/core.py",
           "m.d.sync += [draining.eq(1), beat_idx.eq(total), asm_cnt.eq(0), col_valid.eq(0)]",
           "m.d.sync += [beat_idx.eq(total), asm_cnt.eq(0), col_valid.eq(0)]",
           "ABORT resets the column assembler but does not drain the K reads in flight (their beats feed the next run)",
           benches=("streamed",)),
)


class MutantDoesNotApply(ValueError):
    """The mutant's text is not in the source exactly once: the RTL changed; update the mutant."""


def apply(mutant: Mutant, root: Path) -> None:
    """Patch `mutant` into the tree at `root` (a copy); raises MutantDoesNotApply unless the text occurs once."""
    path = root / mutant.path
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise MutantDoesNotApply(f"mutant {mutant.name}: {mutant.path} holds its text {count} times (need exactly 1)")
    path.write_text(text.replace(mutant.old, mutant.new))


def make_tree(dest: Path, mutant: Mutant | None) -> Path:
    """A copy of the packages the build and testbench need, with `mutant` applied (None: unmutated)."""
    for pkg in COPIED:
        shutil.copytree(REPO / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if mutant is not None:
        apply(mutant, dest)
    return dest


def failed_tests(test_dir: Path) -> list[str]:
    """Names of the failing cocotb tests from the JUnit results written under `test_dir`."""
    out = []
    for xml in test_dir.rglob("results.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                out.append(case.get("name"))
    return sorted(set(out))


#: Runs every chosen testbench (a failing one does not stop the others); exit status 1 if any failed.
_CHILD = """
import json, sys
from fixedpoint.spec import HardwareParams
from sim import regression
a = json.loads(sys.argv[1])
res, failed = {}, []
for bench in a["benches"]:
    try:
        res[bench] = regression.run(a["simulator"], HardwareParams.from_dict(a["params"]),
                                    a["test_dir"] + "/" + bench, seed=a["seed"], bench=bench, images=a["images"],
                                    runs=a["runs"], backpressure=True, build_root=a["build_root"])
    except AssertionError as e:
        failed.append(bench)
        print("FAIL", bench, e, flush=True)
if failed:
    sys.exit(1)
print("REGRESSION-RESULT " + json.dumps(res))
"""


def run_one(mutant: Mutant | None, params, simulator: str, seed: int, images: int = 3, runs: int = 4,
            timeout_s: float = 900, keep: Path | None = None) -> dict:
    """Run the regression on one mutant (None: the unmutated copy, every testbench) in a temporary tree, against
    every testbench whose build elaborates the patched line (Mutant.testbenches); returns {"name", "result":
    "caught" | "missed" | "error", "benches", "failed_tests" ("bench:test"), "seconds", "detail"}."""
    from sim.regression import TESTBENCHES

    benches = mutant.testbenches() if mutant else list(TESTBENCHES)
    t0 = time.perf_counter()
    name = mutant.name if mutant else "unmutated"
    with tempfile.TemporaryDirectory(prefix=f"osc-mutant-{name}-") as tmp:
        root = make_tree(Path(tmp), mutant)
        args = {"params": params.to_dict(), "simulator": simulator, "seed": seed, "images": images, "runs": runs,
                "test_dir": str(root / "run"), "build_root": str(root / "build"), "benches": benches}
        # The child is a plain script even when this runs under pytest (cocotb's runner reports differently there).
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
        try:
            res = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], cwd=root, env=env, text=True,
                                 capture_output=True, timeout=timeout_s, start_new_session=True)
            out, rc = res.stdout + res.stderr, res.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = f"timed out after {timeout_s} s: {e}", -1
        failed = [f"{b}:{name}" for b in benches for name in failed_tests(root / "run" / b)]
        if rc == 0 and "REGRESSION-RESULT" in out:
            result = "missed"
        elif failed:
            result = "caught"
        else:
            result = "error"  # build or elaboration failed, or a hang: the mutant is not a clean bug
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            write_atomic(keep / f"{name}.log", out)
    detail = [ln for ln in out.splitlines() if "FAIL" in ln or "Error" in ln or "phases differ" in ln][:3]
    return {"name": name, "result": result, "benches": benches, "failed_tests": failed,
            "seconds": round(time.perf_counter() - t0, 1),
            "detail": " / ".join(d.strip()[:160] for d in detail)}


def report_md(rows: list[dict], params, simulator: str, seed: int, machine: str, wall_s: float) -> str:
    from sim.regression import TESTBENCHES

    caught = sum(r["result"] == "caught" for r in rows)
    by_name = {m.name: m for m in MUTANTS}
    builds = []
    for name, tb in TESTBENCHES.items():
        b = tb.build(params)
        extra = f" batch={b.batch} K from DDR ({b.k_ports} AXI4 read master, {b.k_bursts} bursts/step)" \
            if b.k_streamed else ""
        builds.append(f"`{name}` ({tb.module}: n={b.n} n_cond={b.n_cond} lanes={b.lanes} ({b.lut_lanes} LUT lanes), "
                      f"K {b.spec.coupling_bits}-bit{extra})")
    lines = [
        "# Mutation check of the RTL regression",
        "",
        f"`python -m sim.mutate` ({simulator}, seed {seed}; replay one mutant with "
        f"`python -m sim.mutate --seed {seed} --only NAME`). Builds: {'; '.join(builds)}.",
        "Each mutant is a one-line realistic RTL bug patched into a temporary copy of the sources; the regression "
        "(every cocotb test of each `sim.regression.TESTBENCHES` build that elaborates the patched line, random "
        "stream backpressure and AXI stalls) must fail on it.",
        "",
        f"**{caught} of {len(rows)} mutants caught**, {len(rows) - caught} missed or errored; total {wall_s:.0f} s.",
        f"Machine: {machine}.",
        "",
        "| mutant | kind | file | bug | builds run | result | failing tests (build:test) | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = by_name.get(r["name"])
        lines.append(f"| `{r['name']}` | {m.kind if m else '-'} | `{m.path if m else '-'}` | {m.what if m else 'no mutation'} | "
                     f"{', '.join(r['benches'])} | **{r['result']}** | {', '.join(r['failed_tests']) or '-'} | "
                     f"{r['seconds']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from fixedpoint.spec import FORMATS, HardwareParams

    from .regression import session_seed

    ap = cli.ArgumentParser(prog="python -m sim.mutate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="mutant names (default: all)")
    ap.add_argument("--simulator", default="icarus", choices=["icarus", "verilator"], help="HDL simulator")
    ap.add_argument("--seed", type=int, default=None, help="regression seed (default: OSC_SEED or clock-derived)")
    # Default build: a ragged last group (10 = 2 * 4 + 2), 4-bit K with 4 drive digits, lanes of every kind (a packed
    # DSP pair, a single DSP lane, a LUT lane), so that every mutant of rtl/lanes.py meets its lane.
    ap.add_argument("--n", type=int, default=10, help="main oscillators of the mutated build")
    ap.add_argument("--n-cond", type=int, default=2, help="conditioning oscillators of the mutated build")
    ap.add_argument("--lanes", type=int, default=4, help="MAC lanes of the mutated build")
    ap.add_argument("--format", default="pynq-z2-n1024", choices=sorted(FORMATS),
                    help="numerics format (fixedpoint.spec)")
    ap.add_argument("--lut-lanes", type=int, default=1, help="MAC lanes with LUT multipliers")
    ap.add_argument("--baseline", action="store_true", help="also run the unmutated copy (must pass)")
    ap.add_argument("--out", type=cli.output_file(cli.MARKDOWN_FORMATS), default=str(DEFAULT_OUT), help=".md report")
    ap.add_argument("--logs", default=None, help="directory for each mutant's simulation log")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    a = ap.parse_args(argv)
    if a.list:
        for m in MUTANTS:
            print(f"{m.name:30s} {m.kind:20s} {m.path:16s} {','.join(m.testbenches()):18s} {m.what}")
        return 0
    names = {m.name for m in MUTANTS}
    unknown = set(a.only or ()) - names
    if unknown:
        ap.error(f"unknown mutants {sorted(unknown)}; --list shows them")
    try:
        params = HardwareParams(a.n, a.n_cond, a.lanes, FORMATS[a.format], lut_lanes=a.lut_lanes)
    except ValueError as e:
        ap.error(str(e))
    seed = a.seed if a.seed is not None else session_seed()
    chosen = [m for m in MUTANTS if a.only is None or m.name in a.only]
    for m in chosen:  # every patch must apply before any simulation starts
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / m.path).parent.mkdir(parents=True)
            shutil.copy(REPO / m.path, root / m.path)
            apply(m, root)
    from tqdm import tqdm

    from benchmarks.common import machine_description

    machine = machine_description()
    t0 = time.perf_counter()
    rows = []
    todo = ([None] if a.baseline else []) + chosen
    bar = tqdm(todo, unit="mutant", desc="mutation check")
    for m in bar:
        bar.set_postfix_str(m.name if m else "unmutated")
        r = run_one(m, params, a.simulator, seed, keep=Path(a.logs) if a.logs else None)
        if m is None and r["result"] != "missed":
            print(f"error: the unmutated copy does not pass ({r['detail']}); fix the regression first", file=sys.stderr)
            return 1
        rows.append(r)
        shown = ("passes" if r["result"] == "missed" else "FAILS") if m is None else r["result"]
        tqdm.write(f"{r['name']:28s} {shown:7s} {r['seconds']:6.1f} s  {', '.join(r['failed_tests'])}")
    wall = time.perf_counter() - t0
    mutant_rows = [r for r in rows if r["name"] != "unmutated"]
    write_atomic(a.out, report_md(mutant_rows, params, a.simulator, seed, machine, wall))
    caught = sum(r["result"] == "caught" for r in mutant_rows)
    print(f"{caught} of {len(mutant_rows)} mutants caught (seed {seed}); report: {a.out}")
    return 0 if caught == len(mutant_rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
