"""Checkpoints written by an earlier flashtrain keep working: same keys, exact resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from flashtrain.core.checkpoint import load_checkpoint
from tests.core.checkpoint.old_checkpoint_run import run

OLD = Path(__file__).parent / "data" / "before_redesign_step5.ckpt"


def test_an_older_checkpoint_resumes_exactly(tmp_path):
    """Written by the trainer before the core redesign at step 5 (mid-epoch) of a 10-step run; resuming it with
    today's trainer ends with the weights of an uninterrupted run in that version's data order (every epoch's
    order derived from the base seed, which today's trainer still uses for a loader with its own generator),
    bit for bit."""
    old = load_checkpoint(str(OLD))
    assert (old["global_step"], old["epoch"], old["loop"]["batches_done"]) == (5, 0, 5)
    uninterrupted = run(str(tmp_path / "full"), 10, own_generator=True)
    copy = tmp_path / "resumed" / OLD.name
    copy.parent.mkdir()
    shutil.copy(OLD, copy)
    resumed = run(str(copy.parent), 10, str(copy))
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), f"{key} differs"


def test_todays_checkpoints_hold_the_same_top_level_keys_as_before(tmp_path):
    run(str(tmp_path), 5)
    new = load_checkpoint(str(tmp_path / "epoch=0-step=5.ckpt"))
    old = load_checkpoint(str(OLD))
    # Lightning's version key and loop counters were added so Lightning can resume flashtrain's files.
    assert set(new) == set(old) | {"pytorch-lightning_version", "loops"}
    assert set(old["loop"]) <= set(new["loop"])  # the loop position gained callback_metrics, nothing else moved
