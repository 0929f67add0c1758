"""The layout's rules, read from the source: no import cycles; ``kernels`` sees arrays only (never
``tinylm.nn`` or ``tinylm.models``); ``tinylm.nn`` knows nothing of models, training or the
CLI; and no ``_private`` name is used outside the module that defines it (tests included).

Imports are found by parsing every file (function-level imports count; those under
``if TYPE_CHECKING:`` do not, since they never run).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# where each tree's modules live, and the dotted prefix they are imported as
TREES = {
    "tinylm": "tinylm",
    "kernels": "tinylm.kernels",  # installed as tinylm.kernels (pyproject's package-dir)
    "tests": "tests",
    "benchmarks": "benchmarks",
    "examples": "examples",
}
LIBRARY = ("tinylm",)  # the import graph and layer rules cover the library itself
DYNAMIC_IMPORTS = ("importorskip", "import_module")


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[tuple[str, int]] = field(default_factory=list)  # (module, line)
    private_uses: list[tuple[str, str, int]] = field(default_factory=list)  # (module, name, line)


def _module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(ROOT)
    prefix = TREES[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join([prefix, *parts]) if parts else prefix, is_package


def _source_files() -> list[Path]:
    files = []
    for tree in TREES:
        folder = ROOT / tree
        if folder.is_dir():
            files += sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)
    return files


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: Module, level: int, target: str | None) -> str:
    """The absolute name of a relative import ``from .target import …`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.name.split(".")
    base = base if module.is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: Module, known: set[str]) -> None:
        self.module, self.known = module, known
        self.aliases: dict[str, str] = {}  # local name -> module it stands for

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.module.imports.append((a.name, node.lineno))
            local = a.asname or a.name.split(".")[0]
            self.aliases[local] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = _resolve(self.module, node.level, node.module)
        for a in node.names:
            full = f"{source}.{a.name}"
            if full in self.known:  # a submodule: `from tinylm.nn import functional`
                self.module.imports.append((full, node.lineno))
                self.aliases[a.asname or a.name] = full
            else:
                self.module.imports.append((source, node.lineno))
                if a.name.startswith("_") and not a.name.startswith("__"):
                    if source != self.module.name:
                        self.module.private_uses.append((source, a.name, node.lineno))

    def visit_Assign(self, node: ast.Assign) -> None:
        # `K = pytest.importorskip("a.b")` / `importlib.import_module("a.b")`: an import too
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute | ast.Name)
            and getattr(call.func, "attr", getattr(call.func, "id", "")) in DYNAMIC_IMPORTS
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            self.module.imports.append((call.args[0].value, node.lineno))
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.aliases[target.id] = call.args[0].value
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # `alias._name` where alias stands for an imported module
        chain, value = [node.attr], node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in self.aliases:
            dotted = self.aliases[value.id]
            for attr in reversed(chain):
                if attr.startswith("_") and not attr.startswith("__"):
                    if dotted != self.module.name:
                        self.module.private_uses.append((dotted, attr, node.lineno))
                    break
                if f"{dotted}.{attr}" not in self.known:
                    break  # past the modules: an object's attribute, not a module's
                dotted = f"{dotted}.{attr}"
        self.generic_visit(node)


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    found = {}
    for path in _source_files():
        name, is_package = _module_name(path)
        found[name] = Module(name, path, is_package)
    known = set(found)
    for m in found.values():
        _Visitor(m, known).visit(ast.parse(m.path.read_text(), str(m.path)))
    return found


def _library_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Edges between library modules; an import of ``a.b.c`` points at the deepest known
    module of that name (not at the parent packages Python also runs on the way)."""
    graph: dict[str, set[str]] = {}
    for m in modules.values():
        if not m.name.startswith(LIBRARY):
            continue
        targets = set()
        for target, _ in m.imports:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != m.name and target.startswith(LIBRARY):
                targets.add(target)
        graph[m.name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_source_is_found(modules):
    """A guard for the tests below: they must see the library, the kernels and the tests."""
    assert {"tinylm", "tinylm.autograd", "tinylm.kernels.registry", "tinylm.nn.transformer"} <= set(
        modules
    )
    assert any(name.startswith("tests.") for name in modules)


def test_no_import_cycles(modules):
    cycles = _cycles(_library_graph(modules))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _imports_from(modules, importer_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for m in modules.values():
        if m.name == importer_prefix or m.name.startswith(importer_prefix + "."):
            for target, line in m.imports:
                if any(target == f or target.startswith(f + ".") for f in forbidden):
                    bad.append(f"{m.path.relative_to(ROOT)}:{line} imports {target}")
    return bad


def test_kernels_see_arrays_only(modules):
    bad = _imports_from(modules, "tinylm.kernels", ("tinylm.nn", "tinylm.models"))
    assert not bad, "\n".join(bad)


def test_nn_knows_nothing_of_models_training_or_the_cli(modules):
    forbidden = ("tinylm.models", "tinylm.cli", "tinylm.train", "tinylm.lessons")
    bad = _imports_from(modules, "tinylm.nn", forbidden)
    assert not bad, "\n".join(bad)


def test_no_private_name_is_used_outside_its_module(modules):
    bad = [
        f"{m.path.relative_to(ROOT)}:{line} uses {source}.{name}"
        for m in modules.values()
        for source, name, line in m.private_uses
    ]
    assert not bad, "private names used outside their module:\n" + "\n".join(sorted(bad))


def test_the_checks_can_fail():
    """The detectors themselves, on small made-up graphs and sources."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    m = Module("tests.fake", ROOT / "tests" / "fake.py", False)
    source = (
        "import tinylm.nn.functional as F\n"
        "from tinylm.kernels.registry import _cache\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from tinylm.models import gpt\n"
        "F._hidden(1)\n"
        "F.gelu._wrapped\n"  # an object's attribute, not a module's: allowed
        "K = pytest.importorskip('tinylm.kernels.registry')\n"
        "K._lookup\n"
    )
    known = {"tinylm.nn.functional", "tinylm.kernels.registry", "tinylm.nn", "tinylm"}
    _Visitor(m, known).visit(ast.parse(source))
    assert ("tinylm.kernels.registry", "_cache", 2) in m.private_uses
    assert ("tinylm.nn.functional", "_hidden", 6) in m.private_uses
    assert ("tinylm.kernels.registry", "_lookup", 9) in m.private_uses
    assert len(m.private_uses) == 3
    assert all(target != "tinylm.models" for target, _ in m.imports)
