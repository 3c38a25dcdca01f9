"""Trainer overhead vs a hand-written PyTorch loop.

The same MLP (784-128-10), batch 64, one CPU thread, in-memory data, 1000 optimizer steps, trained by:
  - a hand-written loop (zero_grad, forward, cross-entropy, backward, Adam step),
  - Trainer.fit with defaults (TensorBoard logger, tqdm progress bar, checkpointing, model summary),
  - Trainer.fit barebones (logger, progress bar, checkpointing and summary off).
The Module logs its loss every step with prog_bar=True, as users do; the hand loop logs nothing.
Runs are alternated in shuffled order for several rounds and the median of the per-round ratios is
printed, with a hand-vs-hand ratio as the noise floor. If `lightning` is installed, PyTorch Lightning runs
the same work in a separate process (importing it perturbs the process) and its ratios are printed too.

    python benchmarks/overhead.py [--rounds 15] [--steps 1000]

Against an earlier version of the code (a source snapshot, e.g. ``git archive 92acb79 | tar -x -C DIR``), the
per-step CPU cost of both, interleaved in one run (see ``overhead_fit_cpu.py``):

    OMP_NUM_THREADS=1 python benchmarks/overhead.py --baseline-tree DIR [--rounds 9] [--steps 4000]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer

# Wall time by default; --cpu-time switches every measurement to this process's CPU seconds, which other busy
# processes on a shared machine do not inflate (the per-step figures then compare trees fairly).
CLOCK = time.perf_counter


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def make_loader(steps: int) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(steps * 64, 784, generator=generator)
    y = torch.randint(0, 10, (steps * 64,), generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


def hand_written(loader: DataLoader) -> float:
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = CLOCK()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return CLOCK() - start


class MLP(Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = make_model()

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


BAREBONES = dict(logger=False, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)


def timed_quiet_fit(make_trainer, module, data) -> float:
    """Seconds ``trainer.fit(module, data)`` takes, with its console output discarded and logs in a temp folder."""
    with (
        tempfile.TemporaryDirectory() as root,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        trainer = make_trainer(root)
        start = CLOCK()
        trainer.fit(module, data)
        return CLOCK() - start


def flashtrain_fit(loader: DataLoader, steps: int, defaults: bool) -> float:
    options = {} if defaults else BAREBONES
    return timed_quiet_fit(
        lambda root: Trainer(max_steps=steps, max_epochs=1, default_root_dir=root, **options), MLP(), loader
    )


def lightning_fit(loader: DataLoader, steps: int, defaults: bool) -> float | None:
    try:
        import lightning as L
    except ImportError:
        return None

    class LitMLP(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.model = make_model()

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    options = {} if defaults else BAREBONES
    return timed_quiet_fit(
        lambda root: L.Trainer(
            max_steps=steps, max_epochs=1, default_root_dir=root, accelerator="cpu", devices=1, **options
        ),
        LitMLP(),
        loader,
    )


class TinyModule(Module):
    """Almost no compute, so what is measured is the trainer's own cost per step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self.layer(batch[0]), batch[1])
        self.log("loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def per_step_overhead_us(rounds: int = 5, steps: int = 5000) -> dict[str, float]:
    """Microseconds the Trainer adds to each step, on a model whose step costs almost nothing."""
    torch.set_num_threads(1)
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(steps)]

    def hand() -> float:
        layer = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.01)
        start = CLOCK()
        for x, y in batches:
            optimizer.zero_grad()
            F.mse_loss(layer(x), y).backward()
            optimizer.step()
        return CLOCK() - start

    def trainer(defaults: bool) -> float:
        options = {} if defaults else BAREBONES
        return timed_quiet_fit(
            lambda root: Trainer(max_epochs=1, default_root_dir=root, **options), TinyModule(), batches
        )

    runs = {"hand": hand, "barebones": lambda: trainer(False), "defaults": lambda: trainer(True)}
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            times[key].append(run())
    hand_median = statistics.median(times["hand"])
    return {key: (statistics.median(times[key]) - hand_median) / steps * 1e6 for key in ("barebones", "defaults")}


def measure(framework: str, rounds: int, steps: int) -> dict[str, float]:
    """Median ratios to the hand-written loop, measured in this process for one framework."""
    torch.set_num_threads(1)
    loader = make_loader(steps)
    fit = flashtrain_fit if framework == "flashtrain" else lightning_fit
    runs = {
        "hand": lambda: hand_written(loader),
        "hand_again": lambda: hand_written(loader),  # a second hand-written run: the noise floor
        "defaults": lambda: fit(loader, steps, defaults=True),
        "barebones": lambda: fit(loader, steps, defaults=False),
    }
    for run in runs.values():  # warm-up: allocator, first-use imports (tensorboard, tqdm)
        run()
    order = random.Random(0)
    times: dict[str, list[float]] = {key: [] for key in runs}
    for round_index in range(rounds):
        keys = list(runs)
        order.shuffle(keys)  # no variant always runs first or last
        for key in keys:
            times[key].append(runs[key]())
        print(
            f"{framework} round {round_index + 1}/{rounds}: " + "  ".join(f"{k} {times[k][-1]:.3f}s" for k in runs),
            file=sys.stderr,
        )
    ratios = {key: statistics.median(t / h for t, h in zip(times[key], times["hand"])) for key in runs}
    ratios["hand_seconds"] = statistics.median(times["hand"])
    return ratios


def print_tree_comparison(baseline_tree: str, rounds: int, steps: int) -> None:
    """This tree's and ``baseline_tree``'s per-step CPU µs (whole fits of ``TinyModule``), fits interleaved."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from overhead_fit_cpu import compare

    report = compare(baseline_tree, steps, rounds)
    print(f"per-step CPU µs, {steps} steps a fit, {rounds} interleaved rounds, one thread (min / median / max):")
    for configuration in ("defaults", "barebones"):
        row = report[configuration]
        this, base = row["this_us"], row["baseline_us"]
        print(
            f"  {configuration:9s}  this {this['min']:.1f} / {this['median']:.1f} / {this['max']:.1f}   baseline "
            f"{base['min']:.1f} / {base['median']:.1f} / {base['max']:.1f}   this/baseline: minima "
            f"{row['ratio_of_minima']:.3f}, median of round ratios {row['median_round_ratio']:.3f}"
        )
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument(
        "--framework",
        choices=["flashtrain", "lightning"],
        default="flashtrain",
        help="measure one framework in this process (others run in their own process)",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-time", action="store_true", help="measure CPU seconds of this process, not wall time")
    parser.add_argument(
        "--per-step-only",
        action="store_true",
        help="print only the per-step overhead (JSON, microseconds), e.g. to interleave runs of two source trees",
    )
    parser.add_argument(
        "--baseline-tree",
        help="a flashtrain source tree: per-step CPU µs of its Trainer and this one's, interleaved in one run",
    )
    args = parser.parse_args()
    if args.baseline_tree:
        print_tree_comparison(args.baseline_tree, args.rounds, args.steps)
        return
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    if args.per_step_only:
        print(json.dumps(per_step_overhead_us(rounds=args.rounds, steps=args.steps)))
        return
    ratios = measure(args.framework, args.rounds, args.steps)
    if args.json:
        print(json.dumps(ratios))
        return
    print(
        f"torch {torch.__version__}, 1 thread, {args.steps} steps, {args.rounds} rounds; "
        f"hand-written loop median {ratios['hand_seconds']:.3f}s"
    )
    print(f"hand-written loop, run again : {ratios['hand_again']:.3f}x   (noise floor)")
    print(f"flashtrain Trainer, defaults : {ratios['defaults']:.3f}x   (target <= 1.05x)")
    print(f"flashtrain Trainer, barebones: {ratios['barebones']:.3f}x   (target <= 1.02x)")
    added = per_step_overhead_us()
    step_us = ratios["hand_seconds"] / args.steps * 1e6
    print(
        f"flashtrain per-step cost on a near-zero-compute model: +{added['barebones']:.1f} us barebones, "
        f"+{added['defaults']:.1f} us defaults (= {added['barebones'] / step_us:.1%} / "
        f"{added['defaults'] / step_us:.1%} of this benchmark's {step_us:.0f} us step)"
    )
    if importlib.util.find_spec("lightning") is None:
        print("lightning is not installed: its ratios are not measured (pip install lightning to compare)")
        return
    # Lightning runs in a process of its own: importing it changes the process flashtrain was measured in.
    command = [
        sys.executable,
        __file__,
        "--framework",
        "lightning",
        "--rounds",
        str(args.rounds),
        "--steps",
        str(args.steps),
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    other = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"Lightning Trainer,  defaults : {other['defaults']:.3f}x   (its own process; noise floor "
        f"{other['hand_again']:.3f}x)"
    )
    print(f"Lightning Trainer,  barebones: {other['barebones']:.3f}x")


if __name__ == "__main__":
    main()
