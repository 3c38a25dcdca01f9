"""One reading of classification targets for every input form (Flash's classification_targets.rst, nine forms)."""

import numpy as np
import pandas as pd
import pytest
import torch

from flashtrain.tasks.targets import Targets

# (targets, form, labels, multi_label, first two encoded rows), from Flash's classification_targets.rst
FLASH_FORMS = [
    ([0, 1, 0], "index", [0, 1], False, [0, 1]),
    (["cat", "dog", "cat"], "label", ["cat", "dog"], False, [0, 1]),
    ([[1, 0], [0, 1], [1, 0]], "one_hot", [0, 1], False, [0, 1]),
    ([[0], [0, 1], [1, 2]], "multi_index", [0, 1, 2], True, [[1, 0, 0], [1, 1, 0]]),
    (
        [["cat"], ["cat", "dog"], ["dog", "rabbit"]],
        "multi_label",
        ["cat", "dog", "rabbit"],
        True,
        [[1, 0, 0], [1, 1, 0]],
    ),
    (["cat", "cat,dog", "dog,rabbit"], "comma", ["cat", "dog", "rabbit"], True, [[1, 0, 0], [1, 1, 0]]),
    (["cat", "cat dog", "dog rabbit"], "space", ["cat", "dog", "rabbit"], True, [[1, 0, 0], [1, 1, 0]]),
    ([[1, 0, 0], [1, 1, 0], [0, 1, 1]], "multi_hot", [0, 1, 2], True, [[1, 0, 0], [1, 1, 0]]),
    ([[0.1, 0, 0], [0.9, 0.7, 0], [0, 0.5, 0.6]], "soft", [0, 1, 2], True, [[0.1, 0, 0], [0.9, 0.7, 0]]),
]


def input_forms(values):
    """The same values as a list, a tuple, a NumPy array, a tensor, a pandas Series and (for rows) a DataFrame."""
    forms = [list(values), tuple(values), pd.Series(values)]
    ragged = isinstance(values[0], list) and len({len(v) for v in values}) > 1
    if ragged or isinstance(values[0], str) or (isinstance(values[0], list) and isinstance(values[0][0], str)):
        forms.append(np.array(values, dtype=object))
    else:
        forms += [np.array(values), torch.tensor(values)]
        if isinstance(values[0], list):
            forms.append(pd.DataFrame(values))
    return forms


@pytest.mark.filterwarnings("ignore:.*space-delimited")
@pytest.mark.parametrize(
    ("values", "form", "labels", "multi_label", "encoded"), FLASH_FORMS, ids=[f[1] for f in FLASH_FORMS]
)
def test_every_flash_form_reads_the_same_from_every_input_type(values, form, labels, multi_label, encoded):
    for given in input_forms(values):
        read = Targets.infer(given, where="the training data")
        assert (read.form, read.labels, read.multi_label) == (form, labels, multi_label), type(given)
        assert torch.allclose(read.encode(given, "train").float()[:2], torch.tensor(encoded).float())


@pytest.mark.parametrize(
    ("values", "form", "labels", "multi_label", "encoded"), FLASH_FORMS, ids=[f[1] for f in FLASH_FORMS]
)
def test_given_labels_name_the_classes_of_every_form(values, form, labels, multi_label, encoded):
    names = [f"class{i}" for i in range(len(labels))]
    if form in ("label", "multi_label", "comma", "space"):
        names = list(reversed(labels))  # names ARE the labels: given labels fix their order
    with pytest.warns(UserWarning) if form == "space" else _nothing():
        read = Targets.infer(values, labels=names if form not in ("index", "multi_index") else None)
    assert read.multi_label == multi_label


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def test_class_names_with_spaces_and_symbols_are_refused_not_split_into_labels():
    phrases = ["science & health", "sports", "science & health", "arts - culture"]
    with pytest.raises(ValueError, match=r"'science & health' would be split on spaces.*Pass multi_label=False"):
        Targets.infer(phrases, where="train")
    kept = Targets.infer(phrases, where="train", multi_label=False)
    assert not kept.multi_label and kept.labels == ["arts - culture", "science & health", "sports"]
    named = Targets.infer(phrases, where="train", labels=["science & health", "sports", "arts - culture"])
    assert not named.multi_label


def test_space_delimited_strings_are_multi_label_and_said_so():
    with pytest.warns(UserWarning, match="space-delimited multi-label"):
        read = Targets.infer(["cat", "cat dog", "dog rabbit"], where="the training data")
    assert read.multi_label
    # labels naming every string, or multi_label=False, keep each string one label
    whole = Targets.infer(["New York", "Paris", "New York"], labels=["New York", "Paris"])
    assert not whole.multi_label and whole.encode(["Paris", "New York"], "val").tolist() == [1, 0]
    assert not Targets.infer(["New York", "Paris"], multi_label=False).multi_label


def test_one_hot_list_and_array_agree_and_multi_hot_list_is_three_classes():
    as_list = Targets.infer([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    as_array = Targets.infer(np.eye(3, dtype=int))
    assert (as_list.form, as_list.labels, as_list.multi_label) == ("one_hot", [0, 1, 2], False)
    assert (as_array.form, as_array.labels, as_array.multi_label) == ("one_hot", [0, 1, 2], False)
    multi_hot = Targets.infer([[1, 0, 0], [1, 1, 0], [0, 1, 1]])
    assert multi_hot.labels == [0, 1, 2] and multi_hot.multi_label


@pytest.mark.parametrize(
    "given",
    [
        [0, None, 1, 0],
        np.array([0.0, np.nan, 1.0, 0.0]),
        torch.tensor([0.0, float("nan"), 1.0, 0.0]),
        pd.Series(["a", None, "b", "a"]),
        pd.DataFrame({"a": [1, np.nan, 0, 1], "b": [0, 1, 1, 0]}),
        [["a"], ["b", None], ["a"], ["b"]],
    ],
    ids=["list", "numpy", "tensor", "series", "frame", "lists"],
)
def test_missing_targets_from_any_input_form_name_their_rows(given):
    with pytest.raises(ValueError, match=r"1 sample\(s\) have no target \(None or NaN\): rows \[1\]"):
        Targets.infer(given, where="the training data")
    read = Targets.infer([0, 1, 1, 0] if not isinstance(given, list) or given[0] != ["a"] else [["a"], ["b"]])
    with pytest.raises(ValueError, match=r"val targets: 1 sample\(s\) have no target .*rows \[1\]"):
        read.encode(given, "val targets")


def test_duplicate_label_names_are_refused():
    with pytest.raises(ValueError, match=r"labels= names \['cat'\] more than once"):
        Targets.infer(["cat", "dog"], labels=["cat", "dog", "cat"])


def test_continuous_target_is_refused_with_the_regression_task_named():
    from sklearn.datasets import load_diabetes

    with pytest.raises(ValueError, match=r"214 distinct numbers in 442 rows .* use tabular_regression"):
        Targets.infer(load_diabetes().target, where="the training data")
    with pytest.raises(ValueError, match=r"fractional values .* use tabular_regression"):
        Targets.infer([0.5, 1.25, 0.5], where="the training data")
    # naming the classes is the way to classify such values anyway; class indexes of many classes are fine
    assert len(Targets.infer([0.5, 1.25, 0.5], labels=[0.5, 1.25]).labels) == 2
    assert len(Targets.infer(list(range(100)) * 5).labels) == 100


def test_tabular_classifier_refuses_the_diabetes_target():
    from sklearn.datasets import load_diabetes

    from flashtrain.tasks import TabularClassificationData

    frame = load_diabetes(as_frame=True).frame
    with pytest.raises(ValueError, match="target column 'target'.*use tabular_regression"):
        TabularClassificationData.from_data_frame(
            numerical_fields=["age", "bmi"], target_fields="target", train_data_frame=frame
        )


def test_text_and_image_data_read_space_delimited_targets_as_multi_label(tmp_path):
    from PIL import Image

    from flashtrain.tasks import ImageClassificationData, TextClassificationData

    with pytest.warns(UserWarning, match="space-delimited"):
        text = TextClassificationData.from_lists(["a b", "c d", "e f"], ["cat", "cat dog", "dog rabbit"])
    assert text.multi_label and text.labels == ["cat", "dog", "rabbit"]
    files = []
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
        files.append(str(tmp_path / f"{i}.png"))
    with pytest.warns(UserWarning, match="space-delimited"):
        image = ImageClassificationData.from_files(train_files=files, train_targets=["cat", "cat dog", "dog rabbit"])
    assert image.multi_label and image.labels == ["cat", "dog", "rabbit"]
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        ImageClassificationData.from_files(train_files=files, train_targets=np.array([0.0, np.nan, 1.0]))


def test_few_shot_class_codes_0_to_k_minus_1_are_classes_but_gaps_or_offsets_are_not():
    # 60 classes with 2 examples each, coded 0..59 (every code present): a few-shot set, read as 60 classes.
    codes = list(range(60)) * 2
    for form in (codes, np.asarray(codes), torch.tensor(codes), pd.Series(codes)):
        read = Targets.infer(form, where="the training data")
        assert read.labels == list(range(60)) and not read.multi_label
    # The same count of values shifted by one (1..60), or with one code missing, still reads as a quantity.
    with pytest.raises(ValueError, match=r"60 distinct numbers in 120 rows .*not the class codes 0\.\.59"):
        Targets.infer([c + 1 for c in codes], where="the training data")
    with pytest.raises(ValueError, match="use tabular_regression"):
        Targets.infer([c for c in codes if c != 30] + [61, 61], where="the training data")
