"""MLflow and Weights & Biases loggers, checked by reading the runs back with MLflow's client and from the
offline W&B run file."""

from __future__ import annotations

import glob
import json
import os
import struct
import sys
import time

import pytest

from flashtrain.core import seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class Boom(RegressionModule):
    def training_step(self, batch, batch_idx):
        if self.global_step == 1:
            raise RuntimeError("boom")
        return super().training_step(batch, batch_idx)


@pytest.mark.slow
def test_mlflow_run_read_back_with_mlflows_client_then_resumed_then_failed(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from flashtrain.core.loggers import MLFlowLogger

    uri = f"sqlite:///{tmp_path}/mlflow.db"

    def fit(model, max_epochs, ckpt_path=None):
        logger = MLFlowLogger("digits", run_name="first", tracking_uri=uri, save_dir=str(tmp_path), tags={"team": "a"})
        checkpoint = ModelCheckpoint(save_last=True)
        trainer = quiet_trainer(
            max_epochs=max_epochs, logger=logger, log_every_n_steps=2, enable_checkpointing=True, callbacks=[checkpoint]
        )
        trainer.fit(model, loader(32), loader(16), ckpt_path=ckpt_path)
        return logger, checkpoint

    seed_everything(0)
    logger, checkpoint = fit(RegressionModule(lr=0.05), max_epochs=2)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert client.get_experiment_by_name("digits").experiment_id == logger.experiment_id == run.info.experiment_id
    assert run.info.status == "FINISHED" and run.info.run_name == "first" and run.data.tags["team"] == "a"
    assert run.data.params == {"lr": "0.05", "dropout": "0.2", "optimizer": "adam"}
    history = client.get_metric_history(logger.run_id, "train_loss_step")
    assert [m.step for m in history] == [1, 3, 5, 7]  # 4 batches x 2 epochs, every 2nd step
    assert [m.step for m in client.get_metric_history(logger.run_id, "val_loss")] == [3, 7]
    assert run.data.metrics["epoch"] == 1.0
    # Checkpoints go beside the run: <save_dir>/<experiment id>/<run id>/checkpoints.
    assert checkpoint.last_model_path == os.path.join(
        str(tmp_path), logger.experiment_id, logger.run_id, "checkpoints", "last.ckpt"
    )

    resumed, _ = fit(RegressionModule(lr=0.05), max_epochs=3, ckpt_path=checkpoint.last_model_path)
    assert resumed.run_id == logger.run_id  # the resumed fit continued the same MLflow run
    assert [m.step for m in client.get_metric_history(logger.run_id, "val_loss")] == [3, 7, 11]
    assert client.get_run(logger.run_id).info.status == "FINISHED"

    with pytest.raises(RuntimeError, match="boom"):
        fit(Boom(), max_epochs=1)
    runs = client.search_runs([logger.experiment_id], order_by=["attributes.start_time DESC"])
    assert len(runs) == 2 and runs[0].info.status == "FAILED"


def test_mlflow_default_store_is_sqlite_in_save_dir(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from flashtrain.core.loggers import MLFlowLogger

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert MLFlowLogger(save_dir=str(tmp_path)).tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert MLFlowLogger(save_dir=str(tmp_path)).tracking_uri == "http://127.0.0.1:5000"


@pytest.mark.parametrize(("name", "extra"), [("MLFlowLogger", "mlflow"), ("WandbLogger", "wandb")])
def test_a_missing_optional_package_names_the_extra_to_install(monkeypatch, name, extra):
    from flashtrain.core import loggers

    monkeypatch.setitem(sys.modules, extra, None)  # as if it were not installed
    with pytest.raises(ImportError, match=rf"pip install 'flashtrain-core\[{extra}\]'"):
        getattr(loggers, name)()


def wandb_records(path):
    """Records of a W&B run file: wandb's LevelDB-style log (32 KiB blocks of crc/length/type-framed chunks)."""
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:4] == b":W&B"
    position, block, pending = 7, 32768, b""
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:  # block trailer
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _key(item):
    return item.key or "/".join(item.nested_key)


@pytest.mark.slow
def test_wandb_offline_run_files_hold_the_metrics_config_and_exit_code(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from flashtrain.core.loggers import WandbLogger

    monkeypatch.setenv("WANDB_SILENT", "true")
    seed_everything(0)
    logger = WandbLogger(name="digits", save_dir=str(tmp_path), offline=True, project="proj")
    checkpoint = ModelCheckpoint(save_last=True)
    trainer = quiet_trainer(
        max_epochs=2, logger=logger, log_every_n_steps=2, enable_checkpointing=True, callbacks=[checkpoint]
    )
    trainer.fit(RegressionModule(lr=0.05), loader(32), loader(16))
    logger.experiment.finish()  # the run stays open after fit (a following test() logs into it), as Lightning's

    (run_file,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / f"run-{logger.version}.wandb"))
    # wandb's service process may still be writing the file when finish() returns: wait for the exit record.
    deadline = time.monotonic() + 60
    while not any(r.WhichOneof("record_type") == "exit" for r in wandb_records(run_file)):
        assert time.monotonic() < deadline, "the run file never got its exit record"
        time.sleep(0.5)
    history, config, exit_codes = [], {}, []
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "config":
            config.update({_key(item): json.loads(item.value_json) for item in record.config.update})
        elif kind == "exit":
            exit_codes.append(record.exit.exit_code)
    steps = [row["trainer/global_step"] for row in history if "train_loss_step" in row]
    assert steps == [1, 3, 5, 7]
    assert [row["trainer/global_step"] for row in history if "val_loss" in row] == [3, 7]
    assert {"lr": 0.05, "dropout": 0.2, "optimizer": "adam"}.items() <= config.items()
    assert exit_codes == [0]
    assert checkpoint.last_model_path == os.path.join(str(tmp_path), "proj", logger.version, "checkpoints", "last.ckpt")
    assert os.path.exists(checkpoint.last_model_path)


def test_wandb_refuses_a_remote_save_dir():
    pytest.importorskip("wandb")
    from flashtrain.core.loggers import WandbLogger

    with pytest.raises(ValueError, match="wandb writes its run files to a local folder only"):
        WandbLogger(save_dir="memory://runs", offline=True)


@pytest.mark.slow
def test_resuming_last_with_mlflow_continues_the_run_without_opening_another(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from flashtrain.core.loggers import MLFlowLogger

    uri = f"sqlite:///{tmp_path}/mlflow.db"

    def fit(max_epochs, ckpt_path=None):
        logger = MLFlowLogger("resume", tracking_uri=uri, save_dir=str(tmp_path))
        checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "checkpoints"), save_last=True)
        trainer = quiet_trainer(max_epochs=max_epochs, logger=logger, enable_checkpointing=True, callbacks=[checkpoint])
        trainer.fit(RegressionModule(), loader(32), loader(16), ckpt_path=ckpt_path)
        return logger

    first = fit(1)
    resumed = fit(2, ckpt_path="last")
    assert resumed.run_id == first.run_id
    client = mlflow.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("resume").experiment_id])  # no second, orphaned run
    assert run.info.status == "FINISHED" and run.data.metrics["epoch"] == 1.0


@pytest.mark.slow
def test_under_torchrun_only_rank_0_creates_the_mlflow_and_wandb_runs(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    from flashtrain.core.strategies.cluster import free_port
    from tests.core.strategies.test_ddp import result, run_worker

    launcher = ("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()))
    args = ("--devices", "2", "--max-epochs", "2", "--loggers", "mlflow,wandb")
    done = run_worker(tmp_path, *args, launcher=launcher, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = result(tmp_path)

    # MLflow: one run in the experiment, finished, every step logged once, rank 0's synced values.
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("ddp").experiment_id])
    assert run.info.status == "FINISHED"
    steps_per_epoch = 96 // (2 * 8)  # 96 samples, batch 8 on each of the 2 ranks
    history = client.get_metric_history(run.info.run_id, "train_loss_step")
    assert [m.step for m in history] == list(range(2 * steps_per_epoch))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [5, 11]
    assert run.data.metrics["val_count"] == 54.0  # both ranks' shares, summed over the ranks
    assert run.data.metrics["val_loss"] == pytest.approx(trained["metrics"]["val_loss"])
    # The checkpoints went into that run's folder on rank 0 (the ranks agreed on the run id).
    assert trained["best_model_path"].startswith(str(tmp_path / run.info.experiment_id / run.info.run_id))

    # W&B offline: one run folder, holding the same steps once each and a clean exit.
    (run_file,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb"))
    deadline = time.monotonic() + 60
    while not any(r.WhichOneof("record_type") == "exit" for r in wandb_records(run_file)):
        assert time.monotonic() < deadline, "the run file never got its exit record"
        time.sleep(0.5)
    records = list(wandb_records(run_file))
    rows = [{_key(i): json.loads(i.value_json) for i in r.history.item} for r in records if r.HasField("history")]
    assert [row["trainer/global_step"] for row in rows if "train_loss_step" in row] == list(range(2 * steps_per_epoch))
    assert [r.exit.exit_code for r in records if r.HasField("exit")] == [0]
