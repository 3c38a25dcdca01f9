"""Instructions per training step of ``Trainer.fit`` (barebones and defaults), counted by valgrind's callgrind.

CPU time on a shared machine moves by 5-10% with the load; an instruction count does not. This counts the
instructions one step of the near-free ``TinyModule`` fit executes (the difference between a long and a short fit,
divided by the steps between them, so setup and teardown cancel) for this tree and, with ``--baseline-tree``,
another one. Use it to see what a change to the per-step path saves; report times with ``overhead_fit_cpu.py``.

    python benchmarks/overhead_instructions.py [--baseline-tree DIR] [--steps 100 400]

Needs ``valgrind`` and a C compiler (for the callgrind client requests); each tree takes a few CPU minutes (torch's
import under valgrind is most of it, not counted).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
THIS_TREE = os.path.dirname(HERE)
sys.path.insert(0, HERE)

_CONTROL_C = r"""
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void stop(const char *label) { CALLGRIND_DUMP_STATS_AT(label); CALLGRIND_STOP_INSTRUMENTATION; }
"""


def build_control(folder: str) -> str:
    """A tiny shared library whose two functions issue callgrind's start/zero and dump/stop client requests."""
    source, library = os.path.join(folder, "control.c"), os.path.join(folder, "control.so")
    with open(source, "w") as file:
        file.write(_CONTROL_C)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def count(control_library: str, steps: list[int]) -> None:
    """Worker (runs under valgrind): warm up, then one dumped fit per (configuration, steps)."""
    from overhead_fit_cpu import CONFIGURATIONS, fit_cpu_seconds, make_batches

    control = ctypes.CDLL(control_library)
    batches = {n: make_batches(n) for n in steps}
    for configuration in CONFIGURATIONS:  # imports, torch's lazy compiler import, first-call caches
        fit_cpu_seconds(batches[steps[0]], configuration)
        fit_cpu_seconds(batches[steps[0]], configuration)
    for configuration in CONFIGURATIONS:
        for n in steps:
            control.start()
            fit_cpu_seconds(batches[n], configuration)
            control.stop(f"{configuration}-{n}".encode())


def measure(tree: str, steps: list[int], folder: str) -> dict[str, float]:
    """Instructions per step of each configuration against ``tree``'s ``flashtrain.core``."""
    core_source = os.path.join(tree, "packages", "core", "src")
    if not os.path.isdir(os.path.join(core_source, "flashtrain", "core")):
        raise FileNotFoundError(f"{tree!r} has no packages/core/src/flashtrain/core: pass a flashtrain source tree")
    library = build_control(folder)
    out = os.path.join(folder, f"callgrind-{len(os.listdir(folder))}.out")
    env = dict(os.environ, PYTHONPATH=core_source, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    command += [sys.executable, os.path.abspath(__file__), "--count", library, "--steps", *map(str, steps)]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    totals: dict[str, int] = {}
    for dump in glob.glob(out + ".*"):
        label = total = None
        with open(dump) as file:
            for line in file:
                if line.startswith("desc: Trigger: Client Request: "):
                    label = line.rsplit(" ", 1)[-1].strip()
                elif line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        if label is not None and total is not None:
            totals[label] = total
    from overhead_fit_cpu import CONFIGURATIONS

    low, high = steps
    return {c: round((totals[f"{c}-{high}"] - totals[f"{c}-{low}"]) / (high - low)) for c in CONFIGURATIONS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs=2, default=[100, 400], help="a short and a long fit")
    parser.add_argument("--baseline-tree", help="another flashtrain source tree to count as well")
    parser.add_argument("--count", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count:
        count(args.count, args.steps)
        return
    trees = {"this": THIS_TREE} | ({"baseline": args.baseline_tree} if args.baseline_tree else {})
    with tempfile.TemporaryDirectory() as folder:
        report = {name: measure(tree, args.steps, folder) for name, tree in trees.items()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
