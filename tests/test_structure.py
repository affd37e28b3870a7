"""The package's shape (issue 13): no import circles in ``sim/``, and no module or function
of the mechanics above the size a reader can hold in mind.

Both read the source with :mod:`ast`; nothing is imported.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Pure data tables, allowed past MAX_MODULE_LINES: the parameter registry.
DATA_TABLES = {"sim/params.py"}
# The mechanics and the step (none may import the model).
MECHANICS = (
    "model",
    "state",
    "sectors",
    "supply",
    "command",
    "march",
    "combat",
    "surprise",
    "frontage",
    "movement",
    "ground",
    "fortification",
    "pockets",
    "forces",
    "metrics",
    "units",
    "runner",
    "rng",
    "mapping",
    "params",
    "kernels",
    "graph",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_imports(tree: ast.Module, name: str, known: set[str]) -> set[str]:
    """The sim modules a module imports when it is loaded: module-level imports, not those
    under ``if TYPE_CHECKING:`` (types only) or inside functions (deferred)."""
    out: set[str] = set()
    package = name if name in known and (SIM.parent / name.replace(".", "/")).is_dir() else None
    base = package or name.rpartition(".")[0]

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    parent = base.split(".")[: len(base.split(".")) - node.level + 1]
                    mod = ".".join([*parent, mod] if mod else parent)
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    if sub in known:
                        out.add(sub)
                    elif mod in known:
                        out.add(mod)

    visit(tree.body)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module name -> the sim modules it imports at load time."""
    files = sorted(p for p in SIM.rglob("*.py") if "__pycache__" not in p.parts)
    known = {_module_name(p) for p in files}
    return {
        _module_name(p): _run_time_imports(ast.parse(p.read_text()), _module_name(p), known)
        for p in files
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of a graph: each strongly connected component of two or more
    modules, sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_the_step():
    graph = import_graph()
    assert {"sim.command", "sim.movement", "sim.metrics", "sim.supply"} <= graph["sim.model"]
    assert "sim.graph.forest" in graph["sim.supply"]


def test_no_import_circles_in_sim():
    assert cycles(import_graph()) == []


def test_no_mechanic_imports_the_model():
    graph = import_graph()
    users = sorted(m for m, deps in graph.items() if "sim.model" in deps)
    mechanics = [m for m in users if m.split(".")[1] in MECHANICS and m != "sim.runner"]
    assert mechanics == []


# Issue 13: no function above MAX_FUNCTION_LINES outside the theatre build, whose one long
# function reads top to bottom as the build's steps.
LONG_FUNCTIONS_ALLOWED = {("sim/theatre/build.py", "build_theatre")}


def _all_sim_files() -> list[Path]:
    return sorted(p for p in SIM.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _all_sim_files(), ids=lambda p: p.relative_to(SIM).as_posix())
def test_module_and_function_sizes(path):
    """Every module of sim/ (not only the mechanics) stays within the sizes issue 13 set."""
    rel = f"sim/{path.relative_to(SIM).as_posix()}"
    source = path.read_text()
    if rel not in DATA_TABLES:
        assert len(source.splitlines()) <= MAX_MODULE_LINES, rel
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and (rel, node.name) not in LONG_FUNCTIONS_ALLOWED
    ]
    assert long == [], rel


# The mechanics whose functions hold no behaviour number: each is a registry parameter or a
# named constant with its source beside it. (combat's -sigma**2 / 2 of a mean-one lognormal
# and supply's float tolerance are mathematics, not behaviour, so those modules are not listed.)
NO_BARE_NUMBERS = (
    "command",
    "march",
    "forces",
    "ground",
    "fortification",
    "pockets",
    "movement",
    "surprise",
    "kernels/forces",
    "kernels/ground",
    "kernels/pockets",
)
PLAIN_NUMBERS = {0, 1, 2}  # nothing, one, and the two sides


def _bare_numbers(source: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Constant)
                and isinstance(sub.value, int | float)
                and not isinstance(sub.value, bool)
                and sub.value not in PLAIN_NUMBERS
            ):
                out.append(f"{node.name}:{sub.lineno} {sub.value!r}")
    return out


def test_the_number_finder_finds_a_number():
    assert _bare_numbers("def f(x):\n    return 0.3 * x + 1\n") == ["f:2 0.3"]


@pytest.mark.parametrize("name", NO_BARE_NUMBERS)
def test_no_bare_numbers_in_mechanics(name):
    assert _bare_numbers((SIM / f"{name}.py").read_text()) == []


def test_mypy_strict_on_the_mechanics(monkeypatch):
    """``mypy`` passes on sim/ as pyproject.toml configures it: strict on the mechanics."""
    if os.environ.get("CI") == "true":  # in CI the check may not skip: mypy is in the test extra
        import mypy.api as api
    else:
        api = pytest.importorskip("mypy.api", reason="mypy is not installed")
    monkeypatch.chdir(SIM.parent)  # the configuration names the files from the root
    out, err, status = api.run(["--config-file", "pyproject.toml", "--cache-dir", os.devnull])
    assert status == 0, out + err


@pytest.mark.parametrize("name", ["sim.state", "sim.surprise", "sim.units", "sim.metrics"])
def test_the_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
