"""TabularClassifier / TabularRegressor: training on real data, predictions in original units, and prediction from
nothing but a checkpoint and a new table, in a new process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor
from flashtrain.tasks.tabular import SAMPLE_TABLE
from flashtrain.tasks.tabular.preprocessing import UNKNOWN

PENGUIN_FIELDS = (["island", "sex"], ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"], "species")


def quiet_trainer(**kwargs) -> Trainer:
    kwargs.setdefault("logger", False)
    kwargs.setdefault("enable_checkpointing", False)
    return Trainer(enable_progress_bar=False, enable_model_summary=False, **kwargs)


@pytest.mark.parametrize("backbone", ["mlp", "ft_transformer"])
def test_classifier_learns_the_penguin_species(backbone):
    seed_everything(0)
    dm = TabularClassificationData.from_csv(*PENGUIN_FIELDS, train_file=SAMPLE_TABLE, val_split=0.2, batch_size=32)
    model = TabularClassifier.from_data(dm, backbone=backbone)
    trainer = quiet_trainer(max_epochs=12)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() >= 0.95  # 3 classes: chance is ~0.44
    # The "unknown" embedding rows (values never seen in training) stay neutral: zero, not random.
    tables = (
        [embedding.weight for embedding in model.backbone.embeddings]
        if backbone == "mlp"
        else [model.backbone.category_embeddings.weight[model.backbone.category_offsets[i] :] for i in range(2)]
    )
    assert all(table[UNKNOWN].abs().max().item() == 0.0 for table in tables)


def test_binary_classifier_probabilities_sum_to_one():
    seed_everything(0)
    frame = pd.DataFrame({"x": np.linspace(-1, 1, 64), "y": ["neg"] * 32 + ["pos"] * 32})
    dm = TabularClassificationData.from_data_frame(numerical_fields="x", target_fields="y", train_data_frame=frame)
    model = TabularClassifier.from_data(dm)
    trainer = quiet_trainer(max_epochs=30)
    trainer.fit(model, datamodule=dm)
    new = TabularClassificationData.from_data_frame(predict_data_frame=frame.iloc[[0, 63]], parameters=dm.parameters)
    assert trainer.predict(model, datamodule=new, output="labels") == ["neg", "pos"]
    probabilities = trainer.predict(model, datamodule=new, output="probabilities")
    assert all(len(row) == 2 and sum(row) == pytest.approx(1.0) for row in probabilities)


def test_regression_predictions_come_back_in_original_units():
    seed_everything(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 400)
    frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400)})
    frame["y"] = 5000.0 + 2000.0 * x + np.where(frame["group"] == "a", 500.0, 0.0)  # thousands, not unit scale
    frame["z"] = -3.0 * x
    dm = TabularRegressionData.from_data_frame(["group"], ["x"], ["y", "z"], train_data_frame=frame, batch_size=32)
    model = TabularRegressor.from_data(dm, learning_rate=3e-3)
    trainer = quiet_trainer(max_epochs=25)
    trainer.fit(model, datamodule=dm)
    rows = frame.iloc[:50]
    new = TabularRegressionData.from_data_frame(
        predict_data_frame=rows.drop(columns=["y", "z"]), parameters=dm.parameters
    )
    predictions = np.asarray(trainer.predict(model, datamodule=new, output="values"))
    assert predictions.shape == (50, 2)
    y_error = np.abs(predictions[:, 0] - rows["y"].to_numpy())
    assert np.median(y_error) < 100.0, y_error  # the targets span 5000..7500
    assert np.median(np.abs(predictions[:, 1] - rows["z"].to_numpy())) < 0.15
    with pytest.raises(ValueError, match="Unknown output 'labels' for TabularRegressor. Allowed: values, preds"):
        trainer.predict(model, datamodule=new, output="labels")


def test_models_refuse_data_for_the_other_task_and_unknown_backbones():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 5.0]})
    regression = TabularRegressionData.from_data_frame(numerical_fields="x", target_fields="y", train_data_frame=frame)
    with pytest.raises(ValueError, match="TabularClassifier needs classification data.*use TabularRegressor"):
        TabularClassifier.from_data(regression)
    with pytest.raises(
        ValueError, match="Unknown tabular backbone 'xgboost'. Allowed: ft_transformer, mlp, resnet, tabm, tabnet"
    ):
        TabularRegressor.from_data(regression, backbone="xgboost")
    with pytest.raises(TypeError, match="backbone_kwargs for 'mlp'.*width"):
        TabularRegressor.from_data(regression, backbone_kwargs={"width": 3})


PREDICT_IN_NEW_PROCESS = """
import json, sys
import pandas as pd
from flashtrain.core import Trainer
from flashtrain.tasks import TabularClassificationData, TabularClassifier
model = TabularClassifier.load_from_checkpoint(sys.argv[1])
data = TabularClassificationData.from_csv(predict_file=sys.argv[2], parameters=model.hparams["parameters"])
trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
print(json.dumps(trainer.predict(model, datamodule=data, output="probabilities")))
"""


def test_checkpoint_alone_predicts_new_rows_in_a_new_process(tmp_path):
    seed_everything(0)
    dm = TabularClassificationData.from_csv(*PENGUIN_FIELDS, train_file=SAMPLE_TABLE, val_split=0.2)
    model = TabularClassifier.from_data(dm, backbone="ft_transformer", backbone_kwargs={"d_token": 16, "num_layers": 1})
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), filename="best", monitor="val_acc", mode="max")
    trainer = quiet_trainer(max_epochs=3, callbacks=[checkpoint], enable_checkpointing=True)
    trainer.fit(model, datamodule=dm)
    stored = torch.load(checkpoint.best_model_path, weights_only=True)  # plain data only: no pickled code
    assert stored["task"] == "tabular_classification"
    assert stored["hyper_parameters"]["parameters"]["vocabularies"]["island"] == ["Biscoe", "Dream", "Torgersen"]

    # New rows: an island never seen in training, missing numbers, and a missing category.
    new = pd.DataFrame(
        {
            "island": ["Atlantis", "Biscoe", None],
            "sex": ["female", None, "male"],
            "bill_length_mm": [None, 47.0, 39.0],
            "bill_depth_mm": [18.0, 14.5, None],
            "flipper_length_mm": [190.0, 215.0, 185.0],
            "body_mass_g": [3600.0, 5100.0, None],
        }
    )
    new.to_csv(tmp_path / "new.csv", index=False)
    script = tmp_path / "predict.py"
    script.write_text(PREDICT_IN_NEW_PROCESS)
    done = subprocess.run(
        [sys.executable, str(script), checkpoint.best_model_path, str(tmp_path / "new.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    in_new_process = json.loads(done.stdout.strip().splitlines()[-1])
    best = TabularClassifier.load_from_checkpoint(checkpoint.best_model_path)
    same_data = TabularClassificationData.from_data_frame(predict_data_frame=new, parameters=dm.parameters)
    here = quiet_trainer().predict(best, datamodule=same_data, output="probabilities")
    np.testing.assert_allclose(np.asarray(in_new_process), np.asarray(here), atol=1e-6)
    assert len(in_new_process) == 3 and all(sum(row) == pytest.approx(1.0) for row in in_new_process)
