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
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


# The folders of tests/tests_pytorch for the features flashtrain claims (issue 28), every test file in each.
DIRECTORIES = [
    "callbacks",
    "checkpointing",
    "core",
    "loops",
    "models",
    "trainer",
    "tuner",
    "loggers",
    "profilers",
    "utilities",
]
# Within those folders, files for what flashtrain does not claim to be: loggers it does not ship, Lightning's
# internal tooling and private utility modules (every test in them would be excluded anyway).
OUT_OF_SCOPE = {
    "checkpointing/test_legacy_checkpoints.py": "needs the checkpoints of past Lightning releases (not shipped)",
    "loggers/test_comet.py": "Comet logger (flashtrain ships TensorBoard, CSV, MLflow, W&B)",
    "loggers/test_neptune.py": "Neptune logger (flashtrain ships TensorBoard, CSV, MLflow, W&B)",
    "loggers/test_litlogger.py": "Lightning's own litlogger service",
    "utilities/test_auto_restart.py": "Lightning's private fault-tolerant-restart internals",
    "utilities/test_compile.py": "Lightning's private torch.compile unwrapping helpers",
    "utilities/test_consolidate_checkpoint.py": "Lightning's checkpoint-consolidation command-line tool",
    "utilities/test_deepspeed_collate_checkpoint.py": "DeepSpeed (hardware/library we lack)",
    "utilities/test_deepspeed_model_summary.py": "DeepSpeed (hardware/library we lack)",
    "utilities/test_imports.py": "Lightning's private import-availability flags",
    "utilities/test_pytree.py": "Lightning's private _pytree module",
    "utilities/test_signature_utils.py": "Lightning's private signature helpers",
    "utilities/test_types.py": "Lightning's private type helpers",
    "utilities/test_upgrade_checkpoint.py": "Lightning's checkpoint-upgrade command-line tool",
    "utilities/migration": "Lightning's private checkpoint-migration internals",
}


def discover(lightning_src: Path, directories: list[str]) -> list[str]:
    """Every test file under the given folders of tests/tests_pytorch, minus the out-of-scope ones."""
    root = lightning_src / "tests" / "tests_pytorch"
    files = []
    for directory in directories:
        for path in sorted((root / directory).rglob("test_*.py")):
            relative = path.relative_to(root).as_posix()
            if not any(relative == key or relative.startswith(key + "/") for key in OUT_OF_SCOPE):
                files.append(relative)
    return files


def stage_tests(lightning_src: Path, scratch: Path) -> Path:
    """Copy Lightning's tests_pytorch into ``scratch`` (test files import each other), with the harness's
    stand-ins for the three files that read Lightning internals: the package ``__init__``, ``conftest.py`` and
    ``helpers/runif.py``."""
    target = scratch / "tests_pytorch"
    shutil.copytree(lightning_src / "tests" / "tests_pytorch", target, ignore=shutil.ignore_patterns("__pycache__"))
    # Lightning's package __init__ edits PYTHONPATH; only its path constants are needed.
    (target / "__init__.py").write_text(
        "from pathlib import Path\n_PATH_DATASETS = Path(__file__).parent / 'Datasets'\n"
        "_TEMP_PATH = Path(__file__).parent / 'tmp'\n_PATH_LEGACY = Path(__file__).parent / 'legacy'\n"
    )
    shutil.copy(HERE / "stage" / "runif.py", target / "helpers" / "runif.py")
    shutil.copy(HERE / "stage" / "conftest.py", target / "conftest.py")
    (scratch / "pytest.ini").write_text("[pytest]\n")
    return target


def run_file(scratch: Path, relative: str, lightning_src: Path, test_timeout: int, file_budget: int) -> list[dict]:
    """Run one test file in its own pytest process (niced), killed at ``file_budget`` seconds; its rows."""
    log = scratch / ("log-" + relative.replace("/", "__") + ".jsonl")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE / "alias"), str(scratch), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "LIGHTNING_SRC": str(lightning_src),
        "LIGHTNING_COMPAT_LOG": str(log),
        "PYTHONHASHSEED": "0",
        "WANDB_MODE": "disabled",
    }
    # No tracking URI from outside: Lightning's tests expect MLFlowLogger's own default under each test's tmp_path
    # (and MLflow 3 refuses a file store given through the environment).
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [
        "nice",
        sys.executable,
        "-m",
        "pytest",
        f"tests_pytorch/{relative}",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--rootdir",
        str(scratch),
        "-c",
        str(scratch / "pytest.ini"),
        f"--timeout={test_timeout}",
        "-q",
        "--no-header",
        "-rN",
        "--continue-on-collection-errors",
    ]
    budget_hit = False
    started = time.monotonic()
    with subprocess.Popen(
        command, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    ) as process:
        try:
            process.wait(timeout=file_budget)
        except subprocess.TimeoutExpired:
            budget_hit = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    seconds = time.monotonic() - started
    return rows_from_log(log, relative, lightning_src, budget_hit, file_budget, seconds)


def rows_from_log(
    log: Path, relative: str, lightning_src: Path, budget_hit: bool, file_budget: int, seconds: float
) -> list[dict]:
    """One row per test of the file: its worst outcome over setup/call/teardown; unfinished ones fail."""
    rank = {"collected": 0, "passed": 1, "skipped": 2, "excluded": 3, "failed": 4, "collection-error": 5}
    rows: dict[str, dict] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        record = json.loads(line)
        test = record["test"]
        previous = rows.get(test)
        if previous is None or rank[record["status"]] >= rank[previous["status"]]:
            if previous and previous["status"] == "passed" and record["status"] == "passed":
                continue
            rows[test] = {"test": test, "status": record["status"], "message": cause_of(record.get("message", ""))}
    result = []
    for row in rows.values():
        if row["status"] == "collected":  # never finished: the file ran out of time (or crashed the process)
            row = {**row, "status": "failed"}
            row["message"] = f"file time budget ({file_budget} s) exceeded" if budget_hit else "process crashed"
        if row["status"] == "collection-error":
            source = lightning_src / "tests" / "tests_pytorch" / relative
            for index in range(max(1, count_test_functions(source))):
                result.append(
                    {
                        "test": f"{relative}::<not collected #{index + 1}>",
                        "status": "failed",
                        "message": "collection error: " + row["message"],
                    }
                )
            continue
        result.append(row)
    if not result:
        message = f"file time budget ({file_budget} s) exceeded" if budget_hit else "no test reported"
        source = lightning_src / "tests" / "tests_pytorch" / relative
        for index in range(max(1, count_test_functions(source))):
            result.append({"test": f"{relative}::<not collected #{index + 1}>", "status": "failed", "message": message})
    for row in result:
        row["file"] = relative
        row["seconds"] = round(seconds, 1)
    return result


def cause_of(message: str) -> str:
    """A short, groupable cause from a pytest failure message (numbers and paths blurred)."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    line = re.sub(r"/tmp/\S+", "<tmp>", line)
    line = re.sub(r"0x[0-9a-f]+", "<addr>", line)
    return line[:160]


def count_test_functions(path: Path) -> int:
    """Test functions (and methods) in a file, for a file pytest could not collect (parameters not expanded)."""
    import ast

    if not path.exists():
        return 1
    tree = ast.parse(path.read_text())
    return sum(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
        for node in ast.walk(tree)
    )


def directory_of(relative: str) -> str:
    """The reporting group: the top folder, and trainer's sub-folders on their own."""
    parts = relative.split("/")
    if parts[0] == "trainer" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]


def write_report(rows: list[dict], out: Path, command: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)  # a missing folder lost a whole run's report at its very end
    groups = sorted({directory_of(r["file"]) for r in rows})

    def figures(mine: list[dict]) -> tuple[int, int, int, int, int]:
        count = collections.Counter(r["status"] for r in mine)
        counted = count["passed"] + count["failed"]
        return counted, count["passed"], count["failed"], count["excluded"], count["skipped"]

    total = figures(rows)
    lines = ["# Lightning's tests on flashtrain", "", f"Command: `{command}`", ""]
    lines.append(
        f"**{total[1]} of {total[0]} counted tests pass ({100 * total[1] / max(1, total[0]):.1f}%)**; "
        f"{total[3]} excluded (Lightning internals or hardware mocks, reasons below), "
        f"{total[4]} skipped (hardware or optional dependency: `RunIf`)."
    )
    lines += [
        "",
        "| directory | counted | passed | failed | pass % | excluded | skipped |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group in groups:
        c, p, f, e, s = figures([r for r in rows if directory_of(r["file"]) == group])
        lines.append(f"| {group} | {c} | {p} | {f} | {100 * p / max(1, c):.0f}% | {e} | {s} |")
    c, p, f, e, s = total
    lines.append(f"| **total** | {c} | {p} | {f} | {100 * p / max(1, c):.1f}% | {e} | {s} |")
    summary_end = len(lines)
    causes = collections.Counter(r["message"] for r in rows if r["status"] == "failed")
    lines += ["", "## Failures by cause", "", "| tests | cause |", "| --- | --- |"]
    lines += [f"| {n} | `{cause.replace('|', '/')}` |" for cause, n in causes.most_common()]
    files = sorted({r["file"] for r in rows})
    lines += [
        "",
        "## Per file",
        "",
        "| file | passed | failed | excluded | skipped | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in files:
        mine = [r for r in rows if r["file"] == name]
        c, p, f, e, s = figures(mine)
        lines.append(f"| {name} | {p} | {f} | {e} | {s} | {mine[0].get('seconds', '')} |")
    lines += ["", "## Failing tests", "", "| test | cause |", "| --- | --- |"]
    lines += [f"| `{r['test']}` | {r['message'].replace('|', '/')} |" for r in rows if r["status"] == "failed"]
    lines += ["", "## Excluded", "", "| test | reason |", "| --- | --- |"]
    lines += [f"| `{r['test']}` | {r['message']} |" for r in rows if r["status"] == "excluded"]
    lines += ["", "## Out of scope (not run)", "", "| file | why |", "| --- | --- |"]
    lines += [f"| {name} | {why} |" for name, why in OUT_OF_SCOPE.items()]
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, separators=(",", ":")))
    print("\n".join(lines[:summary_end]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lightning-src", type=Path, default=Path(os.environ.get("LIGHTNING_SRC", "/work/lightning-src"))
    )
    parser.add_argument("--directories", nargs="*", default=DIRECTORIES, help="folders under tests/tests_pytorch")
    parser.add_argument("--files", nargs="*", help="paths under tests/tests_pytorch (instead of --directories)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per test")
    parser.add_argument("--file-budget", type=int, default=300, help="seconds per test file")
    parser.add_argument("--jobs", type=int, default=2, help="test files run at once")
    parser.add_argument(
        "--update", action="store_true", help="replace only the rerun files' rows in the existing results.json"
    )
    args = parser.parse_args()
    if not (args.lightning_src / "tests" / "tests_pytorch").is_dir():
        raise SystemExit(
            f"{args.lightning_src} holds no tests/tests_pytorch; pass --lightning-src pointing at a Lightning 2.6.x "
            "source tree (git archive 2.6.5 src tests/tests_pytorch examples/pytorch | tar -x -C DIR)."
        )
    lightning_src = args.lightning_src.resolve()
    files = args.files or discover(lightning_src, args.directories)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lightning_compat_") as scratch_name:
        scratch = Path(scratch_name)
        stage_tests(lightning_src, scratch)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(run_file, scratch, f, lightning_src, args.timeout, args.file_budget): f for f in files
            }
            for done, future in enumerate(as_completed(futures), 1):
                file_rows = future.result()
                rows += file_rows
                count = collections.Counter(r["status"] for r in file_rows)
                print(f"[{done}/{len(files)}] {futures[future]}: {dict(count)}", flush=True)
    if args.update and args.out.with_suffix(".json").exists():
        previous = json.loads(args.out.with_suffix(".json").read_text())["rows"]
        rows = [r for r in previous if r["file"] not in set(files)] + rows
    rows.sort(key=lambda r: r["test"])
    command = "python benchmarks/lightning_compat/run_tests.py " + " ".join(sys.argv[1:])
    write_report(rows, args.out, command.strip())


if __name__ == "__main__":
    main()
