"""Classification targets: one reading of every input form, used by the image, text and tabular data classes.

Every form is first turned into plain Python values (a NumPy array, a tensor, a pandas Series or DataFrame and a
list of the same values read the same way), then each row is given a kind and the kinds are reduced to one form,
following Lightning Flash's ``classification_targets.rst``:

single-label: class indexes ``[0, 1, 0]``, labels ``["cat", "dog"]``, one-hot rows ``[[1, 0], [0, 1]]``;
multi-label: lists of indexes ``[[0], [0, 1]]``, lists of labels ``[["cat"], ["cat", "dog"]]``, comma-delimited
``["cat", "cat,dog"]``, space-delimited ``["cat", "cat dog"]``, multi-hot rows ``[[1, 0, 0], [1, 1, 0]]`` and soft
targets ``[[0.1, 0, 0], [0.9, 0.7, 0]]``.

Differences from Flash, on purpose: class indexes and lists of indexes name their classes by the values seen
(``[1, 2, 3]`` is 3 classes named 1, 2, 3, not 4 with an empty class 0), a missing target (None, NaN) is an error
naming its rows instead of a class named "nan", and numbers that look like a continuous quantity are refused.

Written here rather than taken from a library: torchmetrics and scikit-learn's ``type_of_target`` read arrays
only, not the nine forms (lists of strings, delimited strings) Flash users pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch

# Row kinds, reduced pairwise (Flash's resolution table): a key may become any of its values.
_WIDER = {
    "one_hot": ("multi_hot", "multi_index", "soft"),
    "multi_hot": ("multi_index", "soft"),
    "index": ("one_hot", "multi_index"),
    "label": ("comma", "space"),
    "empty": ("multi_hot", "multi_index", "soft", "multi_label", "comma", "space"),  # a sample with no labels
}
_MULTI = {"multi_hot", "multi_index", "soft", "multi_label", "comma", "space"}
_ROWS = {"one_hot", "multi_hot", "soft"}  # a fixed-width row per sample: the labels are the columns

# A classifier's numeric target with more distinct values than this, and fewer rows per value than
# CONTINUOUS_ROWS_PER_VALUE, is a measured quantity (sklearn's diabetes target: 214 values in 442 rows) -- unless
# the values are exactly the codes 0..K-1, every one present: that is how a few-shot set with many classes is coded,
# and a measured quantity almost never fills a range starting at 0 without a gap.
CONTINUOUS_MIN_VALUES = 20
CONTINUOUS_ROWS_PER_VALUE = 5


def as_python(targets: Any) -> list[Any]:
    """Plain Python rows from a list, tuple, NumPy array, tensor, pandas Series or DataFrame (one row per sample)."""
    if hasattr(targets, "to_numpy") and hasattr(targets, "columns"):  # a DataFrame: a row of its columns
        targets = targets.to_numpy()
        if targets.shape[1] == 1:
            targets = targets[:, 0]
    if hasattr(targets, "tolist"):
        return list(targets.tolist())
    return [row.tolist() if hasattr(row, "tolist") else row for row in targets]


def _missing(value: Any) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and math.isnan(value)


def _number(value: Any) -> Any:
    """Integral floats as ints (a NaN-free pandas column read as float, ``1.0``): the same class as ``1``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _row_kind(row: Any, delimiter: str | None) -> str:
    if isinstance(row, str):
        stripped = row.strip(", ")
        if delimiter == "auto":
            if "," in stripped:
                return "comma"
            return "space" if any(ch.isspace() for ch in stripped) else "label"
        return "label" if delimiter is None else "delimited"
    if isinstance(row, (list, tuple, set, frozenset)):
        values = list(row)
        if not values:
            return "empty"
        if isinstance(values[0], str):
            return "multi_label"
        if len(values) > 1 and all(v in (0, 1) for v in values):
            return "one_hot" if sum(values) == 1 else "multi_hot"
        if any(isinstance(v, float) and not v.is_integer() for v in values):
            return "soft"
        return "multi_index" if len(values) != 1 else "index"
    if isinstance(row, (int, float)):
        return "index" if isinstance(row, bool) or float(row).is_integer() else "continuous"
    return "label"  # any other hashable value names its class


def _reduce(kinds: set[str], where: str) -> str:
    remaining = set(kinds)
    for kind in sorted(kinds):
        if any(other in _WIDER.get(kind, ()) for other in kinds):
            remaining.discard(kind)
    if remaining == {"empty"}:
        return "multi_label"
    if len(remaining) != 1:
        raise ValueError(
            f"{where}: the targets mix forms {sorted(remaining)}. Give every sample the same form: one label, a "
            "list of labels, a delimited string, or a 0/1 row."
        )
    return remaining.pop()


def _check_present(rows: list[Any], where: str) -> None:
    bad = [
        i for i, row in enumerate(rows) if _missing(row) or (isinstance(row, (list, tuple)) and any(map(_missing, row)))
    ]
    if bad:
        raise ValueError(
            f"{where}: {len(bad)} sample(s) have no target (None or NaN): rows {bad[:10]}. Fill in their labels or "
            "drop those samples."
        )


def _refuse_phrases_read_as_labels(rows: list[Any], name: str) -> None:
    """Flash splits strings with spaces into labels; a piece with no letter or digit ("science & health") says the
    strings are class names with spaces, which splitting would silently turn into a multi-label task."""
    for row in rows:
        pieces = row.split() if isinstance(row, str) else []
        if any(not any(ch.isalnum() for ch in piece) for piece in pieces):
            raise ValueError(
                f"{name}: {row!r} would be split on spaces into the labels {pieces} (Flash's space-delimited "
                "multi-label form), but a piece with no letter or digit says it is one class name. Pass "
                "multi_label=False or labels=[...] to keep each string one label, or separate the labels of a "
                "multi-label target with commas."
            )


def _check_labels(labels: Sequence[Any] | None) -> list[Any] | None:
    if labels is None:
        return None
    names = list(labels)
    seen: set[Any] = set()
    duplicated = [name for name in names if name in seen or seen.add(name)]  # type: ignore[func-returns-value]
    if duplicated:
        raise ValueError(
            f"labels= names {sorted(map(str, set(duplicated)))} more than once; each class needs one name "
            "(the position of a name is its class index)."
        )
    return names


def _refuse_continuous(values: list[Any], where: str) -> None:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(values) or not numbers:
        return
    fractional = [v for v in numbers if not float(v).is_integer()]
    distinct = len(set(numbers))
    many = distinct > CONTINUOUS_MIN_VALUES and len(numbers) < CONTINUOUS_ROWS_PER_VALUE * distinct
    class_codes = not fractional and min(numbers) == 0 and max(numbers) == distinct - 1
    many = many and not class_codes
    if fractional or many:
        reason = (
            f"has fractional values (e.g. {fractional[:3]})"
            if fractional
            else f"has {distinct} distinct numbers in {len(numbers)} rows (more than {CONTINUOUS_MIN_VALUES} values, "
            f"fewer than {CONTINUOUS_ROWS_PER_VALUE} rows per value, and not the class codes 0..{distinct - 1})"
        )
        raise ValueError(
            f"{where}: the target {reason}, so it looks like a continuous quantity, not classes. For numbers to "
            "predict use tabular_regression (TabularRegressor); to classify, bin them into classes first, or pass "
            "labels=[...] naming the classes to train a classifier on these values anyway."
        )


class Targets:
    """The reading of a classification target: its label names, single- or multi-label, and its form (one of
    ``index label one_hot multi_index multi_label comma space multi_hot soft``), so that every stage's targets
    are encoded the way the training targets were read."""

    def __init__(
        self,
        labels: Sequence[Any],
        multi_label: bool,
        one_hot: bool = False,
        form: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.labels = _check_labels(labels) or []
        self.multi_label = multi_label
        self.form = form or ("one_hot" if one_hot else ("multi_label" if multi_label else "label"))
        self.one_hot = self.form == "one_hot"
        self.delimiter = delimiter  # multi-label strings are split on it (" ": any whitespace)
        self._index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def infer(
        cls,
        targets: Any,
        labels: Sequence[Any] | None = None,
        where: str | None = None,
        multi_label: bool | None = None,
        delimiter: str | None = "auto",
    ) -> Targets:
        """Read training targets in any form (see the module docstring).

        Args:
            targets: the targets, one per sample.
            labels: class names in class-index order (fixes names and order; refused if a name repeats).
            where: the training data's name; with it, fewer than two classes is an error.
            multi_label: True reads one-hot rows as multi-label; False refuses multi-label forms and never splits
                strings.
            delimiter: ``"auto"`` (Flash: split strings on commas if any has one, else on whitespace if any has
                some), a delimiter, or None (each string is one label).
        """
        name = where or "the targets"
        labels = _check_labels(labels)
        rows = as_python(targets)
        if not rows:
            raise ValueError(f"{name} has no targets.")
        _check_present(rows, name)
        if multi_label is False:
            delimiter = None
        if labels is not None and delimiter == "auto" and all(isinstance(r, str) and r in labels for r in rows):
            delimiter = None  # every string is one of the given labels ("New York"): nothing to split
        form = _reduce({_row_kind(row, delimiter) for row in rows}, name)
        if form == "delimited":
            form = "multi_label"
        split_on = {"comma": ",", "space": " "}.get(form, delimiter if delimiter != "auto" else None)
        if form == "continuous" and labels is not None:
            form = "index"  # the user named the classes
        if form == "continuous" or (form == "index" and labels is None):
            _refuse_continuous([_number(r[0] if isinstance(r, (list, tuple)) else r) for r in rows], name)
        if form == "one_hot" and multi_label:
            form = "multi_hot"
        if multi_label is False and form in _MULTI:
            raise ValueError(
                f"multi_label=False, but {name} are multi-label ({form.replace('_', ' ')}: e.g. {rows[0]!r})."
            )
        if form == "space":
            _refuse_phrases_read_as_labels(rows, name)
            warnings.warn(
                f"{name}: strings with spaces are read as space-delimited multi-label targets, as Flash read them "
                f"(e.g. {next(r for r in rows if ' ' in r.strip())!r}); pass multi_label=False or labels=[...] to "
                "keep each string one label.",
                UserWarning,
                stacklevel=3,
            )
        targets_read = cls(labels or [], form in _MULTI, form=form, delimiter=split_on)
        if form in _ROWS:
            width = len(rows[0])
            if any(len(row) != width for row in rows):
                raise ValueError(
                    f"{name}: 0/1 target rows must all have the same length; got lengths "
                    f"{sorted({len(row) for row in rows})[:5]}."
                )
            if form == "soft" and any(not 0.0 <= v <= 1.0 for row in rows for v in row):
                raise ValueError(f"{name}: soft targets must lie between 0 and 1.")
            if labels is not None and len(labels) != width:
                raise ValueError(f"{name} have {width} columns but {len(labels)} labels were given.")
            names = labels if labels is not None else list(range(width))
        else:
            names = (
                labels
                if labels is not None
                else sorted({v for row in rows for v in targets_read._tokens(row)}, key=lambda v: (type(v).__name__, v))
            )
        targets_read = cls(names, form in _MULTI, form=form, delimiter=split_on)
        if where is not None and len(names) < 2:
            raise ValueError(
                f"{where} has only {len(names)} class(es) ({names}): a classifier needs at least two. Add examples "
                "of the other classes, or check that the target column is the right one."
            )
        return targets_read

    def _tokens(self, row: Any) -> list[Any]:
        """The class names of one sample (single-label: a list of one)."""
        if isinstance(row, str):
            if not self.multi_label or self.delimiter is None:
                return [row.strip() if self.multi_label else row]
            parts = row.split(None if self.delimiter == " " else self.delimiter)
            return [part.strip() for part in parts if part.strip()]
        if isinstance(row, (list, tuple, set, frozenset)):
            return [_number(v) for v in row]
        return [_number(row)]

    def encode(self, targets: Any, where: str) -> torch.Tensor:
        """Class indices (single-label), multi-hot float rows (multi-label) or soft rows, for any stage's targets."""
        rows = as_python(targets)
        _check_present(rows, where)
        if self.form in _ROWS:
            if any(not isinstance(row, (list, tuple)) or len(row) != len(self.labels) for row in rows):
                raise ValueError(f"{where}: expected rows of {len(self.labels)} 0/1 values, as in training.")
            values = torch.tensor(rows, dtype=torch.float32)
            if self.multi_label:
                return values
            if not bool((values.sum(1) == 1).all()):
                raise ValueError(f"{where}: the training targets were one-hot (single-label); these rows are not.")
            return values.argmax(dim=1)
        tokens = [self._tokens(row) for row in rows]
        unknown = sorted({str(value) for row in tokens for value in row if value not in self._index})
        if unknown:
            raise ValueError(
                f"{where} has labels not seen in training: {unknown[:5]}. Known labels: {self.labels[:20]}."
            )
        if not self.multi_label:
            if any(len(row) != 1 for row in tokens):
                raise ValueError(f"{where}: the training targets were single-label; some of these have several.")
            return torch.tensor([self._index[row[0]] for row in tokens], dtype=torch.long)
        encoded = torch.zeros(len(tokens), len(self.labels))
        for i, row in enumerate(tokens):
            encoded[i, [self._index[value] for value in row]] = 1.0
        return encoded


def dataset_targets(dataset: Any) -> torch.Tensor | None:
    """The encoded targets of a task dataset (following ``Subset`` indices), or None when it has none."""
    from torch.utils.data import Subset

    if isinstance(dataset, Subset):
        inner = dataset_targets(dataset.dataset)
        return None if inner is None else inner[torch.as_tensor(list(dataset.indices), dtype=torch.long)]
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return None
    return targets if isinstance(targets, torch.Tensor) else torch.as_tensor(targets)
