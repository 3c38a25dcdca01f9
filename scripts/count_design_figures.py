"""The structural figures of issue 29, counted from the source (no import of the packages):

    python scripts/count_design_figures.py [--list]

- ``image/data.py`` lines;
- places a task name is spelled as a string literal in tasks/ and cli/ (outside tasks/registry.py and the task's own
  folder, and in all);
- writes to ``args`` (argparse's namespace) in cli/: ``args.x = ...``, ``args.x += ...``, ``setattr(args, ...)``;
- lines in cli/ that handle ``--backbone`` on its way from argv to the model (code, not help text);
- import circles between flashtrain modules (function-level imports included; ``if TYPE_CHECKING:`` excluded) and
  arrows running back up the layers (core -> tasks/cli, tasks -> cli).

``--list`` prints where each figure comes from.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {layer: REPO / "packages" / layer / "src" for layer in ("core", "tasks", "cli")}
LAYER_ORDER = {"core": 0, "tasks": 1, "cli": 2}
TASK_NAMES = ("image_classification", "text_classification", "tabular_classification", "tabular_regression")
# The folder under tasks/ that owns each task (a literal there is the task's own).
OWN_FOLDER = {
    "image_classification": "image",
    "text_classification": "text",
    "tabular_classification": "tabular",
    "tabular_regression": "tabular",
}


def source_files(layer: str) -> list[Path]:
    return sorted((ROOTS[layer] / "flashtrain" / layer).rglob("*.py"))


def module_name(path: Path) -> str:
    for root in ROOTS.values():
        if root in path.parents:
            parts = path.relative_to(root).with_suffix("").parts
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


def task_name_literals(paths: list[Path]) -> list[tuple[Path, int, str, bool]]:
    """(file, line, name, the literal is the whole string) for each string constant naming a task."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for name in TASK_NAMES:
                    if name in node.value:
                        found.append((path, node.lineno, name, node.value == name))
    return found


def owned(path: Path, name: str) -> bool:
    """A literal in tasks/registry.py, or in the task's own folder under tasks/."""
    tasks = ROOTS["tasks"] / "flashtrain" / "tasks"
    return path == tasks / "registry.py" or (tasks / OWN_FOLDER.get(name, "?")) in path.parents


def args_writes(paths: list[Path]) -> list[tuple[Path, int]]:
    writes = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr",):
                if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "args":
                    writes.append((path, node.lineno))
                continue
            for target in targets:
                for leaf in ast.walk(target):
                    named_args = isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name)
                    if named_args and leaf.value.id == "args" and isinstance(leaf.ctx, ast.Store):  # type: ignore[attr-defined]
                        writes.append((path, leaf.lineno))
    return writes


def backbone_lines(paths: list[Path]) -> list[tuple[Path, int]]:
    """Lines of code that read, write or pass on the backbone option: ``x.backbone``, ``backbone=`` keywords and
    ``"backbone"`` used as a name (a string that is exactly the word, as in ``model_options(args, "backbone")``)."""
    lines = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "backbone":
                lines.add((path, node.lineno))
            elif isinstance(node, ast.keyword) and node.arg == "backbone":
                lines.add((path, node.value.lineno))
            elif isinstance(node, ast.Constant) and node.value in ("backbone", "--backbone"):
                lines.add((path, node.lineno))
    return sorted(lines)


def runtime_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    """Edges between flashtrain modules (a module -> the flashtrain modules it imports at run time). Importing
    ``a.b.c`` runs the ``__init__`` of each package on the way, except the importer's own ancestors."""
    paths = {module_name(path): path for layer in ROOTS for path in source_files(layer)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} | ({name} if is_package else set())
        targets = set()
        for imported in runtime_imports(ast.parse(path.read_text()), name, is_package):
            parts = imported.split(".")
            for i in range(len(parts), 0, -1):
                candidate = ".".join(parts[:i])
                if candidate in paths and candidate not in own and candidate != name:
                    targets.add(candidate)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm): each is a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            connect(node)
    return found


def layer(module: str) -> str:
    return module.split(".")[1]


def upward_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if LAYER_ORDER.get(layer(target), -1) > LAYER_ORDER.get(layer(source), -1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print where each figure comes from")
    options = parser.parse_args()
    show = options.list

    def rel(path: Path) -> str:
        return str(path.relative_to(REPO))

    image_data = ROOTS["tasks"] / "flashtrain" / "tasks" / "image" / "data.py"
    print(f"image/data.py lines: {len(image_data.read_text().splitlines()) if image_data.exists() else 0}")

    tasks_and_cli = source_files("tasks") + source_files("cli")
    literals = task_name_literals(tasks_and_cli)
    outside = [item for item in literals if not owned(item[0], item[2])]
    whole = [item for item in outside if item[3]]
    print(
        f"task-name literals in tasks/ and cli/: {len(literals)} in all; outside the registry and the task's own "
        f"folder: {len(outside)} ({len(whole)} as a whole string, e.g. a table key or a comparison; "
        f"{len(outside) - len(whole)} inside messages/examples) in {len({item[0] for item in outside})} files"
    )
    if show:
        for path, line, name, exact in outside:
            print(f"    {rel(path)}:{line}: {name}{'' if exact else ' (in text)'}")

    writes = args_writes(source_files("cli"))
    print(f"writes to args in cli/: {len(writes)} in {len({path for path, _ in writes})} files")
    if show:
        for path, line in writes:
            print(f"    {rel(path)}:{line}")

    backbone = backbone_lines(source_files("cli"))
    print(f"lines in cli/ handling --backbone: {len(backbone)} in {len({path for path, _ in backbone})} files")
    if show:
        for path, line in backbone:
            print(f"    {rel(path)}:{line}")

    graph = import_graph()
    found = circles(graph)
    arrows = upward_arrows(graph)
    print(f"import circles (function-level imports included): {len(found)}")
    if show:
        for circle in found:
            print(f"    {' <-> '.join(circle)}")
    print(f"arrows running back up (core <- tasks <- cli): {len(arrows)}")
    if show:
        for source, target in arrows:
            print(f"    {source} -> {target}")


if __name__ == "__main__":
    main()
