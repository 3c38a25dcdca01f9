"""Run one example script as ``__main__`` with every Trainer capped to a smoke run (harness only).

    python smoke_run.py SCRIPT [ARGS...]

The cap (1 epoch, at most 4 batches per stage, no sanity check beyond 1 batch) is applied by wrapping
``flashtrain.core.Trainer.__init__`` in this process only; the script itself is not modified.
"""

from __future__ import annotations

import functools
import runpy
import sys

SMOKE = {
    "max_epochs": 1,
    "limit_train_batches": 4,
    "limit_val_batches": 4,
    "limit_test_batches": 4,
    "limit_predict_batches": 4,
    "num_sanity_val_steps": 1,
}


def cap_trainer() -> None:
    from flashtrain.core import Trainer

    original = Trainer.__init__

    @functools.wraps(original)
    def capped(self, *args, **kwargs):
        if not kwargs.get("fast_dev_run"):
            kwargs.update(SMOKE)
            kwargs.pop("max_steps", None)
            kwargs.pop("max_time", None)
        original(self, *args, **kwargs)

    Trainer.__init__ = capped


if __name__ == "__main__":
    import os

    if os.environ.get("LIGHTNING_COMPAT_STAND_INS"):  # run_examples.py wrote stand-in datasets (stand_ins.py)
        from stand_ins import accept_stand_in_cifar

        accept_stand_in_cifar()
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, str(__import__("pathlib").Path(script).parent))
    cap_trainer()
    runpy.run_path(script, run_name="__main__")
