"""The run behind ``data/before_redesign_step5.ckpt`` (written by the trainer before the core redesign, commit
9621328): 5 steps of a 10-step run, stopped mid-epoch. ``test_an_older_checkpoint_resumes_exactly`` resumes it.

    python tests/core/checkpoint/old_checkpoint_run.py OUT_FOLDER MAX_STEPS [CKPT]
"""

from __future__ import annotations

import sys

import torch
from torch.utils.data import DataLoader

from flashtrain.core import Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint


def run(folder: str, max_steps: int, ckpt_path: str | None = None, own_generator: bool = False):
    from tests.core.helpers import RegressionModule, regression_data

    seed_everything(11)
    model = RegressionModule(lr=0.02)
    # 6 batches an epoch. With its own generator the loader draws nothing from the global RNG and the trainer
    # orders it from its base seed: the earlier flashtrain's scheme for every loader.
    generator = torch.Generator() if own_generator else None
    data = DataLoader(regression_data(48), batch_size=8, shuffle=True, generator=generator)
    checkpoint = ModelCheckpoint(dirpath=folder, every_n_train_steps=5, save_top_k=-1)
    trainer = Trainer(
        max_steps=max_steps,
        logger=False,
        callbacks=[checkpoint],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return model


if __name__ == "__main__":
    sys.path.insert(0, ".")
    model = run(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    torch.save(model.state_dict(), f"{sys.argv[1]}/weights.pt")
