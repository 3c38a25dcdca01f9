"""Flash's registry spellings and class methods: @ImageClassifier.backbones(name=...), @Task.lr_schedulers_registry,
available_finetuning_strategies / available_pretrained_weights / TextClassifier.available_backbones, and the
tabular backbone names of Flash (fttransformer; the others mapped to our closest with a warning)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import torch

from flashtrain.tasks import ImageClassifier, TabularClassificationData, TabularClassifier, TextClassifier
from flashtrain.tasks.flash_registry import IMAGE_BACKBONES, LR_SCHEDULERS


def test_backbone_and_scheduler_registration():
    try:

        @ImageClassifier.backbones(name="test_flash_net")
        def net(pretrained=True, width=6):
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(width)), width

        @ImageClassifier.lr_schedulers_registry
        def test_flash_steplr_recipe(optimizer):
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)

        model = ImageClassifier(
            backbone="test_flash_net",
            num_classes=2,
            backbone_kwargs={"width": 5},
            lr_scheduler="test_flash_steplr_recipe",
        )
        assert model.head.in_features == 5 and "test_flash_net" in ImageClassifier.available_backbones("test_flash")
        assert model.configure_optimizers()[1][0]["scheduler"].step_size == 10
        assert "test_flash_steplr_recipe" in ImageClassifier.available_lr_schedulers()
        with pytest.raises(ValueError, match="image backbone 'test_flash_net' is already registered"):
            ImageClassifier.backbones(net, name="test_flash_net")
    finally:
        IMAGE_BACKBONES.functions.pop("test_flash_net", None)
        LR_SCHEDULERS.functions.pop("test_flash_steplr_recipe", None)


def test_available_class_methods():
    assert ImageClassifier.available_finetuning_strategies() == [
        "no_freeze",
        "freeze",
        "freeze_unfreeze",
        "unfreeze_milestones",
    ]
    assert "a1_in1k" in ImageClassifier.available_pretrained_weights("resnet18")
    assert "prajjwal1/bert-medium" in TextClassifier.available_backbones("bert-medium")


def test_flash_tabular_backbone_names():
    frame = pd.DataFrame({"c": ["a", "b"] * 8, "x": range(16), "y": [0, 1] * 8})
    data = TabularClassificationData.from_data_frame("c", "x", "y", train_data_frame=frame, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exact alias says nothing
        same = TabularClassifier.from_data(data, backbone="fttransformer")
    assert type(same.backbone).__name__ == "FTTransformer"
    for flash_name, ours in [
        ("tabtransformer", "FTTransformer"),
        ("category_embedding", "TabularMLP"),
        ("node", "TabularResNet"),
        ("gate", "TabularResNet"),
        ("autoint", "FTTransformer"),
    ]:
        with pytest.warns(UserWarning, match=f"Tabular backbone '{flash_name}' .* is not implemented here"):
            model = TabularClassifier.from_data(data, backbone=flash_name)
        assert type(model.backbone).__name__ == ours
