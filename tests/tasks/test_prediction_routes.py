"""One prediction route: ``flash-train predict``, serve and ``trainer.predict`` on a task's predict-stage data all
prepare an input with the model's Predictor, so the same file (or row, or text) gets the same prediction whichever
way it comes; and a checkpoint is read once on the way."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from flashtrain.core import Trainer
from tests.tasks.checkpoints import PENGUIN_ROWS, png_bytes

BATCH = 4  # every route predicts in batches of this size (a forward's float sums depend on its batch)


def cli(*argv: str) -> pd.DataFrame:
    from flashtrain.cli.main import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["predict", *argv, "--output", "probabilities", "--batch-size", str(BATCH)]) == 0
    return pd.read_csv(io.StringIO(printed.getvalue()))


def served(checkpoint: str, inputs: list) -> list:
    from fastapi.testclient import TestClient

    from flashtrain.tasks.serve import create_app

    with TestClient(create_app(checkpoint, max_batch_size=BATCH)) as client:
        answer = client.post("/predict", json={"inputs": inputs, "output": "probabilities"})
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def trainer_predict(model, datamodule) -> list:
    trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    return trainer.predict(model, datamodule=datamodule, output="probabilities")


@pytest.fixture
def torch_loads(monkeypatch):
    """The paths torch.load read, in order: every checkpoint read ends in one torch.load."""
    seen: list[str] = []
    real = torch.load

    def counting(source, *args, **kwargs):
        seen.append(str(getattr(source, "name", source)))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting)
    return seen


def test_predict_and_serve_read_the_checkpoint_once(task_checkpoints, tmp_path, torch_loads):
    from flashtrain.tasks.inference import predictor_for

    image = tmp_path / "a.png"
    image.write_bytes(png_bytes(1))
    checkpoint = task_checkpoints["image"]
    cli("--checkpoint", checkpoint, "--files", str(image))
    assert torch_loads.count(checkpoint) == 1  # was 2: once for the task's name, once more for the model
    torch_loads.clear()
    predictor_for(checkpoint)  # serve's and export's route
    assert torch_loads.count(checkpoint) == 1


def test_an_image_file_gets_one_prediction_from_the_cli_serve_and_trainer_predict(task_checkpoints, tmp_path):
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    files = []
    for seed in range(6):  # sizes other than the model's: the resize is part of what must agree
        path = tmp_path / f"{seed}.png"
        path.write_bytes(png_bytes(50 + seed, (21 + 3 * seed, 17)))
        files.append(str(path))
    checkpoint = task_checkpoints["image"]
    by_cli = [json.loads(cell) for cell in cli("--checkpoint", checkpoint, "--files", *files)["prediction"]]
    by_serve = served(checkpoint, [base64.b64encode(Path(f).read_bytes()).decode() for f in files])
    model = ImageClassifier.load_from_checkpoint(checkpoint)
    # Data given its own image size and statistics: predicting with a trained model, the model's preprocessing wins.
    data = ImageClassificationData.from_files(
        predict_files=files, batch_size=BATCH, image_size=48, mean=(0.5,) * 3, std=(0.2,) * 3
    )
    by_trainer = trainer_predict(model, data)
    assert by_cli == by_serve == by_trainer
    assert len(by_cli) == 6 and len(set(map(tuple, by_cli))) > 1  # six real, different predictions


def test_a_table_row_gets_one_prediction_even_from_data_fitted_on_other_rows(task_checkpoints, tmp_path):
    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    table = pd.concat([pd.DataFrame(PENGUIN_ROWS), pd.read_csv(SAMPLE_TABLE).sample(9, random_state=0)])
    table = table.drop(columns=["species"]).reset_index(drop=True)
    table.to_csv(tmp_path / "rows.csv", index=False)
    checkpoint = task_checkpoints["tabular"]
    printed = cli("--checkpoint", checkpoint, "--file", str(tmp_path / "rows.csv"))
    by_cli = printed[[c for c in printed.columns if c.startswith("probability_")]].values.tolist()
    by_serve = served(checkpoint, json.loads(pd.read_csv(tmp_path / "rows.csv").to_json(orient="records")))
    model = TabularClassifier.load_from_checkpoint(checkpoint)
    fields = (["island", "sex"], ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"], "species")
    given = TabularClassificationData.from_csv(
        predict_file=str(tmp_path / "rows.csv"), parameters=model.hparams["parameters"], batch_size=BATCH
    )
    # Data whose preprocessing was fitted on other rows (other medians, vocabularies, scales): before, trainer.predict
    # prepared the rows with that and answered differently from the CLI for the same rows (or failed).
    refitted_on = pd.read_csv(SAMPLE_TABLE).sample(40, random_state=1)
    other = TabularClassificationData.from_data_frame(
        *fields, train_data_frame=refitted_on, predict_data_frame=pd.read_csv(tmp_path / "rows.csv"), batch_size=BATCH
    )
    assert other.parameters != model.hparams["parameters"]
    assert torch.allclose(torch.tensor(by_cli), torch.tensor(by_serve), atol=1e-6)  # CSV text round-trips floats
    assert trainer_predict(model, given) == trainer_predict(model, other) == by_serve


def test_a_text_gets_one_prediction_from_the_cli_serve_and_trainer_predict(task_checkpoints):
    from flashtrain.tasks import TextClassificationData, TextClassifier

    texts = ["a fine film", "dull and long", "the best thing I saw this year", "no", "meh, it was fine I guess"]
    checkpoint = task_checkpoints["text"]
    printed = cli("--checkpoint", checkpoint, *[arg for text in texts for arg in ("--text", text)])
    by_cli = printed[[c for c in printed.columns if c.startswith("probability_")]].values.tolist()
    by_serve = served(checkpoint, texts)
    model = TextClassifier.load_from_checkpoint(checkpoint)
    by_trainer = trainer_predict(model, TextClassificationData.from_lists(predict_data=texts, batch_size=BATCH))
    assert torch.allclose(torch.tensor(by_cli), torch.tensor(by_serve), atol=1e-6)  # CSV text round-trips floats
    assert by_trainer == by_serve
