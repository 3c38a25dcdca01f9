"""DDP on CPU (gloo) for real: two processes started by flashtrain or by torchrun, against one process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from flashtrain.core import Trainer
from flashtrain.core.strategies.cluster import detect_environment, first_slurm_host, free_port
from flashtrain.core.strategies.samplers import shard_dataloader

WORKER = str(Path(__file__).with_name("ddp_worker.py"))
TOLERANCE = 1e-5


def run_worker(
    out: Path, *args: str, launcher: tuple[str, ...] = (), timeout: float = 300
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, *launcher, WORKER, "--out", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def result(out: Path) -> dict:
    return torch.load(out / "result.pt", weights_only=False)


def assert_same_training(actual: dict, expected: dict) -> None:
    for name, value in expected["weights"].items():
        torch.testing.assert_close(actual["weights"][name], value, atol=TOLERANCE, rtol=0)
    for name in ("val_loss", "val_max_error", "val_count", "val_mse", "train_loss_epoch"):
        assert actual["metrics"][name] == pytest.approx(expected["metrics"][name], abs=TOLERANCE), name
    assert actual["global_step"] == expected["global_step"]


@pytest.fixture(scope="module")
def single_process(tmp_path_factory) -> dict:
    """The reference: one process, batch 16 (two ranks use batch 8 each)."""
    out = tmp_path_factory.mktemp("single")
    done = run_worker(out, "--devices", "1", "--batch-size", "16")
    assert done.returncode == 0, done.stderr
    return result(out)


def test_two_launched_processes_train_like_one_process_with_twice_the_batch(single_process, tmp_path):
    done = run_worker(tmp_path, "--devices", "2", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    ddp = result(tmp_path)
    assert ddp["world_size"] == 2
    assert_same_training(ddp, single_process)
    rank0, rank1 = ddp["all_ranks_weights"]
    assert all(torch.equal(rank0[name], rank1[name]) for name in rank0)
    # Only rank 0 wrote: one log folder, one metrics file, the checkpoints once.
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "lightning_logs/version_0/checkpoints/epoch=1-step=12.ckpt",  # lowest val_loss (this seed's data order)
        "lightning_logs/version_0/checkpoints/last.ckpt",
        "lightning_logs/version_0/metrics.csv",
        "result.pt",
    ]
    assert ddp["best_model_path"] == str(tmp_path / "lightning_logs/version_0/checkpoints/epoch=1-step=12.ckpt")


def test_torchrun_started_script_gives_the_same_result(single_process, tmp_path):
    launcher = ("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()))
    done = run_worker(tmp_path, "--devices", "2", "--batch-size", "8", launcher=launcher)
    assert done.returncode == 0, done.stderr
    assert_same_training(result(tmp_path), single_process)


def test_resuming_a_ddp_checkpoint_continues_the_same_run(single_process, tmp_path):
    first = run_worker(tmp_path, "--max-epochs", "1")
    assert first.returncode == 0, first.stderr
    resumed = run_worker(tmp_path, "--max-epochs", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_training(result(tmp_path), single_process)
    assert not (tmp_path / "lightning_logs" / "version_1").exists()  # the resumed run appends to the same log folder


def test_gradient_accumulation_syncs_once_per_window_and_matches(tmp_path):
    one = run_worker(tmp_path / "one", "--devices", "1", "--batch-size", "8", "--accumulate", "2")
    two = run_worker(tmp_path / "two", "--devices", "2", "--batch-size", "4", "--accumulate", "2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert_same_training(result(tmp_path / "two"), result(tmp_path / "one"))


def seconds_from_failure_to_exit(out: Path, ended: float) -> float:
    return ended - float((out / "failed_at").read_text())


def test_an_error_on_rank_1_ends_every_rank_quickly_with_its_message(tmp_path):
    done = run_worker(tmp_path, "--fail-on-rank", "1", timeout=300)
    elapsed = seconds_from_failure_to_exit(tmp_path, time.time())
    assert done.returncode != 0
    assert elapsed < 30, f"every rank ended {elapsed:.1f} s after rank 1 failed"
    # Rank 0 (the process the user started) fails with rank 1's error, not a collective's.
    assert "RuntimeError: rank 1 failed: ValueError: boom on rank 1 at step 3" in done.stderr
    assert not (tmp_path / "result.pt").exists()


def test_a_rank_that_dies_before_joining_does_not_leave_rank_0_waiting(tmp_path):
    done = run_worker(tmp_path, "--fail-before-fit", "1", timeout=300)
    elapsed = seconds_from_failure_to_exit(tmp_path, time.time())
    assert done.returncode != 0
    assert elapsed < 30, f"rank 0 ended {elapsed:.1f} s after rank 1 died"
    assert "rank 1 could not read its data" in done.stderr
    assert "flashtrain: rank 1 failed" in done.stderr


def test_environment_detection(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("SLURM_", "TORCHELASTIC")) or name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            monkeypatch.delenv(name)
    assert detect_environment() is None
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NODEID", "2")
    monkeypatch.setenv("SLURM_NODELIST", "gpu[07-10],cpu3")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    slurm = detect_environment()
    assert (slurm.kind, slurm.world_size, slurm.global_rank, slurm.local_rank, slurm.node_rank) == ("slurm", 8, 5, 1, 2)
    assert slurm.master_addr == "gpu07"
    monkeypatch.setenv("SLURM_JOB_NAME", "bash")  # an interactive salloc shell is not a launch
    assert detect_environment() is None
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert detect_environment().kind == "torchrun"
    # devices="auto" under torchrun takes one device per started process
    assert Trainer(accelerator="cpu", logger=False, enable_progress_bar=False).strategy.processes_per_node == 4
    trainer = Trainer(accelerator="cpu", devices=2, logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match=r"torchrun started 4 processes, but Trainer\(devices=2, num_nodes=1\)"):
        trainer.strategy.setup_environment()


def test_first_slurm_host():
    assert first_slurm_host("node001") == "node001"
    assert first_slurm_host("gpu[3,5-9]") == "gpu3"
    assert first_slurm_host("a[01-02],b7") == "a01"


def test_shards_cover_the_data_once_for_evaluation_and_evenly_for_training():
    data = TensorDataset(torch.arange(11.0))
    val = DataLoader(data, batch_size=4)
    seen = [torch.cat([b[0] for b in shard_dataloader(val, r, 2, training=False, seed=0)]) for r in range(2)]
    assert sorted(torch.cat(seen).tolist()) == list(range(11))  # every sample once, none repeated
    train = DataLoader(data, batch_size=2, shuffle=True)
    shares = [list(shard_dataloader(train, r, 2, training=True, seed=3)) for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == 3  # equal step counts (padded), or ranks would deadlock
    weighted = DataLoader(data, batch_size=2, sampler=WeightedRandomSampler([1.0] * 11, 11))
    assert len(shard_dataloader(weighted, 0, 2, training=True, seed=0)) == 3  # custom samplers are split too


def test_ddp_spawn_trains_alike_and_brings_rank_0_results_back(single_process, tmp_path):
    done = run_worker(tmp_path, "--strategy", "ddp_spawn")
    assert done.returncode == 0, done.stderr
    spawned = result(tmp_path)  # written by the parent process from what rank 0 sent back
    assert_same_training(spawned, single_process)
    assert spawned["best_model_path"] == str(tmp_path / "lightning_logs/version_0/checkpoints/epoch=1-step=12.ckpt")


def test_ddp_spawn_explains_what_could_not_be_pickled():
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, enable_progress_bar=False)
    model = torch.nn.Linear(1, 1)
    from flashtrain.core import Module

    class Local(Module):  # defined inside a function: not picklable
        def __init__(self):
            super().__init__()
            self.layer = model

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    with pytest.raises(RuntimeError, match="ddp_spawn' sends the Trainer, Module and data to each process by pickling"):
        trainer.fit(Local(), DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2))


def test_use_distributed_sampler_false_leaves_loaders_alone():
    from flashtrain.core.strategies.cluster import ProcessLayout

    loader = DataLoader(TensorDataset(torch.arange(10.0)), batch_size=2, shuffle=True)
    for opt_out, expected_batches in ((False, 3), (True, 5)):
        trainer = Trainer(
            accelerator="cpu", devices=2, use_distributed_sampler=not opt_out, logger=False, enable_progress_bar=False
        )
        trainer.strategy.environment = ProcessLayout("torchrun", 2, 1, 1, 0, "127.0.0.1", 1)  # rank 1 of 2
        sharded = trainer.data_connector.shard(loader, training=True)
        assert (sharded is loader) == opt_out
        assert len(sharded) == expected_batches


UNGUARDED_SCRIPT = """\
from flashtrain.core import Trainer
from tests.core.helpers import RegressionModule, loader

trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, enable_progress_bar=False)
trainer.fit(RegressionModule(), loader())
"""


def test_ddp_spawn_from_a_script_without_a_main_guard_is_refused_instead_of_hanging(tmp_path):
    root = str(Path(__file__).parents[3])
    (tmp_path / "unguarded.py").write_text(UNGUARDED_SCRIPT)
    (tmp_path / "guarded.py").write_text(
        "from flashtrain.core.strategies.ddp import check_main_guard\n\n\ndef main():\n    check_main_guard()\n"
        "    print('ok')\n\n\nif __name__ == '__main__':\n    main()\n"
    )
    env = {**os.environ, "PYTHONPATH": root}
    refused = subprocess.run(
        [sys.executable, "unguarded.py"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert refused.returncode == 1
    assert 'from line 5 at top level, outside `if __name__ == "__main__":`' in refused.stderr, refused.stderr[-2000:]
    accepted = subprocess.run(
        [sys.executable, "guarded.py"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert accepted.returncode == 0 and accepted.stdout.strip() == "ok", accepted.stderr[-2000:]


def test_a_failed_ddp_spawn_run_tells_this_process_callbacks(monkeypatch):
    from flashtrain.core import Callback
    from tests.core.helpers import RegressionModule, loader

    class Counts(Callback):
        failures = 0

        def on_exception(self, trainer, pl_module, exception):
            self.failures += 1

    counter = Counts()
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, enable_progress_bar=False, callbacks=[counter]
    )

    def failing_ranks(*args, **kwargs):
        raise RuntimeError("rank 1 failed")

    monkeypatch.setattr(trainer.strategy, "spawn", failing_ranks)
    with pytest.raises(RuntimeError, match="rank 1 failed"):
        trainer.fit(RegressionModule(), loader())
    assert counter.failures == 1 and trainer.state.status == "failed"
