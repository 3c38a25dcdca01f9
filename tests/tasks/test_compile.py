"""``compile=True`` for every task (the Task base compiles the backbone when fit starts, in place): text and tabular
as for images. Channels-last stays an image option (convolutional backbones only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from flashtrain.core import seed_everything
from flashtrain.tasks import TabularClassificationData, TabularClassifier
from tests.core.helpers import quiet_trainer


def _fit(model, data) -> None:
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0).fit(model, datamodule=data)


def _record_compiling(module: torch.nn.Module) -> list[bool]:
    """Whether the forward passes of ``module`` ran under torch.compile (a forward hook, traced into the graph)."""
    seen: list[bool] = []
    module.register_forward_hook(lambda *_: seen.append(torch.compiler.is_compiling()))
    return seen


def _table() -> TabularClassificationData:
    frame = pd.DataFrame({"x": np.linspace(-1, 1, 32), "c": ["a", "b"] * 16, "y": ["neg"] * 16 + ["pos"] * 16})
    return TabularClassificationData.from_data_frame("c", "x", "y", train_data_frame=frame, batch_size=8)


def test_compile_must_be_true_or_false():
    with pytest.raises(TypeError, match="compile must be True or False, got 'yes' of type str"):
        TabularClassifier.from_data(_table(), compile="yes")


def test_compile_is_off_by_default_and_kept_in_the_hyperparameters():
    data = _table()
    assert TabularClassifier.from_data(data).compile_backbone is False
    model = TabularClassifier.from_data(data, compile=True)
    assert model.compile_backbone is True and model.hparams["compile"] is True


@pytest.mark.slow  # torch.compile on CPU: inductor writes and builds C++ (tens of seconds on a loaded machine)
def test_tabular_backbone_trains_compiled():
    seed_everything(0)
    data = _table()
    tabular = TabularClassifier.from_data(data, compile=True)
    names = set(tabular.state_dict())
    seen = _record_compiling(tabular.backbone)
    _fit(tabular, data)
    assert seen and all(seen)  # every training forward went through the compiled backbone
    assert set(tabular.state_dict()) == names  # compiled in place: checkpoints keep their parameter names


@pytest.mark.slow  # as above
def test_text_encoder_trains_compiled(tmp_path):
    from flashtrain.tasks import TextClassificationData, TextClassifier
    from tests.tasks.text.tiny_model import make_tiny_bert

    texts = TextClassificationData.from_lists(["good film", "bad film", "great plot", "awful plot"] * 4, ["p", "n"] * 8)
    text = TextClassifier(backbone=make_tiny_bert(tmp_path / "bert"), labels=texts.labels, compile=True)
    seen = _record_compiling(text.backbone)
    _fit(text, texts)
    assert seen and all(seen)
    assert not any("_orig_mod" in name for name in text.state_dict())
