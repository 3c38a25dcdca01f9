"""``ToyRegressor``: y = a * x + b, one linear layer on the regression base."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks import registry
from flashtrain.tasks.task import RegressionTask


class ToyRegressor(RegressionTask):
    task_name = "toy_regression"
    recipe = registry.defaults(task_name)
    default_max_epochs = recipe["max_epochs"]

    def __init__(
        self,
        *,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        optimizer: Any = recipe["optimizer"],
        lr_scheduler: Any = recipe["lr_scheduler"],
        learning_rate: float = recipe["learning_rate"],
        metrics: Any = None,
        weight_averaging: Any = None,
    ) -> None:
        super().__init__(
            target_names=["y"],
            target_means=[target_mean],
            target_stds=[target_std],
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            metrics=metrics,
            weight_averaging=weight_averaging,
        )
        self.backbone = torch.nn.Linear(1, 1)
        self.head = torch.nn.Identity()
        self.save_task_hyperparameters()
