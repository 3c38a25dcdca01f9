"""``WandbLogger``'s Lightning API against a stand-in ``wandb`` module (no run, no network): which wandb calls each
public method makes. The real offline run file is checked in ``test_tracking_loggers.py``."""

from __future__ import annotations

import sys
import types
from unittest import mock

import pytest

from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


@pytest.fixture
def wandb(monkeypatch):
    module = types.ModuleType("wandb")
    run = mock.Mock(id="abc")
    module.init = mock.Mock(return_value=run)
    module.run = None
    for name in ("Api", "Artifact", "Image", "Audio", "Video", "Table"):
        setattr(module, name, mock.Mock(name=name))
    monkeypatch.setitem(sys.modules, "wandb", module)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    return module


def make(**kwargs):
    from flashtrain.core.loggers import WandbLogger

    return WandbLogger(**kwargs)


def test_project_comes_from_the_argument_then_wandb_project_then_the_default(wandb, monkeypatch):
    assert make().name == "lightning_logs"
    monkeypatch.setenv("WANDB_PROJECT", "from_env")
    assert make().name == "from_env"
    assert make(project="given").name == "given"


def test_an_offline_run_cannot_upload_checkpoints(wandb):
    with pytest.raises(MisconfigurationException, match="checkpoints cannot be uploaded in offline mode"):
        make(offline=True, log_model=True)


def test_a_run_already_in_progress_is_reused_with_a_warning(wandb):
    wandb.run = mock.Mock(id="running")
    logger = make()
    with pytest.warns(UserWarning, match="There is a wandb run already in progress"):
        assert logger.experiment is wandb.run
    wandb.init.assert_not_called()
    assert logger.version == "running"


def test_metrics_are_plotted_against_the_trainer_step_or_tensorboards(wandb):
    logger = make()
    logger.log_metrics({"loss": 0.5}, step=3)
    run = wandb.init.return_value
    run.define_metric.assert_any_call("*", step_metric="trainer/global_step", step_sync=True)
    run.log.assert_called_once_with({"loss": 0.5, "trainer/global_step": 3})

    wandb.init.return_value = synced = mock.Mock(id="tb")
    logger = make(sync_tensorboard=True)
    logger.log_metrics({"loss": 0.5}, step=3)
    synced.define_metric.assert_called_once_with("*", step_metric="global_step")
    synced.log.assert_called_once_with({"loss": 0.5})  # TensorBoard's step is the axis


def test_media_go_through_wandbs_types_one_keyword_entry_per_item(wandb):
    logger = make()
    logger.log_text("samples", columns=["x"], data=[["a"]], step=2)
    wandb.Table.assert_called_once_with(columns=["x"], data=[["a"]], dataframe=None)
    logger.log_image("pictures", ["1.png", "2.png"], caption=["one", "two"])
    assert wandb.Image.call_args_list == [mock.call("1.png", caption="one"), mock.call("2.png", caption="two")]
    run = wandb.init.return_value
    assert run.log.call_args_list[0] == mock.call({"samples": wandb.Table.return_value, "trainer/global_step": 2})
    with pytest.raises(TypeError, match='Expected a list as "videos"'):
        logger.log_video("clips", "1.mp4")
    with pytest.raises(ValueError, match="Expected 2 items but only found 1 for caption"):
        logger.log_audio("sounds", ["1.wav", "2.wav"], caption=["one"])


def test_download_artifact_uses_the_run_when_there_is_one_else_the_public_api(wandb, tmp_path):
    from flashtrain.core.loggers import WandbLogger

    wandb.run = mock.Mock()
    WandbLogger.download_artifact("team/proj/model:v1", tmp_path, "model")
    wandb.run.use_artifact.assert_called_once_with("team/proj/model:v1")
    wandb.run.use_artifact.return_value.download.assert_called_once_with(root=str(tmp_path))
    wandb.run = None
    WandbLogger.download_artifact("team/proj/model:v1", artifact_type="model")
    wandb.Api.return_value.artifact.assert_called_once_with("team/proj/model:v1", type="model")


def test_the_run_is_finished_at_exit_by_one_argumentless_handler(wandb, monkeypatch):
    """Code that wraps ``atexit.register(func)`` (Lightning's tests do) sees one callable; it finishes the run."""
    import atexit

    handlers = []
    monkeypatch.setattr(atexit, "register", lambda handler: handlers.append(handler))
    logger = make()
    logger.experiment  # noqa: B018 - creates the run
    assert len(handlers) == 1
    handlers[0]()
    wandb.init.return_value.finish.assert_called_once_with()


def test_pickled_logger_continues_the_same_run(wandb):
    import pickle

    logger = make()
    logger.experiment  # noqa: B018 - creates the run
    copy = pickle.loads(pickle.dumps(logger))
    assert copy.version == "abc"


@pytest.mark.parametrize(("log_model", "uploads"), [(True, 1), ("all", 2), (False, 0)])
def test_log_model_uploads_the_checkpoints_when_fit_ends_or_as_they_are_written(wandb, tmp_path, log_model, uploads):
    run = wandb.init.return_value
    logger = make(save_dir=str(tmp_path), log_model=log_model)
    checkpoint = ModelCheckpoint(monitor="step", mode="max")  # improves every epoch: each epoch writes a new best
    trainer = quiet_trainer(max_epochs=2, logger=logger, enable_checkpointing=True, callbacks=[checkpoint])
    trainer.fit(RegressionModule(), loader(32), loader(16))
    assert run.log_artifact.call_count == uploads
    run.finish.assert_not_called()  # a following test() logs into the same run
    if uploads:
        metadata = wandb.Artifact.call_args.kwargs["metadata"]
        assert metadata["original_filename"] == checkpoint.best_model_path.rsplit("/", 1)[-1]
        assert metadata["ModelCheckpoint"]["monitor"] == "step"
        assert metadata["score"] == trainer.global_step and type(metadata["score"]) is int  # JSON, not a tensor
        assert run.log_artifact.call_args.kwargs["aliases"] == ["latest", "best"]


def test_a_failed_fit_closes_the_run_with_its_exit_code(wandb):
    logger = make()
    logger.experiment  # noqa: B018
    logger.finalize("failed")
    wandb.init.return_value.finish.assert_called_once_with(exit_code=1)
