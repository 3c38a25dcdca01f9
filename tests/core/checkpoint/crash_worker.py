"""Dies (SIGKILL) in the middle of writing a checkpoint: the file being replaced must stay loadable.

python crash_worker.py ROOT CRASH_STEP
"""

from __future__ import annotations

import os
import signal
import sys

import torch

from flashtrain.core import Callback, Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from tests.core.helpers import RegressionModule, loader


class CrashInsideNextWrite(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step - 1:
            real_save = torch.save

            def torn_save(obj, stream, *args, **kwargs):
                real_save(obj, stream, *args, **kwargs)
                stream.seek(0)
                stream.write(b"half-written")  # a torn write...
                stream.flush()
                os.kill(os.getpid(), signal.SIGKILL)  # ...and the process dies before finishing

            torch.save = torn_save


def main() -> None:
    root, step = sys.argv[1], int(sys.argv[2])
    checkpoint = ModelCheckpoint(
        dirpath=os.path.join(root, "ckpts"), every_n_train_steps=1, save_top_k=0, save_last=True
    )
    trainer = Trainer(
        max_epochs=2,
        callbacks=[CrashInsideNextWrite(step), checkpoint],
        default_root_dir=root,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(RegressionModule(), loader())


if __name__ == "__main__":
    main()
