"""What a new user meets first: every tool names itself as it is run, every option says what it does,
benchmarks answer --help without running, the licence and the installed packages match pyproject."""
import argparse
import importlib
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("fixedpoint", "rtl", "model", "sim", "host", "bitstreams", "benchmarks")
#: helper entry points that are not user tools (started by other code with fixed arguments)
INTERNAL = {"sim.launch"}


def _tools():
    out = []
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).glob("*.py")):
            if '__name__ == "__main__"' in f.read_text():
                out.append(f"{pkg}.{f.stem}")
    return out


TOOLS = _tools()


class _Parsed(Exception):
    pass


def _parser_of(module: str, monkeypatch) -> argparse.ArgumentParser:
    """The ArgumentParser a tool's main() builds (caught at parse_args, before any work)."""
    mod = importlib.import_module(module)
    seen = []

    def capture(self, args=None, namespace=None):
        seen.append(self)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    monkeypatch.setattr(sys, "argv", [module])
    with pytest.raises(_Parsed):
        mod.main()
    return seen[0]


def _all_actions(parser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _all_actions(sub)
        else:
            yield parser, a


def test_tools_are_found():
    assert {"host.run", "host.compare", "model.train", "model.evaluate", "bitstreams.measure",
            "benchmarks.bench_boards"} <= set(TOOLS)


@pytest.mark.parametrize("module", [t for t in TOOLS if t not in INTERNAL])
def test_tool_prints_its_real_name_and_every_option_has_help(module, monkeypatch):
    parser = _parser_of(module, monkeypatch)
    want = f"python benchmarks/{module.split('.')[1]}.py" if module.startswith("benchmarks.") else f"python -m {module}"
    assert parser.prog == want
    missing = [f"{p.prog}: {'/'.join(a.option_strings) or a.dest}" for p, a in _all_actions(parser)
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not missing, f"options without help text: {missing}"


@pytest.mark.parametrize("module", [t for t in TOOLS if t.startswith("benchmarks.")])
def test_benchmark_answers_help_without_running(module, capsys, monkeypatch):
    mod = importlib.import_module(module)
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python benchmarks/")


def test_licence_file_matches_pyproject():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared():
    """Every third-party module the code imports comes from a distribution pyproject declares (any extra)."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + [r for extra in meta["optional-dependencies"].values() for r in extra]
    declared = {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs}
    dists = md.packages_distributions()
    local = set(PACKAGES) | {"tests"}
    imported = set()
    for pkg in PACKAGES + ("tests",):
        for f in (REPO / pkg).glob("*.py"):
            for m in re.finditer(r"^\s*(?:import|from)\s+([A-Za-z_][A-Za-z0-9_]*)", f.read_text(), re.M):
                imported.add(m.group(1))
    third = {m for m in imported if m not in local and m not in sys.stdlib_module_names and m != "__future__"}
    undeclared = {m: dists.get(m) for m in third if not any(_norm(d) in declared for d in dists.get(m, []))}
    assert not undeclared, f"imported but not declared in pyproject: {undeclared}"
    install = (REPO / "install.sh").read_text()
    for line in re.findall(r"^pip_install (.+)$", install, re.M):
        for word in line.split():
            if not word.startswith(("-", '"', "'")) and word != "pip":  # pip itself: the installer
                assert _norm(word) in declared, f"install.sh installs {word}, which pyproject does not declare"
