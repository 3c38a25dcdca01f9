"""Optimizers and schedules by name and in Flash's tuple forms; every wrong form fails when the task is built."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.optimization import (
    OptimizerChoice,
    SchedulerChoice,
    available_lr_schedulers,
    available_optimizers,
)


def _optimizer(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def test_any_torch_optimizer_by_name_or_tuple():
    assert {"adam", "adamw", "sgd", "rmsprop", "nadam", "radam", "adagrad"} <= set(available_optimizers())
    params = [torch.nn.Parameter(torch.zeros(2))]
    built = OptimizerChoice.parse(("Adam", {"betas": (0.8, 0.9), "weight_decay": 0.01}))(params, 0.01)
    assert isinstance(built, torch.optim.Adam)
    assert built.param_groups[0]["betas"] == (0.8, 0.9) and built.param_groups[0]["weight_decay"] == 0.01
    assert OptimizerChoice.parse("SGD")(params, 0.1).param_groups[0]["momentum"] == 0.9  # Flash's default
    assert OptimizerChoice.parse(("sgd", {"momentum": 0.0}))(params, 0.1).param_groups[0]["momentum"] == 0.0
    assert isinstance(OptimizerChoice.parse(torch.optim.RMSprop)(params, 0.1), torch.optim.RMSprop)


def test_bad_optimizers_fail_at_construction():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'. Allowed: .*adamw"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, optimizer="adamm")
    with pytest.raises(TypeError, match=r"Adam optimizer has no argument\(s\) \['momentum'\]"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, optimizer=("Adam", {"momentum": 0.9}))
    with pytest.raises(TypeError, match="the arguments must be a dict"):
        OptimizerChoice.parse(("adam", 0.9))


@pytest.mark.parametrize(
    ("choice", "kind", "interval"),
    [
        (("StepLR", {"step_size": 10}), torch.optim.lr_scheduler.StepLR, "epoch"),
        (("steplr", {"step_size": 2}, {"interval": "step"}), torch.optim.lr_scheduler.StepLR, "step"),
        ("onecycle", torch.optim.lr_scheduler.OneCycleLR, "step"),
        ("OneCycleLR", torch.optim.lr_scheduler.OneCycleLR, "step"),
        ("CosineAnnealingLR", torch.optim.lr_scheduler.CosineAnnealingLR, "epoch"),
        (("ExponentialLR", {"gamma": 0.9}), torch.optim.lr_scheduler.ExponentialLR, "epoch"),
        ({"name": "MultiStepLR", "milestones": [2, 4]}, torch.optim.lr_scheduler.MultiStepLR, "epoch"),
        ("cosine_schedule_with_warmup", torch.optim.lr_scheduler.LambdaLR, "step"),
    ],
)
def test_schedules_are_what_was_asked_for(choice, kind, interval):
    built = SchedulerChoice.parse(choice).build(
        _optimizer(), total_steps=100, total_epochs=5, monitor=("val_acc", "max")
    )
    assert type(built["scheduler"]) is kind and built["interval"] == interval
    if kind is torch.optim.lr_scheduler.StepLR:
        assert built["scheduler"].step_size == choice[1]["step_size"]  # not silently another schedule
    if kind is torch.optim.lr_scheduler.OneCycleLR:
        assert built["scheduler"].total_steps == 100
    if kind is torch.optim.lr_scheduler.CosineAnnealingLR:
        assert built["scheduler"].T_max == 5  # per epoch: the run's epochs


def test_transformers_warmup_fraction_and_plateau_mode():
    optimizer = _optimizer(1.0)
    built = SchedulerChoice.parse(("linear_schedule_with_warmup", {"num_warmup_steps": 0.1})).build(
        optimizer, total_steps=100, total_epochs=1, monitor=("val_acc", "max")
    )
    scheduler = built["scheduler"]
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 0.0 and max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 10  # 10% warm-up
    plateau = SchedulerChoice.parse("ReduceLROnPlateau").build(_optimizer(), 10, 1, ("val_acc", "max"))
    assert plateau["scheduler"].mode == "max" and plateau["monitor"] == "val_acc"


def test_bad_schedules_fail_at_construction_with_the_allowed_forms():
    assert {"onecycle", "steplr", "onecyclelr", "cosine_schedule_with_warmup"} <= set(available_lr_schedulers())
    with pytest.raises(TypeError, match=r"StepLR scheduler needs \['step_size'\]"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, lr_scheduler="StepLR")
    with pytest.raises(ValueError, match=r"Unknown lr_scheduler 'stepp'. Allowed: .*steplr"):
        ImageClassifier("test_resnet", num_classes=2, pretrained=False, lr_scheduler="stepp")
    with pytest.raises(TypeError, match=r"StepLR scheduler has no argument\(s\) \['steps'\]"):
        SchedulerChoice.parse(("StepLR", {"steps": 3}))
    with pytest.raises(ValueError, match="interval must be 'epoch' or 'step'"):
        SchedulerChoice.parse(("StepLR", {"step_size": 3}, {"interval": "batch"}))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['every'\]"):
        SchedulerChoice.parse(("StepLR", {"step_size": 3}, {"every": 2}))
    assert ImageClassifier.available_lr_schedulers() == available_lr_schedulers()
    assert "adamw" in ImageClassifier.available_optimizers()


def test_a_step_lr_run_follows_its_steps():
    """StepLR(step_size=1, gamma=0.5) per epoch: after 2 epochs the rate is a quarter (it used to be linear decay)."""
    images = torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1] * 4, batch_size=4)
    model = ImageClassifier(
        "test_resnet",
        labels=data.labels,
        pretrained=False,
        optimizer="sgd",
        lr_scheduler=("StepLR", {"step_size": 1, "gamma": 0.5}),
        learning_rate=0.1,
    )
    trainer = Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=data)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.025)
