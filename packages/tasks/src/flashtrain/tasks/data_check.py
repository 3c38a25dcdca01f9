"""Checks of a dataset's splits before training: a split that leaks makes every other number meaningless.

- exact duplicates across train / val / test: the same file bytes, the same normalised text, the same table row;
- near-duplicate images across splits (a difference hash within a few bits);
- the same input with different labels;
- class counts per split;
- for tables: constant columns, ID-like columns, and a column that alone predicts the target;
- a group-aware split (no group in two splits), stratified where the labels allow;
- likely mislabelled items from held-out probabilities (confident learning).

Everything works on plain inputs (file paths, texts, data frames, labels), so ``flash-train check`` and the pass
before a fit use the same functions.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class Finding:
    """One thing the check found: ``kind`` (e.g. ``"duplicate"``), ``problem`` (True: it can make scores wrong;
    False: worth knowing), a one-line message, and the items involved as ``(split, index)`` pairs."""

    kind: str
    problem: bool
    message: str
    items: list[Any] = field(default_factory=list)


@dataclass
class DataReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.problem]

    def of_kind(self, kind: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]

    def summary(self) -> str:
        lines = [f"{'PROBLEM' if f.problem else 'note'}: {f.message}" for f in self.findings]
        return "\n".join(lines) if lines else "no problems found"


# -- keys --------------------------------------------------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    """SHA-1 of the file's bytes: two files with the same digest are the same file."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def normalised_text(text: str) -> str:
    """Unicode-normalised, case-folded, whitespace collapsed: texts that differ only in these are duplicates."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def row_digests(frame: Any) -> list[str]:
    """One hash per row of a pandas DataFrame (values only, not the index)."""
    import pandas as pd

    return [str(value) for value in pd.util.hash_pandas_object(frame, index=False).to_numpy()]


# Below this side the hash sees the image itself, not a summary of it: on the bundled 8x8 digits two writers' same
# digit differ in 2 of 64 bits as often as a copy does, so near-duplicate search there only finds false positives.
MIN_HASHED_SIDE = 32


def difference_hash(path: str | Path, size: int = 8) -> int | None:
    """A ``size * size``-bit difference hash (dHash: is each pixel brighter than its right neighbour, on a
    ``size+1 x size`` grey thumbnail). Near-identical images (re-encoded, resized, slightly brightened) differ in a
    few bits. None for an image under ``MIN_HASHED_SIDE`` pixels a side (too small for the hash to tell a copy from
    a look-alike). Written here with PIL and numpy (ten lines) rather than adding the ``imagehash`` package for it."""
    from PIL import Image

    with Image.open(path) as image:
        if min(image.size) < MIN_HASHED_SIDE:
            return None
        grey = np.asarray(image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


# -- checks on keys ------------------------------------------------------------------------------------------------
def cross_split_duplicates(keys: Mapping[str, Sequence[Hashable]], kind: str = "duplicate") -> list[Finding]:
    """Items with the same key in two or more splits (a copy of a training item in val or test)."""
    where: dict[Hashable, list[tuple[str, int]]] = defaultdict(list)
    for split, split_keys in keys.items():
        for index, key in enumerate(split_keys):
            where[key].append((split, index))
    findings = []
    for places in where.values():
        splits = {split for split, _ in places}
        if len(splits) > 1:
            named = ", ".join(f"{split}[{index}]" for split, index in places[:6])
            findings.append(Finding(kind, True, f"the same {kind.split('_')[-1]} in {sorted(splits)}: {named}",
                                    places))  # fmt: skip
    return findings


def near_duplicates(hashes: Mapping[str, Sequence[int | None]], max_distance: int = 2) -> list[Finding]:
    """Pairs of images in different splits whose difference hashes are within ``max_distance`` bits (exact copies
    included; :func:`cross_split_duplicates` on file digests names those as exact). Items hashed None (too small
    to hash) are left out."""
    kept = {split: [i for i, h in enumerate(hashes[split]) if h is not None] for split in SPLITS if split in hashes}
    splits = [split for split in SPLITS if kept.get(split)]
    arrays = {split: np.asarray([hashes[split][i] for i in kept[split]], dtype=np.uint64) for split in splits}
    findings = []
    for i, first in enumerate(splits):
        for second in splits[i + 1 :]:
            a, b = arrays[first], arrays[second]
            for start in range(0, len(a), 512):  # blocks keep the pairwise table small
                xor = a[start : start + 512, None] ^ b[None, :]
                distance = np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)
                for row, column in zip(*np.nonzero(distance <= max_distance)):
                    places = [(first, kept[first][start + int(row)]), (second, kept[second][int(column)])]
                    findings.append(Finding(
                        "near_duplicate", True,
                        f"near-identical images in {first}[{places[0][1]}] and {second}[{places[1][1]}] "
                        f"({int(distance[row, column])} of 64 bits differ)", places,
                    ))  # fmt: skip
    return findings


def conflicting_labels(keys: Mapping[str, Sequence[Hashable]], labels: Mapping[str, Sequence[Any]]) -> list[Finding]:
    """The same input (same key) with different labels, within or across splits."""
    seen: dict[Hashable, list[tuple[str, int, Any]]] = defaultdict(list)
    for split, split_keys in keys.items():
        for index, key in enumerate(split_keys):
            seen[key].append((split, index, labels[split][index]))
    findings = []
    for places in seen.values():
        values = {str(label) for _, _, label in places}
        if len(values) > 1:
            named = ", ".join(f"{split}[{index}]={label!r}" for split, index, label in places[:6])
            findings.append(Finding("conflicting_labels", True, f"the same input with different labels: {named}",
                                    [(split, index) for split, index, _ in places]))  # fmt: skip
    return findings


def class_counts(labels: Mapping[str, Sequence[Any]]) -> list[Finding]:
    """Counts per class and split; a class missing from a split, or under 1% of it, is a problem."""
    counts = {split: Counter(str(label) for label in values) for split, values in labels.items() if len(values)}
    classes = sorted(set().union(*counts.values())) if counts else []
    per_split = [f"{split} " + ", ".join(f"{c}={counts[split].get(c, 0)}" for c in classes[:20]) for split in counts]
    findings = [Finding("class_counts", False, "class counts: " + "; ".join(per_split))]
    for split, counted in counts.items():
        missing = [c for c in classes if counted.get(c, 0) == 0]
        if missing and split != "train":
            findings.append(Finding("class_missing", True, f"{split} has no items of class(es) {missing[:10]}"))
        total = sum(counted.values())
        rare = [c for c in classes if 0 < counted.get(c, 0) < 0.01 * total]
        if rare and split == "train":
            findings.append(Finding("class_rare", False, f"train has under 1% of class(es) {rare[:10]}"))
    return findings


# -- tables --------------------------------------------------------------------------------------------------------
def column_findings(frame: Any, target: str) -> list[Finding]:
    """Constant columns, ID-like columns (a different value in every row) and a column whose value alone decides
    the target (a column-value -> majority-label lookup, learned on half the rows, right on 99% of the others)."""
    import pandas as pd

    findings = []
    rows = len(frame)
    label_codes, label_names = frame[target].astype(str).factorize()
    half = np.random.default_rng(0).random(rows) < 0.5
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column]
        distinct = values.nunique(dropna=False)
        if distinct <= 1:
            findings.append(Finding("constant_column", True, f"column {column!r} has one value: it teaches nothing"))
            continue
        integral = values.dtype.kind in "iuO" or pd.api.types.is_string_dtype(values.dtype)
        if distinct == rows and integral and rows >= 20:
            findings.append(Finding("id_column", True, f"column {column!r} is different in every row (an ID?): "
                                    "a model can memorise it; leave it out of the features"))  # fmt: skip
            continue
        if distinct > rows // 2 or rows < 20:
            continue
        # value -> its most common label on one half, scored on the other (counts in one array: no Python loop)
        codes = values.astype(str).factorize()[0]
        counts = np.zeros((codes.max() + 1, len(label_names)), dtype=np.int64)
        np.add.at(counts, (codes[half], label_codes[half]), 1)
        known = counts[codes[~half]].sum(axis=1) > 0
        held = counts[codes[~half]].argmax(axis=1)
        if known.sum() >= 10:
            right = float(np.mean(held[known] == label_codes[~half][known]))
            baseline = float(np.bincount(label_codes).max()) / rows
            if right >= 0.99 and baseline < 0.95:
                findings.append(Finding("leaky_column", True, f"column {column!r} alone predicts {target!r} "
                                        f"({right:.1%} right on held-out rows): a leak of the answer?"))  # fmt: skip
    return findings


def check_tables(frames: dict[str, Any], target: str) -> DataReport:
    """All checks on the splits of a table (pandas DataFrames holding the features and ``target``)."""
    features = {split: frame.drop(columns=[target]) for split, frame in frames.items()}
    keys = {split: row_digests(frame) for split, frame in features.items()}
    labels = {split: frame[target].tolist() for split, frame in frames.items()}
    report = DataReport(cross_split_duplicates(keys, "duplicate_row"))
    report.findings += conflicting_labels(keys, labels) + class_counts(labels)
    report.findings += column_findings(frames["train"], target)
    return report


# -- images and texts ----------------------------------------------------------------------------------------------
def image_folder_items(folder: str | Path) -> tuple[list[Path], list[str]]:
    """Image files of a ``folder/<class>/<image>`` tree and their class names, sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of class sub-folders (folder/<class>/<image>).")
    files = sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return files, [p.parent.name for p in files]


def check_images(files: Mapping[str, Sequence[str | Path]], labels: Mapping[str, Sequence[Any]], max_distance: int = 2
                 ) -> DataReport:  # fmt: skip
    """Exact duplicates (file bytes), near duplicates (difference hash), conflicting labels and class counts.
    Files that cannot be read as images are left out: reporting them (or skipping them with ``--skip-bad-files``)
    is the data class's job, and a check must not fail where training would not."""
    from PIL import Image

    readable: dict[str, list[tuple[str | Path, Any, int | None]]] = {}
    for split, paths in files.items():
        readable[split] = []
        for path, label in zip(paths, labels[split]):
            try:
                readable[split].append((path, label, difference_hash(path)))
            except (OSError, ValueError, Image.DecompressionBombError):
                continue
    files = {split: [path for path, _, _ in rows] for split, rows in readable.items()}
    labels = {split: [label for _, label, _ in rows] for split, rows in readable.items()}
    digests = {split: [file_digest(path) for path in paths] for split, paths in files.items()}
    report = DataReport(cross_split_duplicates(digests, "duplicate_file"))
    exact = {tuple(sorted(map(tuple, f.items)))[:2] for f in report.findings}
    hashes = {split: [hashed for _, _, hashed in rows] for split, rows in readable.items()}
    for finding in near_duplicates(hashes, max_distance):
        if tuple(sorted(map(tuple, finding.items))) not in exact:  # exact copies are already named
            report.findings.append(finding)
    report.findings += conflicting_labels(digests, labels) + class_counts(labels)
    return report


def check_texts(texts: Mapping[str, Sequence[str]], labels: Mapping[str, Sequence[Any]]) -> DataReport:
    """Exact duplicates (normalised text), near duplicates, conflicting labels and class counts."""
    keys = {split: [normalised_text(text) for text in values] for split, values in texts.items()}
    report = DataReport(cross_split_duplicates(keys, "duplicate_text"))
    report.findings += near_duplicate_texts(keys)
    report.findings += conflicting_labels(keys, labels) + class_counts(labels)
    return report


def word_shingles(text: str, width: int = 2) -> set[bytes]:
    """The word ``width``-grams of a normalised text (punctuation dropped); a shorter text is one shingle of all
    its words, so short texts are near duplicates only when their words are the same."""
    words = re.findall(r"\w+", text)
    if len(words) <= width:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + width]).encode() for i in range(len(words) - width + 1)}


def near_duplicate_texts(normalised: Mapping[str, Sequence[str]], threshold: float = 0.7, limit: int = 200_000
                         ) -> list[Finding]:  # fmt: skip
    """Pairs of texts in different splits whose word-pair (bigram) sets have a Jaccard similarity of at least
    ``threshold`` (an edited copy: a word changed in a sentence of 15, a few words added), exact duplicates left to
    :func:`cross_split_duplicates`. Word pairs rather than a bag of words: the same words in another order (a
    review written from the same template) are another text. Candidates (every pair when there are few, else
    datasketch's MinHash LSH) are each confirmed by their exact Jaccard, so the cost grows with the number of
    texts, not its square. Over ``limit``
    texts in all the search is skipped, and a note says so."""
    splits = [split for split in SPLITS if split in normalised and len(normalised[split])]
    if len(splits) < 2:
        return []
    total = sum(len(normalised[split]) for split in splits)
    if total > limit:
        return [Finding("near_duplicate_text", False, f"near-duplicate texts not searched: {total} texts, over "
                        f"the {limit} this check looks at (exact duplicates were)")]  # fmt: skip
    items = [(split, index) for split in splits for index in range(len(normalised[split]))]
    shingles = [word_shingles(normalised[split][index]) for split, index in items]
    order = [SPLITS.index(split) for split, _ in items]
    findings = []
    for earlier, later in _candidate_pairs(shingles, order, threshold):
        (first_split, first), (second_split, second) = items[earlier], items[later]
        if normalised[first_split][first] == normalised[second_split][second]:
            continue  # an exact duplicate: named as such
        similarity = len(shingles[earlier] & shingles[later]) / len(shingles[earlier] | shingles[later])
        if similarity >= threshold:
            findings.append(Finding("near_duplicate_text", True, f"near-identical texts in {first_split}[{first}] "
                                    f"and {second_split}[{second}] ({similarity:.0%} of their word pairs shared)",
                                    [(first_split, first), (second_split, second)]))  # fmt: skip
    return findings


def _candidate_pairs(shingles: list[set[bytes]], order: list[int], threshold: float) -> list[tuple[int, int]]:
    """(earlier, later) positions of texts in different splits that may reach ``threshold``: every cross-split
    pair when there are few (cheaper than building the LSH index), else datasketch's MinHash LSH candidates (64
    permutations, banded for a lower similarity so that pairs just above ``threshold`` are not missed)."""
    later_split = max(order)
    members: dict[int, list[int]] = defaultdict(list)
    for position, split in enumerate(order):
        members[split].append(position)
    every_pair = ((a, b) for s in members for t in members if s < t for a in members[s] for b in members[t])
    crossing = list(itertools.islice(every_pair, 20_001))  # stops early: never the whole table of a large set
    if len(crossing) <= 20_000:
        return crossing
    from flashtrain.tasks.optional import require

    datasketch = require("datasketch", "check", "finding near-duplicate texts")
    signatures = datasketch.MinHash.bulk(shingles, num_perm=64, seed=0)
    lsh = datasketch.MinHashLSH(threshold=max(0.3, threshold - 0.2), num_perm=64)
    for position, signature in enumerate(signatures):
        if order[position] != later_split:  # the last split is only ever the query side
            lsh.insert(position, signature)
    found = set()
    for position, signature in enumerate(signatures):
        for other in lsh.query(signature):
            if order[other] < order[position]:
                found.add((other, position))
    return sorted(found)


# -- splitting by group ------------------------------------------------------------------------------------------
def group_split(groups: Sequence[Any], labels: Sequence[Any] | None, val_fraction: float, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Train and validation row indices with every group on one side only (e.g. all photos of one patient),
    stratified by label where the groups allow (scikit-learn's StratifiedGroupKFold; GroupShuffleSplit without
    labels). ``val_fraction`` in (0, 0.5]."""
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

    if not 0 < val_fraction <= 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5], got {val_fraction!r}.")
    group_array = np.asarray([str(g) for g in groups])
    if len(set(group_array)) < 2:
        raise ValueError("a group split needs at least two groups; the group column has one value.")
    rows = np.arange(len(group_array))
    if labels is None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        train, val = next(splitter.split(rows, groups=group_array))
        return train, val
    folds = max(2, min(round(1 / val_fraction), len(set(group_array))))
    stratified = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, val = next(stratified.split(rows, np.asarray([str(v) for v in labels]), groups=group_array))
    return train, val


# -- label issues --------------------------------------------------------------------------------------------------
def label_issues(probabilities: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """Indices of likely mislabelled items, most likely first, from held-out (validation or out-of-fold) class
    probabilities and the given labels (class indices).

    Confident learning (Northcutt, Jiang & Chuang 2021, the rule behind cleanlab's ``find_label_issues``): a class's
    threshold is the mean probability the model gives it on items labelled with it; an item is an issue when another
    class reaches its own threshold and beats the given label. Ranked by the given label's probability (lowest
    first). Twenty lines here rather than cleanlab and its dependencies for this one rule."""
    probabilities = np.asarray(probabilities, dtype=float)
    given = np.asarray(labels, dtype=int)
    classes = probabilities.shape[1]
    thresholds = np.array([probabilities[given == c, c].mean() if np.any(given == c) else 1.0 for c in range(classes)])
    confident = probabilities >= thresholds[None, :]
    confident[np.arange(len(given)), given] = False
    others = np.where(confident, probabilities, -1.0)
    suspect = (others.max(axis=1) > probabilities[np.arange(len(given)), given]) & confident.any(axis=1)
    candidates = np.nonzero(suspect)[0]
    return candidates[np.argsort(probabilities[candidates, given[candidates]], kind="stable")]
