"""The layers as DESIGN.md promises them, read from the source (function-level imports included): cli -> tasks ->
core and never back; a task's name spelled only in the task registry and the task's own folder; the CLI never
writes to argparse's namespace (options are resolved once into a frozen RunOptions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from flashtrain.tasks import registry

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {layer: REPO / "packages" / layer / "src" / "flashtrain" / layer for layer in ("core", "tasks", "cli")}
TASKS = PACKAGES["tasks"]
# Files whose help text shows example command lines, or whose messages point the user to another task's command (a
# task name inside a longer string is documentation there, not a table).
EXAMPLE_TEXT = {
    PACKAGES["cli"] / "main.py",
    PACKAGES["cli"] / "commands" / "predict.py",
    TASKS / "targets.py",  # "... use tabular_regression (TabularRegressor)"
}


def sources(layer: str) -> list[Path]:
    return sorted(PACKAGES[layer].rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import, wherever it is (module level or inside a function)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize(
    ("layer", "above"), [("core", ("flashtrain.tasks", "flashtrain.cli")), ("tasks", ("flashtrain.cli",))]
)
def test_no_layer_imports_a_layer_above_it(layer, above):
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in sources(layer)
        for line, module in imported_modules(ast.parse(path.read_text()))
        if module.startswith(above)
    ]
    assert not offenders, "\n".join(offenders)


def own_folder(spec: registry.TaskSpec) -> Path:
    """The folder of the task's model module (``flashtrain.tasks.image.model`` -> tasks/image)."""
    module = spec.model.partition(":")[0].split(".")
    return TASKS.joinpath(*module[2:-1])


def task_name_literals(path: Path) -> list[tuple[int, str, bool]]:
    """(line, task name, the string is exactly the name) for string constants naming a registered task
    (docstrings excluded)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        (node.lineno, name, node.value == name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        for name in registry.names()
        if name in node.value
    ]


def test_a_task_name_is_spelled_only_in_the_registry_and_the_tasks_own_folder():
    owners = {spec.name: own_folder(spec) for spec in registry.tasks()}
    offenders = []
    for path in sources("tasks") + sources("cli"):
        if path == TASKS / "registry.py":
            continue
        for line, name, whole in task_name_literals(path):
            if owners[name] in path.parents or (not whole and path in EXAMPLE_TEXT):
                continue
            offenders.append(f"{path.relative_to(REPO)}:{line}: {name!r}")
    assert not offenders, "ask flashtrain.tasks.registry instead of spelling a task's name:\n" + "\n".join(offenders)


def writes_to_args(tree: ast.AST) -> list[int]:
    """Lines that assign to an attribute of a name ``args`` (``args.x = ...``, ``args.x += ...``, tuple targets)
    or call ``setattr(args, ...)``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            target = node.args[0] if node.args else node.func
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "args":
            lines.append(node.lineno)
    return sorted(lines)


def test_the_cli_never_writes_to_argparse_namespace():
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sources("cli")
        for line in writes_to_args(ast.parse(path.read_text()))
    ]
    assert not offenders, "resolve options once into RunOptions (options.replace(...)):\n" + "\n".join(offenders)


def test_the_guards_find_what_they_guard():
    assert writes_to_args(ast.parse("args.x = 1\nargs.y += 2\na, args.z = 1, 2\nsetattr(args, 'w', 3)")) == [1, 2, 3, 4]
    assert writes_to_args(ast.parse("options = options.replace(x=1)\ny = args.x")) == []
    assert imported_modules(ast.parse("def f():\n    from flashtrain.cli.options import UserError")) == [
        (2, "flashtrain.cli.options")
    ]
    sample = TASKS / "registry.py"
    assert any(whole for _, _, whole in task_name_literals(sample))


def test_no_import_circles_in_any_layer():
    """Across core, tasks and cli, function-level imports included (``scripts/count_design_figures.py``'s count):
    a circle makes the import order matter and hides a missing owner (flash_serve <-> serve was one)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("count_design_figures", REPO / "scripts" / "count_design_figures.py")
    assert spec is not None and spec.loader is not None
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    assert figures.circles(figures.import_graph()) == []
