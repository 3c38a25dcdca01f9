"""Trainer overhead vs a hand-written PyTorch loop.

The same MLP (784-128-10), batch 64, one CPU thread, in-memory data, 1000 optimizer steps, trained by:
  - a hand-written loop (zero_grad, forward, cross-entropy, backward, Adam step),
  - Trainer.fit with defaults (TensorBoard logger, tqdm progress bar, checkpointing, model summary),
  - Trainer.fit barebones (logger, progress bar, checkpointing and summary off).
The Module logs its loss every step with prog_bar=True, as users do; the hand loop logs nothing.
Runs are alternated for several rounds and the median of the per-round ratios is printed. If
`lightning` is installed, PyTorch Lightning runs the same work and its ratios are printed beside ours.

    python benchmarks/overhead.py [--rounds 15] [--steps 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer


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
    start = time.perf_counter()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


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


def flashtrain_fit(loader: DataLoader, steps: int, defaults: bool) -> float:
    with (
        tempfile.TemporaryDirectory() as root,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        options = (
            {}
            if defaults
            else dict(logger=False, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
        )
        trainer = Trainer(max_steps=steps, max_epochs=1, default_root_dir=root, **options)
        start = time.perf_counter()
        trainer.fit(MLP(), loader)
        return time.perf_counter() - start


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

    with (
        tempfile.TemporaryDirectory() as root,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        options = (
            {}
            if defaults
            else dict(logger=False, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
        )
        trainer = L.Trainer(
            max_steps=steps, max_epochs=1, default_root_dir=root, accelerator="cpu", devices=1, **options
        )
        start = time.perf_counter()
        trainer.fit(LitMLP(), loader)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loader = make_loader(args.steps)
    runs = {
        "hand": lambda: hand_written(loader),
        "hand_again": lambda: hand_written(loader),  # a second hand-written run: the noise floor
        "ft_defaults": lambda: flashtrain_fit(loader, args.steps, defaults=True),
        "ft_bare": lambda: flashtrain_fit(loader, args.steps, defaults=False),
    }
    try:
        import lightning  # noqa: F401

        runs["pl_defaults"] = lambda: lightning_fit(loader, args.steps, defaults=True)
        runs["pl_bare"] = lambda: lightning_fit(loader, args.steps, defaults=False)
    except ImportError:
        pass
    for run in runs.values():  # warm-up: allocator, first-use imports (tensorboard, tqdm)
        run()
    order = random.Random(0)
    times: dict[str, list[float]] = {key: [] for key in runs}
    for round_index in range(args.rounds):
        keys = list(runs)
        order.shuffle(keys)  # no variant always runs first or last
        for key in keys:
            times[key].append(runs[key]())
        print(
            f"round {round_index + 1}/{args.rounds}: " + "  ".join(f"{k} {times[k][-1]:.3f}s" for k in runs),
            file=sys.stderr,
        )

    def ratio(key: str) -> float:
        return statistics.median(t / h for t, h in zip(times[key], times["hand"]))

    print(
        f"torch {torch.__version__}, 1 thread, {args.steps} steps, {args.rounds} rounds; "
        f"hand-written loop median {statistics.median(times['hand']):.3f}s"
    )
    print(f"hand-written loop, run again : {ratio('hand_again'):.3f}x   (noise floor)")
    print(f"flashtrain Trainer, defaults : {ratio('ft_defaults'):.3f}x   (target <= 1.05x)")
    print(f"flashtrain Trainer, barebones: {ratio('ft_bare'):.3f}x   (target <= 1.02x)")
    if "pl_defaults" in times:
        print(f"Lightning Trainer,  defaults : {ratio('pl_defaults'):.3f}x")
        print(f"Lightning Trainer,  barebones: {ratio('pl_bare'):.3f}x")
    else:
        print("lightning is not installed: its ratios are not measured (pip install lightning to compare)")


if __name__ == "__main__":
    main()
