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


def test_readme_opens_with_two_commands_then_the_python_api_that_runs(tmp_path, monkeypatch):
    """The README's first code block is the two fresh-machine commands (install + main job, tests); its first
    Python block is the API in five lines: run it (golden board instead of sim, for speed)."""
    text = (REPO / "README.md").read_text()
    first = re.search(r"```(\w+)\n(.*?)```", text, re.S)
    assert first.group(1) == "bash"
    assert [ln.split()[0] for ln in first.group(2).strip().splitlines()] == ["./install.sh", ".venv/bin/python"]
    assert first.group(2).strip().splitlines()[1].strip() == ".venv/bin/python -m pytest"
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len([ln for ln in code.strip().splitlines() if ln.strip()]) == 5 and 'host.open("sim")' in code
    monkeypatch.chdir(tmp_path)  # it writes out/cat.png relative to the working directory
    scope = {}
    exec(compile(code.replace('host.open("sim")', 'host.open("golden", progress=False)'), "README.md", "exec"), scope)
    s = scope["s"]
    assert s.images.shape == (4, 3, 32, 32) and s.phases.shape == (4, 1032) and s.trajectory.shape == (4, 11, 1032)
    assert (tmp_path / "out" / "cat.png").stat().st_size > 1000


def test_cifar10_is_found_next_to_the_repository_or_the_error_says_where(tmp_path, monkeypatch):
    import model.data as data

    assert data.CIFAR10_TAR.resolve() == (REPO.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz").resolve()
    monkeypatch.setattr(data, "CIFAR10_TAR", tmp_path / "shared" / "datasets" / "cifar10-jpeg.tar.gz")
    with pytest.raises(data.DatasetError) as e:
        data.load_dataset("cifar10", "test")
    msg = str(e.value)
    assert "../shared/datasets/ next to the repository" in msg and "--data-root" in msg and "without a flag" in msg


#: options whose value is a file or folder a command writes
OUTPUT_OPTIONS = ("--out", "--out-dir", "--out-json", "--out-md", "--strip", "--gif", "--order-plot", "--phases",
                  "--steps-strip", "--doc", "--fig-dir", "--cpu-json")


def test_readme_commands_write_into_out():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = " ".join(blocks).replace("\\\n", " ").splitlines()
    checked = 0
    for line in commands:
        words = line.split("#")[0].split()
        for opt, value in zip(words, words[1:]):
            if opt in OUTPUT_OPTIONS:
                checked += 1
                assert value.startswith("out/"), f"README command writes outside out/: {line.strip()}"
        if "import-un0" in words:
            checked += 1
            assert words[-1].startswith("out/"), line
    assert checked >= 15
