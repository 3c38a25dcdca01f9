"""Training iterables with their own state (``state_dict`` / ``load_state_dict``): saved where Lightning saves
them and resumed from it; iterables without state are replayed past the batches already used."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core.exceptions import PossibleUserWarning
from flashtrain.core.utilities.combined_loader import CombinedLoader
from tests.core.helpers import RegressionModule, quiet_trainer


class Counting:
    """Yields batches numbered from ``index``; no state of its own."""

    def __init__(self, start: int = 0, length: int = 10) -> None:
        self.index, self.length = start, length

    def __iter__(self):
        for i in range(self.index, self.length):
            self.index = i
            yield torch.full((2, 8), float(i)), torch.zeros(2, 1)

    def __len__(self) -> int:
        return self.length


class StatefulCounting(Counting):
    def state_dict(self):
        return {"index": self.index}

    def load_state_dict(self, state):
        self.index = state["index"] + 1


class Recording(RegressionModule):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list = []

    def training_step(self, batch, batch_idx):
        if isinstance(batch, list):  # several iterables: one batch of each
            self.seen.append([int(x[0, 0]) for x, _ in batch])
            batch = batch[0]
        else:
            self.seen.append(int(batch[0][0, 0]))
        x, y = batch
        return F.mse_loss(self(x), y)


def _train_then_resume(tmp_path, make_data):
    model = Recording()
    trainer = quiet_trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(model, make_data())
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    checkpoint = torch.load(tmp_path / "mid.ckpt", weights_only=True)
    resumed = Recording()
    quiet_trainer(max_steps=4, limit_val_batches=0).fit(resumed, make_data(), ckpt_path=tmp_path / "mid.ckpt")
    return model.seen, resumed.seen, checkpoint["loops"]["fit_loop"]["state_dict"]


def test_a_stateful_iterable_is_saved_and_resumes_from_its_state(tmp_path):
    with warnings.catch_warnings():
        # nothing to warn about: it resumes itself
        warnings.filterwarnings("error", message=".*resuming from a checkpoint", category=PossibleUserWarning)
        before, after, saved = _train_then_resume(tmp_path, lambda: StatefulCounting(start=5))
    assert saved["combined_loader"] == [{"index": 6}]
    assert before == [5, 6]
    assert after == [7, 8]  # from its own state, nothing skipped again


def test_in_a_combined_loader_only_the_stateful_iterables_resume(tmp_path):
    def data():
        return CombinedLoader([Counting(3), StatefulCounting(1)])

    with pytest.warns(PossibleUserWarning, match="resuming from a checkpoint that ended before the epoch ended"):
        before, after, saved = _train_then_resume(tmp_path, data)
    assert saved["combined_loader"] == [{"index": 2}]
    assert before == [[3, 1], [4, 2]]
    assert after == [[3, 3], [4, 4]]  # the one without state starts the epoch again, as in Lightning


def test_an_iterable_without_state_is_replayed_with_lightnings_notice(tmp_path):
    with pytest.warns(PossibleUserWarning, match="resuming from a checkpoint that ended before the epoch ended"):
        before, after, saved = _train_then_resume(tmp_path, Counting)
    assert "combined_loader" not in saved
    assert before == [0, 1]
    assert after == [2, 3]  # flashtrain's exact resume: the used batches are loaded and discarded


def test_a_checkpoint_with_states_for_other_iterables_is_refused(tmp_path):
    trainer = quiet_trainer(max_steps=1, limit_val_batches=0)
    trainer.fit(Recording(), StatefulCounting())
    trainer.save_checkpoint(tmp_path / "one.ckpt")
    two = CombinedLoader([StatefulCounting(), StatefulCounting()])
    with pytest.raises(RuntimeError, match="has 2 stateful loaders, but found 1 states in the checkpoint"):
        quiet_trainer(max_steps=2, limit_val_batches=0).fit(Recording(), two, ckpt_path=tmp_path / "one.ckpt")
