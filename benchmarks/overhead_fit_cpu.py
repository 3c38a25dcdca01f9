"""CPU microseconds per step of whole ``Trainer.fit`` runs (barebones and defaults) on a near-free model.

Unlike ``overhead.py``'s ratios (wall or CPU time against a hand-written loop), this reports the fit's own CPU time
per step, which other busy processes on a shared machine do not inflate.

    OMP_NUM_THREADS=1 python benchmarks/overhead_fit_cpu.py                     # this tree, best of --repeats
    OMP_NUM_THREADS=1 python benchmarks/overhead_fit_cpu.py --baseline-tree DIR # this tree vs another, interleaved

With ``--baseline-tree`` (a source snapshot, e.g. ``git archive 92acb79 | tar -x -C DIR``), two worker processes are
started, one importing this tree's ``flashtrain.core`` and one importing DIR's, both running this file's benchmark
module. After a warm-up, every round runs each (tree, configuration) fit once in a shuffled order, so load changes
on the machine fall on both trees alike. It prints, per configuration, each tree's per-step CPU µs (minimum, median,
maximum over rounds) and the ratio this tree / baseline: of the minima, and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THIS_TREE = os.path.dirname(HERE)
CONFIGURATIONS = ("barebones", "defaults")
sys.path.insert(0, HERE)  # overhead.py: the benchmark module, shared with the hand-loop comparison


def fit_cpu_seconds(batches: list, configuration: str) -> float:
    """CPU seconds one ``Trainer.fit`` of ``TinyModule`` over ``batches`` takes, its console output discarded."""
    from overhead import BAREBONES, TinyModule  # the same module and options as overhead.py

    from flashtrain.core import Trainer

    options = BAREBONES if configuration == "barebones" else {}
    with (
        tempfile.TemporaryDirectory() as root,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        trainer = Trainer(max_epochs=1, default_root_dir=root, **options)
        start = time.process_time()
        trainer.fit(TinyModule(), batches)
        return time.process_time() - start


def make_batches(steps: int) -> list:
    import torch

    torch.set_num_threads(1)
    return [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(steps)]


def serve(steps: int) -> None:
    """Worker: announce which ``flashtrain.core`` it imported, then answer one fit per configuration name on stdin."""
    import flashtrain.core

    batches = make_batches(steps)
    print(json.dumps({"core": os.path.dirname(flashtrain.core.__file__)}), flush=True)
    for line in sys.stdin:
        print(json.dumps({"seconds": fit_cpu_seconds(batches, line.strip())}), flush=True)


class Worker:
    """One process running fits against the ``flashtrain.core`` of ``tree``."""

    def __init__(self, tree: str, steps: int) -> None:
        core_source = os.path.join(tree, "packages", "core", "src")
        if not os.path.isdir(os.path.join(core_source, "flashtrain", "core")):
            raise FileNotFoundError(f"{tree!r} has no packages/core/src/flashtrain/core: pass a flashtrain source tree")
        # PYTHONPATH comes before the virtual environment's .pth entries, so this tree's core wins the import.
        env = dict(os.environ, PYTHONPATH=core_source, OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", "--steps", str(steps)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.core = self._read()["core"]
        if not os.path.realpath(self.core).startswith(os.path.realpath(core_source)):
            raise RuntimeError(f"the worker for {tree} imported flashtrain.core from {self.core}")

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker ended early (see its error above)")
        return json.loads(line)

    def fit(self, configuration: str) -> float:
        self.process.stdin.write(configuration + "\n")
        self.process.stdin.flush()
        return self._read()["seconds"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def compare(baseline_tree: str, steps: int, rounds: int, warmup: int = 1) -> dict:
    """Per-step CPU µs of this tree and ``baseline_tree``, interleaved round by round (see the module docstring)."""
    workers = {"this": Worker(THIS_TREE, steps), "baseline": Worker(baseline_tree, steps)}
    try:
        pairs = [(tree, configuration) for tree in workers for configuration in CONFIGURATIONS]
        for _ in range(warmup):  # imports, torch's lazy compiler import, allocator
            for tree, configuration in pairs:
                workers[tree].fit(configuration)
        shuffle = random.Random(0)
        micros: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
        for round_index in range(rounds):
            shuffle.shuffle(pairs)
            for tree, configuration in pairs:
                micros[tree, configuration].append(workers[tree].fit(configuration) / steps * 1e6)
            print(
                f"round {round_index + 1}/{rounds}: "
                + "  ".join(f"{tree}/{conf} {micros[tree, conf][-1]:.1f}" for tree, conf in sorted(micros)),
                file=sys.stderr,
            )
    finally:
        for worker in workers.values():
            worker.close()
    report: dict = {"steps": steps, "rounds": rounds, "cores": {tree: w.core for tree, w in workers.items()}}
    for configuration in CONFIGURATIONS:
        mine, base = micros["this", configuration], micros["baseline", configuration]
        report[configuration] = {
            "this_us": _spread(mine),
            "baseline_us": _spread(base),
            "ratio_of_minima": round(min(mine) / min(base), 3),
            "median_round_ratio": round(statistics.median(m / b for m, b in zip(mine, base)), 3),
        }
    return report


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="fits per configuration (rounds with --baseline-tree)")
    parser.add_argument("--baseline-tree", help="another flashtrain source tree to measure interleaved with this one")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.steps)
    elif args.baseline_tree:
        print(json.dumps(compare(args.baseline_tree, args.steps, args.repeats), indent=1))
    else:
        batches = make_batches(args.steps)
        for configuration in CONFIGURATIONS:
            fit_cpu_seconds(batches, configuration)  # warm-up: imports, torch's lazy compiler import
        best = {c: min(fit_cpu_seconds(batches, c) for _ in range(args.repeats)) for c in CONFIGURATIONS}
        print(json.dumps({c: round(seconds / args.steps * 1e6, 1) for c, seconds in best.items()}))


if __name__ == "__main__":
    main()
