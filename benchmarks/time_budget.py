"""Time budgets against ``max_time`` on the bundled samples (issue 26).

For each sample, budget and seed, the two arms of a pair run at the same time, in two processes started together
(same nice level, the same share of a shared machine: run one after the other, a change in the machine's load
between them decides the comparison), on the same task and schedule (one-cycle), seed and data split:

- ``budget``: ``Trainer(time_budget=B)``: the schedule is planned to the steps that fit in B;
- ``max_time``: ``Trainer(max_epochs=E, max_time=B)``: planned for E epochs and cut at B. E is 3x the epochs
  that fit in B at the pace a probe measured just before (two probe processes at once, as the pair runs): a
  schedule three times too long for the budget, what ``max_time`` is for.

It reports, per arm, the optimizer steps it got, the wall time of ``fit`` against the budget (what
``Trainer(time_budget=...)`` bounds) and of its whole process (interpreter, imports, data, fit, the scoring pass),
the final learning rate against the schedule's minimum (as a fraction of the peak), and the accuracy of the final
weights of both on the same held-out data (the validation split, which neither run selects anything on; mean and
sd of the paired difference), with the load average around the pair. For the budget arm also the time after the
last step (final validation, checkpoint, teardown) against what the budget reserved for it.

``--command`` adds a third process to each pair: the ``flash-train`` command itself with ``--time-budget B`` on the
same bundled sample (its defaults), whose budget bounds the whole command: its wall is measured from the start of
the process to its exit. ``--slowed`` adds a budget run slowed on purpose (twice as slow from 30% of the budget
on), to show the re-plan.

    OMP_NUM_THREADS=1 nice python benchmarks/time_budget.py --budgets 60 180 --seeds 0 1 2 --slowed --command
    OMP_NUM_THREADS=1 nice python benchmarks/time_budget.py --samples image --image-backbone resnet10t

The machine this runs on is shared: wall times are what a user sees there, the budget adapts to the pace it meets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
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


COMMANDS = {"tabular": "tabular_classification", "image": "image_classification"}  # their bundled samples
RESULT = "RESULT "  # a worker's last line: this, then its result as JSON


def held_out_rows(data: Any) -> int:
    """A fingerprint of the held-out split, so that both arms of a pair are shown to score the same items."""
    dataset = data.datasets["val"]
    return hash(tuple(getattr(dataset, "indices", range(len(dataset)))))


class StepTimes(Callback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.ends.append(time.monotonic())


def probe(sample: str, steps: int) -> dict[str, Any]:
    """The pace of ``steps`` training steps after two of warm-up, and the steps per epoch."""
    data, model = SAMPLES[sample](0)
    times = StepTimes()
    trainer = Trainer(max_steps=steps + 2, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[times])  # fmt: skip
    trainer.fit(model, datamodule=data)
    durations = [b - a for a, b in zip(times.ends[1:], times.ends[2:])]
    return {"pace": statistics.median(durations), "steps_per_epoch": int(trainer.num_training_batches)}


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
        "held_out": held_out_rows(data),
        "steps": trainer.global_step,
        "schedule_done": trainer.global_step / (epochs * steps_per_epoch) if epochs else None,
        "final_lr_above_min": (final - low) / (peak - low),  # 0 = at the minimum, 1 = at the peak
        "acc": float(scores["val_acc"]),
        "replans": plan.replans if plan else None,
        "planned": plan.planned_steps if plan else None,
        "pace_ms": 1000 * plan.seconds_per_step if plan and plan.seconds_per_step else None,
        **({"planned_before_slowdown": slow_down.planned_before} if slowed else {}),
    }


def worker(job: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    IMAGE_BACKBONE["name"] = job.pop("backbone")
    arm = job.pop("arm")
    result = probe(**job) if arm == "probe" else run(mode=arm, **job)
    print(RESULT + json.dumps(result), flush=True)


def start_worker(job: dict[str, Any]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", json.dumps(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def start_command(sample: str, seed: int, budget: float, folder: str) -> subprocess.Popen:
    """``flash-train`` itself (a fresh interpreter, as a user starts it) on the bundled sample, with the budget."""
    command = [sys.executable, "-m", "flashtrain.cli", COMMANDS[sample], "--time-budget", f"{budget:g}s"]
    command += ["--seed", str(seed), "--output-dir", folder, "--logger", "csv"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, started: float) -> tuple[str, float]:
    """Its stdout once it has exited, and its wall time from ``started``; its stderr if it failed."""
    out, err = process.communicate()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"{process.args} failed ({process.returncode}):\n{err[-3000:]}")
    return out, wall


def worker_result(process: subprocess.Popen, started: float) -> dict[str, Any]:
    out, wall = finish(process, started)
    line = next(line for line in reversed(out.splitlines()) if line.startswith(RESULT))
    return {**json.loads(line[len(RESULT) :]), "process_wall": wall}


def command_result(process: subprocess.Popen, started: float, folder: str) -> dict[str, Any]:
    import glob

    import yaml

    out, wall = finish(process, started)
    (config,) = glob.glob(os.path.join(folder, "logs", "version_*", "config.yaml"))
    with open(config) as handle:
        plan = yaml.safe_load(handle)["time_budget_plan"]
    accuracy = next(line for line in out.splitlines() if line.startswith("final validation accuracy:"))
    return {"process_wall": wall, "acc": float(accuracy.split()[3]), "plan": plan}


def together(jobs: list[dict[str, Any]], command: tuple[str, int, float] | None = None) -> list[dict[str, Any]]:
    """Run the workers (and the command) at the same time; their results in order, the command's last."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        processes = [start_worker(job) for job in jobs]
        launched = start_command(*command, folder) if command else None
        results = [worker_result(process, started) for process in processes]
        if launched is not None:
            results.append(command_result(launched, started, folder))
    return results


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 180.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", nargs="+", default=["tabular", "image"], choices=sorted(SAMPLES))
    parser.add_argument("--slowed", action="store_true", help="also one budget run slowed from 30%% of the budget")
    parser.add_argument("--command", action="store_true", help="also flash-train --time-budget beside each pair")
    parser.add_argument(
        "--image-backbone", default="resnet18", help="timm name for the image sample (the command's default: resnet18)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one arm, in its own process (JSON job)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    backbone = args.image_backbone
    print(f"load average (1/5/15 min) at the start: {load()}; image backbone {backbone}; nice {os.nice(0)}")
    print(
        "sample  budget seed | budget: steps fit-wall/B process-wall/B tail/reserve final-lr acc | max_time (E): "
        "steps fit-wall/B schedule-done final-lr acc | acc diff | load before/after"
    )
    for sample in args.samples:
        probe_job = {"arm": "probe", "sample": sample, "backbone": backbone, "steps": 20 if sample == "tabular" else 6}
        probes = together([probe_job, probe_job])  # two at once: the pace a pair will see
        pace = statistics.mean(one["pace"] for one in probes)
        steps_per_epoch = probes[0]["steps_per_epoch"]
        print(f"{sample}: probe pace {1000 * pace:.0f} ms/step (two processes at once), {steps_per_epoch} steps/epoch")
        for budget in args.budgets:
            epochs = max(1, math.ceil(3 * budget / (pace * steps_per_epoch)))
            differences, walls, commands = [], [], []
            for seed in args.seeds:
                job = {"sample": sample, "seed": seed, "budget": budget, "backbone": backbone}
                before = load()
                results = together(
                    [{**job, "arm": "budget"}, {**job, "arm": "max_time", "epochs": epochs}],
                    (sample, seed, budget) if args.command else None,
                )
                ours, cut = results[0], results[1]
                if cut["held_out"] != ours["held_out"]:
                    raise RuntimeError("the two arms of a pair were scored on different held-out items")
                differences.append(ours["acc"] - cut["acc"])
                walls.append(ours["wall"] / budget)
                print(
                    f"{sample:7s} {budget:5.0f}s {seed:4d} | {ours['steps']:5d} {ours['wall'] / budget:.3f} "
                    f"{ours['process_wall'] / budget:.3f} {ours['tail']:.1f}s/{ours['reserve']:.1f}s "
                    f"{ours['final_lr_above_min']:.3f} {ours['acc']:.4f} (plan {ours['planned']} at "
                    f"{ours['pace_ms']:.0f} ms/step, {ours['replans']} re-plans) | ({epochs}) {cut['steps']:5d} "
                    f"{cut['wall'] / budget:.3f} {cut['schedule_done']:.2f} {cut['final_lr_above_min']:.3f} "
                    f"{cut['acc']:.4f} | {differences[-1]:+.4f} | {before} {load()}",
                    flush=True,
                )
                if args.command:
                    command = results[2]
                    commands.append(command["process_wall"] / budget)
                    plan = command["plan"]
                    print(
                        f"        flash-train {COMMANDS[sample]} --time-budget {budget:g}s --seed {seed}: whole "
                        f"command wall/B {command['process_wall'] / budget:.3f}, {plan['planned_steps']} steps planned "
                        f"(stopped by {plan['stopped_by']} at {plan['stopped_at_seconds']:.1f}s, "
                        f"{plan['seconds_before_fit']:.1f}s before fit, {plan['reserve_seconds']:.1f}s reserved), "
                        f"accuracy {command['acc']:.4f}",
                        flush=True,
                    )
            sd = statistics.stdev(differences) if len(differences) > 1 else 0.0
            print(f"{sample} {budget:.0f}s: accuracy budget - max_time = {statistics.mean(differences):+.4f} "
                  f"+- {sd:.4f} (sd of {len(differences)} paired differences); fit wall/B max {max(walls):.3f}"
                  + (f"; flash-train whole-command wall/B max {max(commands):.3f}" if commands else ""),
                  flush=True)  # fmt: skip
        if args.slowed:
            job = {"sample": sample, "seed": args.seeds[0], "budget": args.budgets[0], "backbone": backbone}
            (slowed,) = together([{**job, "arm": "budget", "slowed": True}])
            print(f"{sample} {args.budgets[0]:.0f}s slowed 2x from 30% of the budget on: {slowed}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
