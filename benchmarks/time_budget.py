"""Time budgets against ``max_time`` on the bundled samples (issue 26).

For each sample, budget and seed, two runs of the same task and schedule (one-cycle), same seed, same data split:

- ``budget``: ``Trainer(time_budget=B)``: the schedule is planned to the steps that fit in B;
- ``max_time``: ``Trainer(max_epochs=E, max_time=B)``: planned for E epochs and cut at B, with E = 3x the epochs
  the budget run planned (a schedule that does not fit in the budget: what ``max_time`` is for).

It reports the wall time of ``fit`` against the budget, the time after the last step (final validation,
checkpoint, teardown) against what the budget reserved for it, the final learning rate against the schedule's
minimum (as a fraction of the peak), and the accuracy of the final weights of both on the same held-out data (the
validation split, which neither run selects anything on; mean and sd of the paired difference). ``--slowed`` adds a
budget run slowed on purpose (twice as slow from 30% of the budget on), to show the re-plan.

    OMP_NUM_THREADS=1 python benchmarks/time_budget.py --budgets 60 180 --seeds 0 1 2 --slowed
    OMP_NUM_THREADS=1 python benchmarks/time_budget.py --budgets 60 --seeds 0 1 2 --samples tabular image

The machine this runs on is shared: wall times are what a user sees there, the budget adapts to the pace it meets.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from typing import Any

import torch

from flashtrain.core import Callback, Trainer, seed_everything


class SlowDown(Callback):
    """From ``fraction`` of the budget on, each training step also sleeps as long as the pace planned so far: the
    machine gets twice as slow (another job started on it)."""

    def __init__(self, fraction: float = 0.3) -> None:
        self.fraction = fraction
        self.extra: float | None = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        budget = trainer.time_budget
        if self.extra is None and budget.elapsed() >= self.fraction * budget.plan.budget_seconds:
            self.extra = budget.plan.seconds_per_step or 0.0
            self.planned_before = budget.plan.planned_steps
        if self.extra:
            time.sleep(self.extra)


def tabular(seed: int) -> tuple[Any, Any]:
    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    seed_everything(seed)
    data = TabularClassificationData.from_csv(
        categorical_fields=["island", "sex"],
        numerical_fields=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        target_fields="species",
        train_file=SAMPLE_TABLE,
        val_split=0.2,
        batch_size=32,
    )
    return data, TabularClassifier.from_data(data, lr_scheduler="onecycle")


IMAGE_BACKBONE = {"name": "resnet18"}  # --image-backbone: a cheaper one shows accuracy where steps are slow


def image(seed: int) -> tuple[Any, Any]:
    from flashtrain.tasks import ImageClassificationData, ImageClassifier
    from flashtrain.tasks.image import sample_data_folders

    seed_everything(seed)
    train_folder, val_folder = sample_data_folders()
    data = ImageClassificationData.from_folders(
        train_folder=train_folder, val_folder=val_folder, batch_size=64, image_size=32
    )
    backbone = IMAGE_BACKBONE["name"]
    return data, ImageClassifier(backbone=backbone, labels=data.labels, pretrained=False, lr_scheduler="onecycle")


SAMPLES = {"tabular": tabular, "image": image}


def held_out_rows(data: Any) -> int:
    """A fingerprint of the held-out split, so that both arms of a pair are shown to score the same items."""
    dataset = data.datasets["val"]
    return hash(tuple(getattr(dataset, "indices", range(len(dataset)))))


def run(sample: str, seed: int, budget: float, mode: str, slowed: bool = False, epochs: int = 0) -> dict[str, Any]:
    data, model = SAMPLES[sample](seed)
    limits: dict[str, Any] = (
        {"time_budget": budget} if mode == "budget" else {"max_epochs": epochs, "max_time": {"seconds": budget}}
    )
    slow_down = SlowDown()
    callbacks = [slow_down] if slowed else []
    with tempfile.TemporaryDirectory() as root:
        trainer = Trainer(
            default_root_dir=root, logger=False, enable_progress_bar=False, enable_model_summary=False,
            callbacks=callbacks, **limits,
        )  # fmt: skip
        start = time.monotonic()
        trainer.fit(model, datamodule=data)
        wall = time.monotonic() - start
        (scores,) = trainer.validate(model, datamodule=data, verbose=False)  # the final weights, in both arms
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    if hasattr(scheduler, "lrs"):  # a budget's schedule: the one-cycle curve it follows
        peak, low = max(row[0] for row in scheduler.lrs), min(row[0] for row in scheduler.lrs)
    else:  # torch's OneCycleLR keeps its range in the parameter group
        group = trainer.optimizers[0].param_groups[0]
        peak, low = group["max_lr"], group["min_lr"]
    final = trainer.optimizers[0].param_groups[0]["lr"]
    plan = trainer.time_budget.plan if trainer.time_budget is not None else None
    steps_per_epoch = max(1, int(trainer.num_training_batches))
    return {
        "wall": wall,
        "tail": wall - plan.stopped_at_seconds if plan and plan.stopped_at_seconds is not None else None,
        "reserve": plan.reserve_seconds if plan else None,
        "planned_epochs": math.ceil((plan.planned_steps or 0) / steps_per_epoch) if plan else None,
        "held_out": held_out_rows(data),
        "steps": trainer.global_step,
        "final_lr_above_min": (final - low) / (peak - low),  # 0 = at the minimum, 1 = at the peak
        "acc": float(scores["val_acc"]),
        "replans": plan.replans if plan else None,
        "planned": plan.planned_steps if plan else None,
        "pace_ms": 1000 * plan.seconds_per_step if plan and plan.seconds_per_step else None,
        **({"planned_before_slowdown": slow_down.planned_before} if slowed else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 180.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", nargs="+", default=["tabular", "image"], choices=sorted(SAMPLES))
    parser.add_argument("--slowed", action="store_true", help="also one budget run slowed from its second epoch")
    parser.add_argument(
        "--image-backbone", default="resnet18", help="timm name for the image sample (resnet10t: ~1.7x cheaper)"
    )
    args = parser.parse_args()
    IMAGE_BACKBONE["name"] = args.image_backbone
    torch.set_num_threads(1)
    print(
        "sample  budget seed | budget: wall/B tail/reserve steps final-lr acc | max_time (epochs): wall/B steps "
        "final-lr acc | acc diff"
    )
    for sample in args.samples:
        for budget in args.budgets:
            differences, walls = [], []
            for seed in args.seeds:
                ours = run(sample, seed, budget, "budget")
                epochs = 3 * max(1, ours["planned_epochs"])
                cut = run(sample, seed, budget, "max_time", epochs=epochs)
                if cut["held_out"] != ours["held_out"]:
                    raise RuntimeError("the two arms of a pair were scored on different held-out items")
                differences.append(ours["acc"] - cut["acc"])
                walls.append(ours["wall"] / budget)
                print(
                    f"{sample:7s} {budget:5.0f}s {seed:4d} | {ours['wall'] / budget:.3f} {ours['tail']:.1f}s/"
                    f"{ours['reserve']:.1f}s {ours['steps']:6d} {ours['final_lr_above_min']:.3f} {ours['acc']:.4f} "
                    f"(plan {ours['planned']} at {ours['pace_ms']:.1f} ms/step, {ours['replans']} re-plans) | "
                    f"({epochs}) {cut['wall'] / budget:.3f} {cut['steps']:6d} {cut['final_lr_above_min']:.3f} "
                    f"{cut['acc']:.4f} | {differences[-1]:+.4f}",
                    flush=True,
                )
            sd = statistics.stdev(differences) if len(differences) > 1 else 0.0
            print(f"{sample} {budget:.0f}s: accuracy budget - max_time = {statistics.mean(differences):+.4f} "
                  f"+- {sd:.4f} (sd of {len(differences)} paired differences); wall/B max {max(walls):.3f}",
                  flush=True)  # fmt: skip
        if args.slowed:
            slowed = run(sample, args.seeds[0], args.budgets[0], "budget", slowed=True)
            print(f"{sample} {args.budgets[0]:.0f}s slowed 2x from 30% of the budget on: {slowed}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
