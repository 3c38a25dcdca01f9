"""loss_fn, class weights, label smoothing and metrics= for the tasks."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.losses import ClassificationLoss


def quiet(**kwargs):
    return Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, **kwargs)


def test_balanced_class_weights_follow_the_training_counts():
    images = torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(train_data=images, train_targets=[0] * 6 + [1] * 2, batch_size=4)
    model = ImageClassifier("test_resnet", labels=data.labels, pretrained=False, class_weights="balanced")
    quiet(max_epochs=1).fit(model, datamodule=data)
    # n / (k * count): 8 / (2 * 6) and 8 / (2 * 2)
    assert model.hparams["class_weights"] == pytest.approx([0.666667, 2.0])
    logits, targets = torch.tensor([[2.0, 0.0]]), torch.tensor([1])
    expected = torch.nn.functional.cross_entropy(
        logits, targets, weight=torch.tensor([2 / 3, 2.0]), label_smoothing=0.1
    )
    assert model.criterion(logits, targets) == pytest.approx(float(expected))


def test_multi_label_balanced_weights_are_positive_weights():
    loss = ClassificationLoss(None, 2, True, "balanced", 0.0)
    loss.set_counts(torch.tensor([1.0, 3.0]), 4)  # label 0 on 1 of 4 samples, label 1 on 3 of 4
    assert loss.weights_list() == pytest.approx([3.0, 1 / 3], rel=1e-5)


def test_custom_loss_and_named_losses_and_errors():
    calls = []

    def my_loss(logits, targets):
        calls.append(len(targets))
        return torch.nn.functional.cross_entropy(logits, targets)

    model = ImageClassifier("test_resnet", num_classes=2, pretrained=False, loss_fn=my_loss)
    model.criterion(torch.zeros(3, 2), torch.tensor([0, 1, 0]))
    assert calls == [3]
    focal = ClassificationLoss("focal", 3, False, None, 0.0)
    assert focal(torch.zeros(2, 3), torch.tensor([0, 2])) > 0
    with pytest.raises(ValueError, match="Unknown loss_fn 'hinge'. Allowed: None"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, loss_fn="hinge")
    with pytest.raises(ValueError, match="class_weights needs 2 non-negative numbers"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, class_weights=[1.0])
    with pytest.raises(ValueError, match="put the weights into your loss_fn"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, loss_fn=my_loss, class_weights=[1.0, 2.0])


def test_metrics_are_logged_per_stage_and_multi_label_gets_f1():
    import torchmetrics

    images = torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(
        train_data=images, train_targets=[0, 1] * 4, val_data=images[:4], val_targets=[0, 1, 0, 1], batch_size=4
    )
    model = ImageClassifier(
        "test_resnet",
        labels=data.labels,
        pretrained=False,
        metrics=["f1", torchmetrics.classification.MulticlassPrecision(num_classes=2)],
    )
    trainer = quiet(max_epochs=1)
    trainer.fit(model, datamodule=data)
    assert {"val_acc", "val_f1", "val_multiclass_precision", "train_f1"} <= set(trainer.callback_metrics)
    multi = ImageClassifier("test_resnet", num_classes=3, pretrained=False, multi_label=True)
    assert set(multi.val_metrics) == {"acc", "f1"}
    with pytest.raises(ValueError, match="Unknown classification metric 'f2'"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, metrics="f2")
