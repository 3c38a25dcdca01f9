"""Flash's optimization page: configure_optimizers() before a trainer exists, in Flash's ([optimizers],
[scheduler configs]) form, and every scheduler name either built at construction or refused there (before,
"constant_schedule" was accepted and crashed at fit)."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.optimization import SchedulerChoice, available_lr_schedulers


def classifier(**kwargs):
    return ImageClassifier("test_resnet", num_classes=2, pretrained=False, **kwargs)


def test_configure_optimizers_before_a_trainer_exists():
    optimizer = classifier(optimizer="Adam", lr_scheduler=None, learning_rate=1e-4).configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 1e-4
    optimizers, schedulers = classifier(
        optimizer="Adam", lr_scheduler=("StepLR", {"step_size": 10})
    ).configure_optimizers()
    assert isinstance(optimizers[0], torch.optim.Adam) and schedulers[0]["scheduler"].step_size == 10
    cyclic = partial(torch.optim.lr_scheduler.CyclicLR, base_lr=0.001, max_lr=0.1, mode="exp_range", gamma=0.5)
    scheduler = classifier(optimizer="SGD", lr_scheduler=cyclic).configure_optimizers()[1][0]["scheduler"]
    assert (scheduler.mode, scheduler.gamma) == ("exp_range", 0.5)
    plateau = ("reducelronplateau", {"mode": "max"}, {"monitor": "val_accuracy"})
    assert classifier(lr_scheduler=plateau).configure_optimizers()[1][0]["monitor"] == "val_accuracy"
    with pytest.warns(UserWarning, match="lr_scheduler 'onecycle' is sized by the run's length"):
        alone = classifier(optimizer="Adam", lr_scheduler="onecycle").configure_optimizers()
    assert isinstance(alone, torch.optim.Adam)


def test_constant_schedule_is_built_and_trains():
    model = classifier(optimizer="Adam", learning_rate=1e-4, lr_scheduler="constant_schedule")
    assert model.configure_optimizers()[1][0]["scheduler"].get_last_lr() == [1e-4]
    data = ImageClassificationData.from_tensors(
        train_data=torch.randint(0, 255, (4, 3, 16, 16), dtype=torch.uint8), train_targets=[0, 1, 0, 1], batch_size=2
    )
    trainer = Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 1


def test_every_scheduler_name_is_built_at_construction_or_refused_there():
    for name in available_lr_schedulers():
        try:
            choice = SchedulerChoice.parse(name)
        except (TypeError, ValueError) as error:  # needs arguments only the user knows, e.g. StepLR's step_size
            assert "needs [" in str(error) or "cannot be built with {}" in str(error), (name, error)
            continue
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        assert choice is not None and choice.build(probe, 10, 2, ("val_loss", "min"))["scheduler"] is not None, name
    with pytest.raises(
        ValueError, match=r"lr_scheduler 'cosineannealingwarmrestarts' cannot be built with \{'T_0': 0\}"
    ):
        SchedulerChoice.parse(("CosineAnnealingWarmRestarts", {"T_0": 0}))
