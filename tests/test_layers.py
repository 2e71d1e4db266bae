"""Layers point one way (fixedpoint < rtl, model < sim < host, bitstreams) and no module imports itself around a
circle. Imports are read with ast (every import statement, also those inside functions), nothing is executed."""
import shutil
import sys
from pathlib import Path

import pytest

from rtl.regs import imported_modules

REPO = Path(__file__).resolve().parent.parent
#: Project packages each layer may import (host and bitstreams are top-level peers).
ALLOWED = {
    "fixedpoint": set(),
    "rtl": {"fixedpoint"},
    "model": {"fixedpoint"},
    "sim": {"fixedpoint", "rtl"},
    "host": {"fixedpoint", "rtl", "model", "sim", "bitstreams"},
    "bitstreams": {"fixedpoint", "rtl", "model", "sim", "host"},
}
#: Third-party packages a layer must never import. fixedpoint runs on the board's 32-bit ARM CPU: numpy (and
#: safetensors for image files) only.
FORBIDDEN = {
    "fixedpoint": None,  # anything outside the standard library, numpy and safetensors
    "rtl": {"torch", "cocotb", "cocotbext", "cocotb_tools"},
    "model": {"amaranth", "cocotb", "cocotbext", "cocotb_tools"},
}
FIXEDPOINT_THIRD_PARTY = {"numpy", "safetensors"}


def project_modules(root: Path) -> dict[str, Path]:
    mods = {}
    for pkg in ALLOWED:
        for f in sorted((root / pkg).rglob("*.py")):
            rel = f.relative_to(root).with_suffix("")
            mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = f
    return mods


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def layer_violations(root: Path, cycle_free=tuple(ALLOWED)) -> list[str]:
    """Upward or forbidden imports anywhere, and module import cycles that touch a package in `cycle_free`."""
    mods = project_modules(root)
    graph, bad = {}, []
    for name, path in mods.items():
        layer = name.split(".")[0]
        imported = imported_modules(path, name)
        # An import of an enclosing package (`from . import x` names the package too) is no edge: the package is
        # already initialised when its submodule runs.
        graph[name] = {m for m in imported if m in mods and m != name and not name.startswith(m + ".")}
        for m in sorted(imported):
            top = m.split(".")[0]
            if top in ALLOWED and top != layer and top not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(root)} imports {m} ({layer} must not import {top})")
            elif top not in ALLOWED and layer in FORBIDDEN:
                forbidden = FORBIDDEN[layer]
                if (forbidden is None and top not in sys.stdlib_module_names and top not in FIXEDPOINT_THIRD_PARTY
                        or forbidden is not None and top in forbidden):
                    bad.append(f"{path.relative_to(root)} imports {m} (not allowed in {layer})")
    bad += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)
            if any(m.split(".")[0] in cycle_free for m in c)]
    return bad


#: Packages whose modules must form no import cycle. host/ is checked separately below.
CYCLE_FREE = ("fixedpoint", "rtl", "model", "sim", "bitstreams")


def test_layers_point_one_way_without_cycles():
    assert layer_violations(REPO, CYCLE_FREE) == []


def test_host_has_no_import_cycle():
    assert layer_violations(REPO, ("host",)) == []


def test_layer_check_catches_violations(tmp_path):
    """The checker itself fails on an upward import, a forbidden library and a cycle (so the test above can fail)."""
    for pkg in ALLOWED:
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    assert layer_violations(tmp_path, CYCLE_FREE) == []
    with open(tmp_path / "fixedpoint" / "golden.py", "a") as f:
        f.write("\n\ndef _late():\n    from model.config import ModelConfig  # noqa\n    import torch  # noqa\n")
    with open(tmp_path / "rtl" / "cordic.py", "a") as f:
        f.write("\nfrom . import core  # noqa\n")
    bad = layer_violations(tmp_path, CYCLE_FREE)
    assert any("golden.py imports model.config" in b for b in bad)
    assert any("golden.py imports torch" in b for b in bad)
    assert any(b.startswith("import cycle:") and "rtl.core" in b and "rtl.cordic" in b for b in bad)
