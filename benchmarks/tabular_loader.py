"""Tabular loader throughput on a large table: is training limited by the model or by the loader?

    python benchmarks/tabular_loader.py [--rows 1000000] [--batch-size 256]

A synthetic table of --rows x 20 columns (15 numerical with 5% missing values, 5 categorical with 10..10,000
values) is prepared with TabularClassificationData.from_data_frame (timed), then the training DataLoader is
iterated on its own (batches/s), and the MLP's full training step (forward, backward, AdamW) is timed on the same
batches. For contrast, the per-row way (``__getitem__`` per sample + default collate) is timed on a few batches.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torch.utils.data._utils.collate import default_collate

from flashtrain.tasks import TabularClassificationData, TabularClassifier


def make_table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(15):
        values = rng.normal(i, 1 + i, rows)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"n{i}"] = values
    for i, cardinality in enumerate((10, 100, 1000, 5000, 10000)):
        columns[f"c{i}"] = np.char.add("v", rng.integers(0, cardinality, rows).astype(str))
    columns["y"] = rng.integers(0, 2, rows)
    return pd.DataFrame(columns)


def batches_per_second(loader, limit: int | None = None, work=None) -> tuple[float, int]:
    count, start = 0, time.perf_counter()
    for batch in loader:
        if work is not None:
            work(batch)
        count += 1
        if limit and count >= limit:
            break
    return count / (time.perf_counter() - start), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model-batches", type=int, default=200, help="training steps to time per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.rows:,} rows x 20 columns")

    start = time.perf_counter()
    frame = make_table(args.rows)
    print(f"made the table in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    dm = TabularClassificationData.from_data_frame(
        [f"c{i}" for i in range(5)],
        [f"n{i}" for i in range(15)],
        "y",
        train_data_frame=frame,
        batch_size=args.batch_size,
    )
    preprocessing = time.perf_counter() - start
    print(
        f"preprocessing (fit + transform, whole table): {preprocessing:.2f} s = {args.rows / preprocessing:,.0f} rows/s"
    )

    loader_rate, count = batches_per_second(dm.train_dataloader())
    print(f"loader alone, shuffled, one epoch: {loader_rate:,.0f} batches/s ({count:,} batches of {args.batch_size})")

    model = TabularClassifier.from_data(dm)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch) -> None:
        inputs, targets = batch
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    batches = [batch for batch, _ in zip(dm.train_dataloader(), range(args.model_batches))]
    alone, together = [], []
    for _ in range(args.rounds):  # interleaved, medians: this host's speed drifts by tens of percent
        alone.append(batches_per_second(batches, work=step)[0])  # ready batches: no loader in the loop
        together.append(batches_per_second(dm.train_dataloader(), limit=args.model_batches, work=step)[0])
    model_rate, both_rate = float(np.median(alone)), float(np.median(together))
    print(f"MLP training step alone (default sizes): {model_rate:,.0f} batches/s (median of {args.rounds})")
    print(f"loader + training step together: {both_rate:,.0f} batches/s (median of {args.rounds})")
    print(f"-> the loader takes {model_rate / loader_rate:.1%} of the step time; training runs at "
          f"{both_rate / model_rate:.1%} of the model-only rate")  # fmt: skip

    dataset = dm.datasets["train"]
    per_row = DataLoader(
        range(len(dataset)),
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=lambda rows: default_collate([dataset[i] for i in rows]),
    )
    row_rate, _ = batches_per_second(per_row, limit=50)
    print(f"for contrast, per-row __getitem__ + default collate: {row_rate:,.0f} batches/s")


if __name__ == "__main__":
    main()
