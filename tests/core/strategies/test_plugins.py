"""Trainer(plugins=[...]): cluster environments, checkpoint IO and precision plugins, and DDPStrategy's Lightning
keywords (parallel_devices, cluster_environment, checkpoint_io, DistributedDataParallel options)."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.plugins import (
    CheckpointIO,
    DoublePrecision,
    KubeflowEnvironment,
    LightningEnvironment,
    Precision,
    SLURMEnvironment,
    TorchCheckpointIO,
    TorchElasticEnvironment,
)
from flashtrain.core.strategies import DDPStrategy
from flashtrain.core.strategies.environments import select_environment
from tests.core.helpers import RegressionModule, loader, quiet_trainer

SLURM = {"SLURM_NTASKS": "4", "SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_NODEID": "1", "SLURM_JOB_ID": "42"}
SLURM.update(SLURM_NODELIST="gpu[07-08]", SLURM_JOB_NAME="train")


def set_env(monkeypatch, variables: dict[str, str]) -> None:
    for name in ("SLURM_NTASKS", "RANK", "WORLD_SIZE", "LOCAL_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_slurm_environment_reads_srun_variables_and_is_detected(monkeypatch):
    set_env(monkeypatch, SLURM)
    environment = select_environment()
    assert isinstance(environment, SLURMEnvironment) and environment.creates_processes_externally
    layout = environment.layout()
    assert (layout.world_size, layout.global_rank, layout.local_rank, layout.node_rank) == (4, 3, 1, 1)
    assert (layout.master_addr, layout.master_port) == ("gpu07", 10042)
    environment.set_global_rank(0)  # the launcher fixed the ranks: ignored
    assert environment.global_rank() == 3


def test_interactive_slurm_shell_and_plain_process_get_the_trainers_own_launcher(monkeypatch):
    set_env(monkeypatch, {**SLURM, "SLURM_JOB_NAME": "bash"})
    assert type(select_environment()) is LightningEnvironment
    set_env(monkeypatch, {})
    environment = LightningEnvironment()
    assert not environment.creates_processes_externally
    environment.set_world_size(3)
    environment.set_global_rank(2)
    assert (environment.world_size(), environment.global_rank(), environment.main_address) == (3, 2, "127.0.0.1")
    assert environment.main_port == environment.main_port > 0  # a free port, chosen once


def test_torchrun_and_kubeflow_environments(monkeypatch):
    set_env(monkeypatch, {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "GROUP_RANK": "2"})
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1234")
    assert isinstance(select_environment(), TorchElasticEnvironment)
    layout = TorchElasticEnvironment().layout()
    assert (layout.world_size, layout.global_rank, layout.local_rank, layout.node_rank) == (8, 5, 1, 2)
    assert (layout.master_addr, layout.master_port) == ("10.0.0.1", 1234)
    kubeflow = KubeflowEnvironment()
    assert not KubeflowEnvironment.detect()  # never guessed: named by the user
    assert (kubeflow.world_size(), kubeflow.global_rank(), kubeflow.local_rank(), kubeflow.node_rank()) == (8, 5, 0, 5)


def test_trainer_gives_the_strategy_its_plugins(monkeypatch):
    set_env(monkeypatch, {"MASTER_ADDR": "1.2.3.4", "MASTER_PORT": "500", "WORLD_SIZE": "20", "RANK": "1"})
    io = TorchCheckpointIO()
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", plugins=[KubeflowEnvironment(), io], logger=False)
    strategy = trainer.strategy
    assert isinstance(strategy.cluster_environment, KubeflowEnvironment) and strategy.environment_given
    assert strategy.checkpoint_io is io and strategy.local_rank == 0
    # Without a plugin the Trainer names the environment it found (here: none, so its own launcher).
    set_env(monkeypatch, {})
    chosen = Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False).strategy
    assert type(chosen.cluster_environment) is LightningEnvironment and not chosen.environment_given
    assert Trainer(plugins=DoublePrecision(), logger=False).precision == "64-true"


@pytest.mark.parametrize(
    ("plugins", "kinds"),
    [
        ([LightningEnvironment(), SLURMEnvironment()], "ClusterEnvironment"),
        ([TorchCheckpointIO(), TorchCheckpointIO()], "CheckpointIO"),
        ([Precision(), DoublePrecision(), LightningEnvironment(), SLURMEnvironment()], "Precision, ClusterEnvironment"),
    ],
)
def test_two_plugins_of_one_kind_are_refused(plugins, kinds):
    with pytest.raises(MisconfigurationException, match=f"Received multiple values for {kinds} flags in `plugins`"):
        Trainer(plugins=plugins)


def test_bad_plugins_are_refused_with_what_to_pass():
    with pytest.raises(
        TypeError, match=r"a plugin is a Precision, a CheckpointIO, a ClusterEnvironment or a LayerSync"
    ):
        Trainer(plugins=[object()])
    with pytest.raises(ValueError, match=r"Received both `precision=64-true` and `plugins="):
        Trainer(precision="64-true", plugins=[Precision()])


class RecordingCheckpointIO(CheckpointIO):
    """Keeps checkpoints in a dict: where a user's plugin would write to its own storage."""

    def __init__(self):
        self.files: dict[str, dict] = {}

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        self.files[str(path)] = checkpoint

    def load_checkpoint(self, path, map_location=None):
        return self.files[str(path)]

    def remove_checkpoint(self, path):
        del self.files[str(path)]


def test_a_users_checkpoint_io_writes_and_reads_the_checkpoints(tmp_path):
    io = RecordingCheckpointIO()
    trainer = quiet_trainer(max_epochs=1, plugins=[io])
    trainer.fit(RegressionModule(), loader())
    target = str(tmp_path / "model.ckpt")
    trainer.save_checkpoint(target)
    assert list(io.files) == [target] and not (tmp_path / "model.ckpt").exists()
    assert io.files[target]["global_step"] == 8
    resumed = quiet_trainer(max_epochs=2, plugins=[io])
    resumed.fit(RegressionModule(), loader(), ckpt_path=target)
    assert resumed.global_step == 16  # resumed from the plugin's copy


def test_ddp_strategy_takes_lightnings_keywords():
    double = Trainer(strategy=DDPStrategy(precision_plugin=DoublePrecision()), accelerator="cpu", logger=False)
    assert double.precision == "64-true"  # the strategy's plugin is used, not the default flag
    with pytest.raises(ValueError, match="Received a precision plugin twice"):
        Trainer(strategy=DDPStrategy(precision_plugin=DoublePrecision()), plugins=[Precision()])
    strategy = DDPStrategy(parallel_devices=[torch.device("cpu")] * 3, static_graph=True)
    assert strategy.processes_per_node == 3 and strategy.ddp_kwargs == {"static_graph": True}
    trainer = Trainer(accelerator="auto", devices=1, strategy=strategy, logger=False)
    assert trainer.accelerator.name == "cpu" and trainer.strategy.num_processes == 3  # its devices win
    assert len(trainer.strategy.parallel_devices) == 3
    with pytest.raises(MisconfigurationException, match=r"CPU parallel_devices set through DDPStrategy class"):
        Trainer(strategy=DDPStrategy(parallel_devices=[torch.device("cpu")]), accelerator="cuda")
    with pytest.raises(MisconfigurationException, match=r"CUDA parallel_devices set through DDPStrategy class"):
        Trainer(strategy=DDPStrategy(parallel_devices=[torch.device("cuda", 0)]), accelerator="tpu")
