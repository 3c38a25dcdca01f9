"""Run Lightning's own unit tests on flashtrain through the import alias, and write a results table.

Needs a Lightning source tree (not shipped here; bring it with ``git archive`` from a 2.6.x tag), e.g.::

    python benchmarks/lightning_compat/run_tests.py --lightning-src /work/lightning-src
    python benchmarks/lightning_compat/run_tests.py --lightning-src /work/lightning-src \
        --files callbacks/test_early_stopping.py            # one file while iterating

The Lightning test files are copied into a scratch folder next to this harness's stand-ins for Lightning's
test helpers that read Lightning internals (``stage/runif.py``, ``stage/conftest.py``), then run by pytest with
``alias/`` first on ``sys.path``: ``import lightning.pytorch`` gets flashtrain. Tests listed in
``exclusions.py`` (they exercise Lightning internals) are deselected. The table goes to
``benchmarks/lightning_compat/results.md`` (and ``results.json``), with failures grouped by their error.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from exclusions import EXCLUDED  # noqa: E402

DEFAULT_FILES = [
    "callbacks/test_early_stopping.py",
    "callbacks/test_lr_monitor.py",
    "trainer/logging_/test_train_loop_logging.py",
    "trainer/logging_/test_eval_loop_logging.py",
    "trainer/optimization/test_manual_optimization.py",
    "models/test_hooks.py",
]
# Lightning's helpers that only use public Lightning names run unchanged; runif.py reads internals and is
# replaced by stage/runif.py.
HELPERS = ["__init__.py", "datamodules.py", "simple_models.py", "datasets.py", "utils.py"]


def stage_tests(lightning_src: Path, files: list[str], scratch: Path) -> Path:
    """Copy the chosen Lightning test files and helpers into ``scratch/tests_pytorch``."""
    source = lightning_src / "tests" / "tests_pytorch"
    target = scratch / "tests_pytorch"
    (target / "helpers").mkdir(parents=True)
    (target / "__init__.py").write_text("")
    for helper in HELPERS:
        shutil.copy(source / "helpers" / helper, target / "helpers" / helper)
    shutil.copy(HERE / "stage" / "runif.py", target / "helpers" / "runif.py")
    shutil.copy(HERE / "stage" / "conftest.py", target / "conftest.py")
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        for parent in destination.relative_to(target).parents:
            init = target / parent / "__init__.py"
            if not init.exists():
                init.write_text("")
        shutil.copy(source / relative, destination)
    return target


def run_pytest(scratch: Path, files: list[str], lightning_src: Path, timeout: int) -> Path:
    junit = scratch / "junit.xml"
    deselect = [arg for test_id in EXCLUDED for arg in ("--deselect", f"tests_pytorch/{test_id}")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE / "alias"), str(scratch), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "LIGHTNING_SRC": str(lightning_src),
        "PYTHONHASHSEED": "0",
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        *[f"tests_pytorch/{f}" for f in files],
        *deselect,
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--rootdir",
        str(scratch),
        "-c",
        str(scratch / "pytest.ini"),
        f"--junitxml={junit}",
        f"--timeout={timeout}",
        "-q",
        "--no-header",
        "-rN",
        "--continue-on-collection-errors",
    ]
    (scratch / "pytest.ini").write_text("[pytest]\n")
    subprocess.run(command, cwd=scratch, env=env, check=False)
    return junit


def cause_of(message: str) -> str:
    """A short, groupable cause from a pytest failure message (numbers and paths blurred)."""
    line = message.strip().splitlines()[0] if message.strip() else "(no message)"
    line = re.sub(r"/tmp/\S+", "<tmp>", line)
    line = re.sub(r"0x[0-9a-f]+", "<addr>", line)
    return line[:160]


def read_junit(junit: Path) -> list[dict[str, str]]:
    rows = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        name = case.get("name", "")
        # classname is tests_pytorch.callbacks.test_x[.Class]; rebuild a pytest id relative to tests_pytorch
        parts = module.split("/")
        file_parts = []
        for i, part in enumerate(parts):
            file_parts.append(part)
            if part.startswith("test_"):
                rest = parts[i + 1 :]
                break
        else:
            rest = []
        test_id = "/".join(file_parts[1:]) + ".py::" + "::".join([*rest, name])
        if not case.get("classname"):  # a file pytest could not collect: name is its dotted module path
            test_id = name.replace(".", "/").removeprefix("tests_pytorch/") + ".py::"
        status, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, message = "failed", child.get("message", "") or (child.text or "")
                if message == "collection failure":  # the cause is the last "E   ..." line of the report
                    errors = [line[1:].strip() for line in (child.text or "").splitlines() if line.startswith("E ")]
                    message = "collection error: " + (errors[-1] if errors else "unknown")
            elif child.tag == "skipped":
                status, message = "skipped", child.get("message", "")
        rows.append({"test": test_id, "status": status, "message": cause_of(message) if message else ""})
    return rows


def count_test_functions(path: Path) -> int:
    """Test functions (and methods) in a file, for a file pytest could not collect (parameters not expanded)."""
    import ast

    tree = ast.parse(path.read_text())
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            count += 1
    return count


def expand_collection_errors(rows: list[dict[str, str]], lightning_src: Path) -> list[dict[str, str]]:
    """A file that failed to import counts each of its test functions as failed, with the import error as cause."""
    expanded = []
    for row in rows:
        test_file, _, name = row["test"].partition("::")
        if row["status"] == "failed" and name == "":
            source = lightning_src / "tests" / "tests_pytorch" / test_file
            functions = count_test_functions(source) if source.exists() else 1
            excluded = sum(1 for test_id in EXCLUDED if test_id.startswith(test_file + "::"))
            for index in range(max(1, functions - excluded)):
                expanded.append({**row, "test": f"{test_file}::<not collected #{index + 1}>"})
        else:
            expanded.append(row)
    return expanded


def write_report(rows: list[dict[str, str]], files: list[str], out: Path) -> None:
    excluded = {test_id: reason for test_id, reason in EXCLUDED.items() if test_id.split("::")[0] in files}
    counted = [r for r in rows if r["status"] != "skipped"]
    passed = sum(r["status"] == "passed" for r in counted)
    lines = ["# Lightning's tests on flashtrain", ""]
    lines.append(
        f"{passed} of {len(counted)} counted tests pass ({100 * passed / max(1, len(counted)):.1f}%); "
        f"{len(excluded)} excluded (Lightning internals), {len(rows) - len(counted)} skipped (hardware)."
    )
    lines += ["", "| file | passed | failed | skipped | excluded |", "| --- | --- | --- | --- | --- |"]
    for f in files:
        mine = [r for r in rows if r["test"].startswith(f + "::")]
        count = collections.Counter(r["status"] for r in mine)
        n_excluded = sum(1 for t in excluded if t.startswith(f + "::") or t == f)
        lines.append(f"| {f} | {count['passed']} | {count['failed']} | {count['skipped']} | {n_excluded} |")
    causes = collections.Counter(r["message"] for r in counted if r["status"] == "failed")
    lines += ["", "## Failures by cause", "", "| tests | cause |", "| --- | --- |"]
    lines += [f"| {n} | `{cause}` |" for cause, n in causes.most_common()]
    lines += ["", "## Every test", "", "| test | status | cause |", "| --- | --- | --- |"]
    lines += [f"| `{r['test']}` | {r['status']} | {r['message']} |" for r in rows]
    lines += ["", "## Excluded", "", "| test | reason |", "| --- | --- |"]
    lines += [f"| `{t}` | {reason} |" for t, reason in excluded.items()]
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "excluded": excluded}, indent=1))
    print("\n".join(lines[: 4 + len(files) + 4]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lightning-src", type=Path, default=Path(os.environ.get("LIGHTNING_SRC", "/work/lightning-src"))
    )
    parser.add_argument("--files", nargs="*", default=DEFAULT_FILES, help="paths under tests/tests_pytorch")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test")
    args = parser.parse_args()
    if not (args.lightning_src / "tests" / "tests_pytorch").is_dir():
        raise SystemExit(
            f"{args.lightning_src} holds no tests/tests_pytorch; pass --lightning-src pointing at a Lightning 2.6.x "
            "source tree (git archive 2.6.5 src tests/tests_pytorch examples/pytorch | tar -x -C DIR)."
        )
    with tempfile.TemporaryDirectory(prefix="lightning_compat_") as scratch_name:
        scratch = Path(scratch_name)
        stage_tests(args.lightning_src.resolve(), args.files, scratch)
        junit = run_pytest(scratch, args.files, args.lightning_src.resolve(), args.timeout)
        rows = expand_collection_errors(read_junit(junit), args.lightning_src.resolve()) if junit.exists() else []
    write_report(rows, args.files, args.out)


if __name__ == "__main__":
    main()
