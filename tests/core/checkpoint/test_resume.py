"""Exact resume: a run killed at any step and resumed with ckpt_path="last" ends bit-for-bit like one that
never stopped (CPU), mid-epoch, with shuffling, DataLoader workers, random augmentation, dropout, an LR
scheduler and gradient accumulation."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest
import torch

from flashtrain.core.checkpoint import load_checkpoint

WORKER = os.path.join(os.path.dirname(__file__), "resume_worker.py")
STEPS_PER_EPOCH = 5  # 40 samples / batch 4 = 10 batches, accumulated by 2
TOTAL_STEPS = 3 * STEPS_PER_EPOCH


def run_worker(root, mode, step, workers, out, expect=0):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, WORKER, str(root), mode, str(step), str(workers), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == expect, f"{mode} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def assert_same_weights(path_a, path_b):
    a, b = torch.load(path_a, weights_only=True), torch.load(path_b, weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    results = {}
    for workers in (0, 2):
        root = tmp_path_factory.mktemp(f"full{workers}")
        run_worker(root, "full", 0, workers, root / "weights.pt")
        results[workers] = root / "weights.pt"
    return results


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 0])
def test_sigkill_at_a_random_step_then_resume_is_exact(uninterrupted, tmp_path, workers):
    kill_step = random.Random(workers).randrange(3, TOTAL_STEPS - 1)  # never on a checkpoint boundary alone
    run_worker(tmp_path, "kill", kill_step, workers, tmp_path / "never.pt", expect=-signal.SIGKILL)
    assert not (tmp_path / "never.pt").exists()
    last = load_checkpoint(str(tmp_path / "ckpts" / "last.ckpt"))
    assert last["global_step"] < kill_step or last["global_step"] == kill_step - (kill_step % 2)

    run_worker(tmp_path, "resume", 0, workers, tmp_path / "resumed.pt")
    assert_same_weights(uninterrupted[workers], tmp_path / "resumed.pt")
    # The resumed run appended to the same log folder instead of starting version_1.
    assert os.listdir(tmp_path / "lightning_logs") == ["version_0"]


@pytest.mark.slow
def test_sigterm_saves_exits_143_and_resumes_exactly(uninterrupted, tmp_path):
    stop_step = 7  # mid-epoch (epoch 1, after 4 of its 10 batches)
    result = run_worker(tmp_path, "term", stop_step, 2, tmp_path / "never.pt", expect=143)
    assert "SIGTERM received: saved" in result.stderr and f"at step {stop_step}" in result.stderr
    last = load_checkpoint(str(tmp_path / "ckpts" / "last.ckpt"))
    assert (last["global_step"], last["epoch"], last["loop"]["batches_done"]) == (stop_step, 1, 4)

    run_worker(tmp_path, "resume", 0, 2, tmp_path / "resumed.pt")
    assert_same_weights(uninterrupted[2], tmp_path / "resumed.pt")


@pytest.mark.slow
def test_ctrl_c_saves_and_resumes_exactly(uninterrupted, tmp_path):
    result = run_worker(tmp_path, "int", 11, 0, tmp_path / "never.pt", expect=128 + signal.SIGINT)
    assert "SIGINT received: saved" in result.stderr
    assert load_checkpoint(str(tmp_path / "ckpts" / "last.ckpt"))["global_step"] == 11
    run_worker(tmp_path, "resume", 0, 0, tmp_path / "resumed.pt")
    assert_same_weights(uninterrupted[0], tmp_path / "resumed.pt")


def test_a_sampler_that_cannot_be_replayed_warns_on_resume(tmp_path):
    from torch.utils.data import DataLoader, Sampler

    from flashtrain.core.callbacks import ModelCheckpoint
    from tests.core.helpers import RegressionModule, quiet_trainer, regression_data

    class GlobalRandomOrder(Sampler):
        """Shuffles with the global RNG and offers no generator or set_epoch: it cannot be replayed."""

        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(torch.randperm(self.n).tolist())

        def __len__(self):
            return self.n

    def data():
        return DataLoader(regression_data(64), batch_size=8, sampler=GlobalRandomOrder(64))

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), every_n_train_steps=1, save_last=True, save_top_k=0)
    quiet_trainer(max_steps=3, enable_checkpointing=True, callbacks=[checkpoint]).fit(RegressionModule(), data())
    trainer = quiet_trainer(
        max_epochs=1, enable_checkpointing=True, callbacks=[ModelCheckpoint(dirpath=str(tmp_path), save_top_k=0)]
    )
    with pytest.warns(UserWarning, match=r"cannot be replayed .*GlobalRandomOrder.*the 3 batches already used"):
        trainer.fit(RegressionModule(), data(), ckpt_path="last")
    assert trainer.global_step == 8


@pytest.mark.slow
def test_resume_detects_a_different_run(uninterrupted, tmp_path):
    """The comparison above can fail: resuming a run stopped at another point with other data is not equal."""
    run_worker(tmp_path, "full", 0, 0, tmp_path / "other.pt")
    with pytest.raises(AssertionError, match="differs after resume"):
        assert_same_weights(uninterrupted[2], tmp_path / "other.pt")  # workers change the augmentation stream
