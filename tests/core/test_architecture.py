"""The core's structure as the Trainer's docstring describes it: no file reaches into the Trainer's private names,
the import graph of ``flashtrain.core`` has no circles (imports under ``if TYPE_CHECKING:`` excluded: they never
run), and ``import flashtrain.core`` loads only what a plain single-device fit needs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "packages" / "core" / "src" / "flashtrain" / "core"
REPO = CORE.parents[4]
TRAINER_FILES = {path.resolve() for path in (CORE / "trainer").glob("*.py")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in CORE.rglob("*.py")}


def _runtime_imports(tree: ast.AST) -> list[str]:
    """Imported module names, skipping ``if TYPE_CHECKING:`` blocks."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
            names.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def lazy_exports_of(path: Path) -> dict[str, str]:
    """A package's names imported on first use: ``lazy_exports(__name__, {name: "module:attribute"})``."""
    table: dict[str, str] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            exports = node.args[1]
            assert isinstance(exports, ast.Dict), f"{path}: lazy_exports needs a dict literal (the graph reads it)"
            for key, value in zip(exports.keys, exports.values):
                table[ast.literal_eval(key)] = ast.literal_eval(value).split(":")[0]
    return table


LAZY = {name: lazy_exports_of(path) for name, path in MODULES.items() if path.name == "__init__.py"}


def import_graph() -> dict[str, set[str]]:
    """Edges between flashtrain.core modules. Importing ``a.b.c`` also runs the ``__init__`` of each package on
    the way, except the importer's own ancestors (already being imported when it runs). ``from package import
    Name`` where the package imports ``Name`` on first use is also an edge to the module that defines it."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets: set[str] = set()
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        if path.name == "__init__.py":
            own_packages.add(name)
        for imported in _runtime_imports(ast.parse(path.read_text())):
            package, _, attribute = imported.rpartition(".")
            lazy_target = LAZY.get(package, {}).get(attribute)
            if lazy_target is not None and lazy_target != name:
                targets.add(lazy_target)
            parts = imported.split(".")
            for i in range(len(parts), 0, -1):
                candidate = ".".join(parts[:i])
                if candidate in MODULES and candidate not in own_packages and candidate != name:
                    targets.add(candidate)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return visiting[visiting.index(node) :] + [node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_core_import_graph_has_no_circles():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


_PRIVATE_TRAINER_USE = re.compile(r"\btrainer\._[a-z]")


@pytest.mark.parametrize("folder", ["packages", "tests", "examples", "benchmarks"])
def test_nothing_outside_the_trainer_uses_its_private_names(folder):
    offenders = []
    for path in (REPO / folder).rglob("*.py"):
        if path.resolve() in TRAINER_FILES or ".venv" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PRIVATE_TRAINER_USE.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# Loaded on first use, never by `import flashtrain.core`: distributed strategies, profilers, yaml, the callbacks and
# loggers beyond their base classes, the CLI (jsonargparse), the 1.x metrics (torchmetrics) and serving (FastAPI).
NOT_AT_IMPORT = (
    "flashtrain.core.strategies.ddp",
    "flashtrain.core.strategies.fsdp",
    "flashtrain.core.strategies.xla",
    "flashtrain.core.profilers.profilers",
    "flashtrain.core.callbacks.model_checkpoint",
    "flashtrain.core.callbacks.progress",
    "flashtrain.core.loggers.tensorboard",
    "flashtrain.core.loggers.mlflow",
    "flashtrain.core.cli",
    "flashtrain.core.metrics",
    "flashtrain.core.serve",
    "jsonargparse",
    "torchmetrics",
    "fastapi",
    "uvicorn",
    "yaml",
)


@pytest.mark.slow
def test_import_flashtrain_core_loads_only_what_a_plain_fit_needs():
    code = "import sys, flashtrain.core; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "flashtrain.core.trainer.trainer" in loaded  # the probe saw the import
    assert sorted(name for name in NOT_AT_IMPORT if name in loaded) == []


def test_lazy_package_names_are_still_importable():
    from flashtrain.core import callbacks, loggers, profilers, strategies

    for package in (callbacks, loggers, profilers, strategies):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
        assert set(package.__all__) <= set(dir(package))
    assert callbacks.TQDMProgressBar is callbacks.ProgressBar
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        callbacks.Nope  # noqa: B018


def test_the_graph_follows_names_a_package_imports_on_first_use():
    # connector.py: `from flashtrain.core.callbacks import ModelCheckpoint` (callbacks loads it lazily)
    assert "flashtrain.core.callbacks.model_checkpoint" in import_graph()["flashtrain.core.trainer.connector"]
