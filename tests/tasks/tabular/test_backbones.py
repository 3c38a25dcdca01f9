"""Tabular backbones TabNet (pytorch-tabnet's encoder) and ResNet, embedding sizes, and Flash's spellings."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor
from flashtrain.tasks.tabular import SAMPLE_TABLE
from tests.tasks.tabular.test_model import PENGUIN_FIELDS


def quiet(**kwargs):
    return Trainer(
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, **kwargs
    )


@pytest.mark.parametrize("backbone", ["tabnet", "resnet"])
def test_new_backbones_learn_the_penguin_species(backbone):
    seed_everything(0)
    dm = TabularClassificationData.from_csv(*PENGUIN_FIELDS, train_file=SAMPLE_TABLE, val_split=0.2, batch_size=32)
    model = TabularClassifier.from_data(dm, backbone=backbone, lr_scheduler="onecycle", learning_rate=1e-2)
    trainer = quiet(max_epochs=12)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() >= 0.9  # 3 classes: chance is ~0.44
    if backbone == "tabnet":
        assert model.backbone.auxiliary_loss is not None and model.backbone.auxiliary_loss.item() > 0  # sparsity term


def test_embedding_sizes_target_field_alias_and_data_parameters():
    dm = TabularClassificationData.from_csv(
        PENGUIN_FIELDS[0], PENGUIN_FIELDS[1], target_field="species", train_file=SAMPLE_TABLE, batch_size=32
    )
    assert dm.data_parameters == dm.parameters and dm.labels == ["Adelie", "Chinstrap", "Gentoo"]
    model = TabularClassifier.from_data(dm, embedding_sizes={"island": 7})
    assert [e.embedding_dim for e in model.backbone.embeddings][0] == 7
    assert model.data_parameters == dm.parameters
    assert (
        TabularClassifier.from_data(dm, backbone="resnet", embedding_sizes=[3, 4]).backbone.embeddings[1].embedding_dim
        == 4
    )
    with pytest.raises(ValueError, match=r"embedding_sizes names \['colour'\], which are not categorical_fields"):
        TabularClassifier.from_data(dm, embedding_sizes={"colour": 3})
    with pytest.raises(ValueError, match="embedding_sizes does not apply to ft_transformer"):
        TabularClassifier.from_data(dm, backbone="ft_transformer", embedding_sizes=[3, 4])
    with pytest.raises(ValueError, match="Pass target_fields or target_field"):
        TabularClassificationData.from_csv(
            PENGUIN_FIELDS[0], PENGUIN_FIELDS[1], "species", target_field="species", train_file=SAMPLE_TABLE
        )
    assert TabularClassifier.available_backbones() == ["ft_transformer", "mlp", "resnet", "tabm", "tabnet"]


def test_regressor_on_tabnet_with_extra_metrics():
    seed_everything(0)
    table = pd.read_csv(SAMPLE_TABLE).dropna(subset=["body_mass_g"])
    dm = TabularRegressionData.from_data_frame(
        ["species", "sex"], ["flipper_length_mm"], "body_mass_g", train_data_frame=table, val_split=0.2, batch_size=32
    )
    model = TabularRegressor.from_data(dm, backbone="tabnet", metrics=["mae", "r2"], loss_fn="huber")
    trainer = quiet(max_epochs=2)
    trainer.fit(model, datamodule=dm)
    assert {"val_rmse", "val_mae", "val_r2"} <= set(trainer.callback_metrics)
    assert trainer.callback_metrics["val_mae"].item() <= trainer.callback_metrics["val_rmse"].item()


def test_the_default_mlp_embeds_numbers_periodically_and_learns_a_cycle_in_one_column():
    # y flips four times along x: a plain MLP on the standardised number bends its effect slowly; with the
    # periodic embeddings (rtdl_num_embeddings' PLR) the default model fits it in 12 epochs.
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1200, generator=generator) * 4 - 2
    frame = pd.DataFrame({"x": x.numpy(), "y": (torch.sin(4 * x) > 0).long().numpy()})
    seed_everything(0)
    dm = TabularClassificationData.from_data_frame(None, ["x"], "y", train_data_frame=frame, val_split=0.25)
    model = TabularClassifier.from_data(dm)
    assert model.backbone.numerical is not None and model.backbone.layers[0].in_features == 16  # 1 column x 16
    trainer = quiet(max_epochs=12)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() >= 0.9  # 0.97 here; the plain MLP reaches 0.68

    plain = TabularClassifier.from_data(dm, backbone_kwargs={"numerical_embedding": "none"})
    assert plain.backbone.numerical is None and plain.backbone.layers[0].in_features == 1
    with pytest.raises(ValueError, match=r"numerical_embedding='sine'; allowed: 'periodic', 'none'"):
        TabularClassifier.from_data(dm, backbone_kwargs={"numerical_embedding": "sine"})


def test_a_checkpoint_of_the_plain_mlp_from_before_the_number_embeddings_still_loads(tmp_path):
    # flashtrain 0.x saved backbone_kwargs=None for an MLP that fed the numbers as they are; that default changed.
    dm = TabularClassificationData.from_csv(*PENGUIN_FIELDS, train_file=SAMPLE_TABLE, val_split=0.2, batch_size=32)
    model = TabularClassifier.from_data(dm, backbone_kwargs={"numerical_embedding": "none", "dropout": 0.1})
    trainer = quiet(max_epochs=1)
    trainer.fit(model, datamodule=dm)
    path = tmp_path / "old.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["backbone_kwargs"] = None  # as the old version wrote it
    torch.save(checkpoint, path)

    loaded = TabularClassifier.load_from_checkpoint(str(path))
    assert loaded.backbone.numerical is None
    batch = next(iter(dm.val_dataloader()))
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(batch[0]), model(batch[0]))


@pytest.mark.slow
def test_tabm_trains_each_member_and_predicts_their_mean(tmp_path):
    seed_everything(0)
    dm = TabularClassificationData.from_csv(*PENGUIN_FIELDS, train_file=SAMPLE_TABLE, val_split=0.2, batch_size=32)
    model = TabularClassifier.from_data(
        dm, backbone="tabm", backbone_kwargs={"k": 4, "d_block": 64}, lr_scheduler="onecycle", learning_rate=1e-2
    )
    inputs, targets = next(iter(dm.train_dataloader()))
    model.train()
    members = model(inputs)
    assert members.shape == (len(targets), 4, 3)  # one prediction per member in training
    member_losses = [torch.nn.functional.cross_entropy(members[:, i], targets) for i in range(4)]
    assert model.compute_loss(members, targets).item() == pytest.approx(torch.stack(member_losses).mean().item())
    model.eval()
    with torch.no_grad():
        mean = model(inputs)
        assert torch.allclose(mean.softmax(dim=1), model.head(model.backbone(inputs)).softmax(dim=-1).mean(dim=1))
    trainer = Trainer(
        max_epochs=12, default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() >= 0.9, trainer.callback_metrics  # chance is ~0.44
    loaded = TabularClassifier.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)
    loaded.eval()
    with torch.no_grad():
        assert loaded(inputs).shape == (len(targets), 3)
