"""flashtrain.core.metrics: Lightning 1.x's pl.metrics spellings on torchmetrics, the task read from the first batch."""

from __future__ import annotations

import pytest
import torch

torchmetrics = pytest.importorskip("torchmetrics")

from flashtrain.core import metrics  # noqa: E402

SCORES = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
TARGET = torch.tensor([0, 1, 1, 2])


def test_scores_of_shape_n_c_are_multiclass_with_c_classes_and_1x_micro_average():
    accuracy = metrics.Accuracy()
    with pytest.warns(FutureWarning, match=r"write torchmetrics.Accuracy\(task='multiclass', num_classes=3, average"):
        batch_value = accuracy(SCORES, TARGET)
    expected = torchmetrics.Accuracy(task="multiclass", num_classes=3, average="micro")(SCORES, TARGET)
    assert torch.equal(batch_value, expected) and torch.equal(accuracy.compute(), expected)  # 2 of 4 right


def test_scores_shaped_like_the_target_are_binary_or_multilabel():
    binary = metrics.Precision()
    with pytest.warns(FutureWarning, match=r"torchmetrics.Precision\(task='binary'\)"):
        binary.update(torch.tensor([0.9, 0.2, 0.8, 0.1]), torch.tensor([1, 0, 0, 0]))
    assert float(binary.compute()) == 0.5
    multilabel = metrics.Recall()
    with pytest.warns(FutureWarning, match=r"task='multilabel', num_labels=2"):
        multilabel.update(torch.tensor([[0.9, 0.2], [0.8, 0.7]]), torch.tensor([[1, 1], [1, 1]]))
    assert float(multilabel.compute()) == 0.75


def test_accuracy_of_class_labels_without_num_classes_is_the_fraction_of_exact_matches():
    accuracy = metrics.Accuracy()
    with pytest.warns(FutureWarning, match="counts exact matches"):
        accuracy.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2]))
    accuracy.update(torch.tensor([5, 0]), torch.tensor([5, 1]))  # a class not seen before: still exact
    assert float(accuracy.compute()) == pytest.approx(4 / 6)
    accuracy.reset()
    accuracy.update(torch.tensor([1]), torch.tensor([1]))
    assert float(accuracy.compute()) == 1.0


def test_other_metrics_refuse_class_labels_without_num_classes():
    with pytest.raises(ValueError, match=r"F1\(\) got class labels without num_classes.*F1\(num_classes=N\)"):
        metrics.F1().update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    f1 = metrics.F1(num_classes=3)
    with pytest.warns(FutureWarning, match=r"torchmetrics.F1Score\(task='multiclass', num_classes=3"):
        f1.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2]))
    assert float(f1.compute()) == 0.75


def test_compute_before_any_update_says_so():
    with pytest.warns(UserWarning, match="called before"), pytest.raises(RuntimeError, match=r"before any update"):
        metrics.Accuracy().compute()


def test_custom_metrics_with_add_state_work_as_in_1x():
    class SumOfSquares(metrics.Metric):
        def __init__(self):
            super().__init__()
            self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

        def update(self, values):
            self.total += (values**2).sum()

        def compute(self):
            return self.total

    metric = SumOfSquares()
    metric.update(torch.tensor([1.0, 2.0]))
    metric.update(torch.tensor([3.0]))
    assert float(metric.compute()) == 14.0


def test_functional_metrics_of_1x_read_the_task_and_warn_at_the_users_line():
    import flashtrain.core as pl  # as a 1.x tutorial ported by its import: pl.metrics.functional.accuracy(...)

    functional = pl.metrics.functional
    with pytest.warns(FutureWarning, match=r"torchmetrics.functional.accuracy\(preds, target, task='multiclass'") as w:
        value = functional.accuracy(SCORES, TARGET)
    assert w[0].filename == __file__
    assert torch.equal(value, torchmetrics.functional.accuracy(SCORES, TARGET, task="multiclass", num_classes=3))
    with pytest.warns(FutureWarning, match="counts exact matches"):
        assert float(functional.accuracy(torch.tensor([0, 1, 7]), torch.tensor([0, 1, 1]))) == pytest.approx(2 / 3)
    with pytest.warns(FutureWarning, match=r"torchmetrics.functional.f1_score\(preds, target, task='binary'\)"):
        f1 = functional.f1(torch.tensor([0.9, 0.2, 0.8, 0.1]), torch.tensor([1, 0, 0, 0]))
    assert float(f1) == pytest.approx(2 / 3)
    with pytest.warns(FutureWarning, match=r"auroc\(preds, target, task='multiclass', num_classes=3, average='macro'"):
        functional.auroc(SCORES, TARGET)
    with pytest.warns(FutureWarning, match="write torchmetrics.functional.r2_score"):
        assert float(functional.r2score(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))) == 1.0
    assert functional.mean_squared_error is torchmetrics.functional.mean_squared_error


def test_functional_metrics_refuse_labels_without_num_classes():
    with pytest.raises(ValueError, match=r"precision\(\) got class labels.*precision\(preds, target, num_classes=N\)"):
        metrics.functional.precision(torch.tensor([0, 1]), torch.tensor([0, 1]))
    with pytest.warns(FutureWarning, match="confusion_matrix"):
        matrix = metrics.functional.confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), num_classes=2)
    assert matrix.tolist() == [[1, 1], [0, 1]]
