"""CPU microseconds per step of whole ``Trainer.fit`` runs (barebones and defaults) on a near-free model.

Unlike ``overhead.py`` (wall or CPU time minus a hand-written loop), this reports the fit's own CPU time per step,
best of ``--repeats``, which is steadier on a shared machine. To compare two source trees, alternate them:

    for i in 1 2 3; do for tree in OLD NEW; do
        (cd $tree && PYTHONPATH=$tree/packages/core/src OMP_NUM_THREADS=1 python benchmarks/overhead_fit_cpu.py)
    done; done
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from overhead import BAREBONES, TinyModule  # noqa: E402  (the same module and options as overhead.py)

from flashtrain.core import Trainer  # noqa: E402


def fit_cpu_seconds(batches: list, options: dict) -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(args.steps)]
    runs = {"barebones": BAREBONES, "defaults": {}}
    for options in runs.values():
        fit_cpu_seconds(batches, options)  # warm-up: imports, torch's lazy compiler import
    best = {name: min(fit_cpu_seconds(batches, o) for _ in range(args.repeats)) for name, o in runs.items()}
    print(json.dumps({name: round(seconds / args.steps * 1e6, 1) for name, seconds in best.items()}))


if __name__ == "__main__":
    main()
