"""The package's layers, checked from the source: each package imports only those below it.

Order, top to bottom (a package may import any package below it, never one above):
commands > ci > publish > graph > upload > auth > transport > artifacts > config > ground
(errors, report, crypto). The emulator and the sample builders stand apart.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "intune_step"
RANK = {"commands": 9, "ci": 8, "publish": 7, "graph": 6, "upload": 5, "auth": 4,
        "transport": 3, "artifacts": 2, "config": 1, "errors": 0, "report": 0, "crypto": 0,
        "version": 0}
# The layers that do the work: they neither print, nor read the environment, nor know a CI.
WORKING = ("config", "artifacts", "transport", "auth", "graph", "upload", "publish")
APART = ("emulator", "samples")
# What the CI adapters may use: ground, and action.yml's names. Never Intune.
CI_MAY_IMPORT = ("ci", "config", "errors", "report", "version")


@dataclass(frozen=True)
class Module:
    name: str  # intune_step.graph.client
    path: Path
    tree: ast.Module

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else ""

    def imports(self) -> list[tuple[int, str]]:
        """(line, module) of every intune_step import, including ``from intune_step import x``."""
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found += [(node.lineno, a.name) for a in node.names
                          if a.name.startswith("intune_step")]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "intune_step":
                    found += [(node.lineno, f"intune_step.{a.name}") for a in node.names]
                elif node.module.startswith("intune_step."):
                    found.append((node.lineno, node.module))
        return found


def _modules() -> list[Module]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        modules.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return modules


MODULES = _modules()


def _layer_of(imported: str) -> str:
    parts = imported.split(".")
    return parts[1] if len(parts) > 1 else ""


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(PACKAGE.parent)}:{line}"


def test_every_module_sits_in_a_known_layer() -> None:
    loose = [m.name for m in MODULES
             if m.layer not in RANK and m.layer not in APART
             and m.name not in ("intune_step", "intune_step.__main__", "intune_step.entry")]
    assert loose == [], "modules outside the layers: " + ", ".join(loose)


def test_no_package_imports_one_above_it() -> None:
    upward = []
    for module in MODULES:
        if module.layer not in RANK:
            continue
        for line, imported in module.imports():
            target = _layer_of(imported)
            if target in RANK and RANK[target] > RANK[module.layer]:
                upward.append(f"{_where(module, line)} ({module.layer}) imports {imported}")
            if target in APART and module.layer != "commands":  # the demo runs the emulator
                upward.append(f"{_where(module, line)} imports {imported}, which stands apart")
    assert upward == []


def test_working_layers_know_no_ci_and_artifacts_no_network() -> None:
    bad = []
    for module in MODULES:
        if module.layer not in WORKING:
            continue
        for line, imported in module.imports():
            target = _layer_of(imported)
            if target in ("ci", "commands"):
                bad.append(f"{_where(module, line)} imports {imported}")
            if module.layer == "artifacts" and target in ("transport", "auth", "graph"):
                bad.append(f"{_where(module, line)}: a reader imports {imported}")
    assert bad == []


def test_ci_adapters_know_no_intune() -> None:
    bad = [f"{_where(m, line)} imports {imported}" for m in MODULES if m.layer == "ci"
           for line, imported in m.imports() if _layer_of(imported) not in CI_MAY_IMPORT]
    assert bad == []


def test_the_emulator_and_samples_use_no_publish_or_graph_code() -> None:
    bad = [f"{_where(m, line)} imports {imported}" for m in MODULES if m.layer in APART
           for line, imported in m.imports()
           if _layer_of(imported) in ("publish", "graph", "upload", "auth", "commands", "ci",
                                      "transport", "config")]
    assert bad == []


def _environment_and_printing(module: Module) -> list[str]:
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append(f"{_where(module, node.lineno)} reads os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                a.name in ("environ", "getenv") for a in node.names):
            found.append(f"{_where(module, node.lineno)} imports the environment from os")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "print":
                found.append(f"{_where(module, node.lineno)} calls print")
            elif isinstance(func, ast.Attribute) and func.attr in ("echo", "secho") \
                    and isinstance(func.value, ast.Name) and func.value.id == "click":
                found.append(f"{_where(module, node.lineno)} calls click.{func.attr}")
    return found


def test_working_layers_neither_read_the_environment_nor_print() -> None:
    found = [line for m in MODULES if m.layer in WORKING for line in _environment_and_printing(m)]
    assert found == []


def test_there_is_no_import_cycle() -> None:
    names = {m.name for m in MODULES}
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = set()
        for _, imported in module.imports():
            while imported and imported not in names:
                imported = imported.rpartition(".")[0]
            if imported and imported != module.name and not module.name.startswith(
                    imported + "."):  # a package's own __init__ is no cycle
                targets.add(imported)
        graph[module.name] = targets
    cycles = _cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("source, problem", [
    ("import os\nos.environ.get('X')\n", "reads os.environ"),
    ("from os import environ\n", "imports the environment"),
    ("print('x')\n", "calls print"),
    ("import click\nclick.echo('x')\n", "calls click.echo"),
])
def test_the_checker_sees_what_it_forbids(source: str, problem: str) -> None:
    module = Module("intune_step.graph.example", PACKAGE / "graph" / "example.py",
                    ast.parse(source))
    assert any(problem in line for line in _environment_and_printing(module))


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
