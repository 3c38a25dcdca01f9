"""``MLFlowLogger.log_model`` / ``WandbLogger.log_model``: the model's save_pretrained folder as a run artifact, read
back with MLflow's own client and from W&B's offline run file."""

from __future__ import annotations

import glob
import os
import time

import pytest

from flashtrain.core.loggers.model_folder import folder_files
from flashtrain.tasks.inference import load_task


@pytest.fixture
def saved(task_checkpoints, tmp_path):
    """A task model and the folder its save_pretrained writes (what the artifact must hold, byte for byte)."""
    model = load_task(task_checkpoints["tabular"])
    folder = model.save_pretrained(str(tmp_path / "expected" / "model"))
    return model, folder


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


@pytest.mark.slow
def test_mlflow_log_model_uploads_exactly_the_save_pretrained_folder(saved, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from flashtrain.core.loggers import MLFlowLogger

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    model, expected = saved
    logger = MLFlowLogger(save_dir=str(tmp_path / "mlruns"))
    uri = logger.log_model(model)
    assert uri == f"runs:/{logger.run_id}/model"

    client = MlflowClient(tracking_uri=logger.tracking_uri)
    listed = [item.path for item in client.list_artifacts(logger.run_id, "model")]
    assert sorted(listed) == [f"model/{name}" for name in folder_files(expected)]
    downloaded = client.download_artifacts(logger.run_id, "model", str(tmp_path / "downloaded"))
    assert folder_files(downloaded) == folder_files(expected)
    for name in folder_files(expected):
        assert read(os.path.join(downloaded, name)) == read(os.path.join(expected, name)), name
    loaded = type(model).from_pretrained(downloaded)  # the artifact is a working model folder
    assert loaded.labels == model.labels

    # A folder already written uploads as it is, under another artifact path.
    logger.log_model(expected, artifact_path="copies/first")
    assert [i.path for i in client.list_artifacts(logger.run_id, "copies/first")] == [
        f"copies/first/{name}" for name in folder_files(expected)
    ]


def test_log_model_explains_what_it_cannot_upload(tmp_path):
    from flashtrain.core.loggers.model_folder import model_folder

    missing = pytest.raises(FileNotFoundError, match=r"log_model\('.*missing'\): no such folder")
    with missing, model_folder(str(tmp_path / "missing")):
        pass
    not_a_model = pytest.raises(TypeError, match=r"log_model needs a model with save_pretrained\(folder\) .* got dict")
    with not_a_model, model_folder({"weights": 1}):
        pass
    card_with_folder = pytest.raises(ValueError, match="the card is written by save_pretrained; pass the model")
    with card_with_folder, model_folder(str(tmp_path), card={"seed": 1}):
        pass


@pytest.mark.slow
def test_wandb_log_model_records_the_folder_as_a_model_artifact_offline(saved, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from flashtrain.core.loggers import WandbLogger
    from tests.core.loggers.test_tracking_loggers import wandb_records

    monkeypatch.setenv("WANDB_SILENT", "true")
    model, expected = saved
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="proj")
    artifact = logger.log_model(model, card={"seed": 3})
    assert artifact.type == "model" and artifact.name.startswith(f"model-{logger.version}")
    assert sorted(artifact.manifest.entries) == folder_files(expected)
    version = logger.version
    logger.finalize("success")  # the run stays open after a successful fit (Lightning's); the user finishes it
    import wandb

    wandb.finish()

    (run_file,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / f"run-{version}.wandb"))
    deadline = time.monotonic() + 60  # wandb's service may still be writing the file after finish()
    while not any(r.WhichOneof("record_type") == "exit" for r in wandb_records(run_file)):
        assert time.monotonic() < deadline, "the run file never got its exit record"
        time.sleep(0.5)
    (record,) = [r.artifact for r in wandb_records(run_file) if r.WhichOneof("record_type") == "artifact"]
    assert record.type == "model" and record.name == f"model-{version}" and "latest" in record.aliases
    assert sorted(entry.path for entry in record.manifest.contents) == folder_files(expected)
    # The weights and config are the same bytes as save_pretrained's (the card differs: it was given a seed).
    staged = {entry.path: entry.local_path for entry in record.manifest.contents}
    for name in ("model.safetensors", "config.json"):
        assert read(staged[name]) == read(os.path.join(expected, name)), name
    assert "Seed: 3" in read(staged["README.md"]).decode()
