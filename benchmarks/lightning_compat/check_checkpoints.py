"""Checkpoints both ways, against a real Lightning install: each resumes the other's file.

    pip install --no-deps --target /work/lightning-pkg lightning==2.6.5     # outside the repo, harness only
    python benchmarks/lightning_compat/check_checkpoints.py --lightning-pkg /work/lightning-pkg

1. flashtrain trains Lightning's BoringModel shape for one epoch and saves; real Lightning resumes that file
   for a second epoch (it needs ``pytorch-lightning_version`` and ``loops``).
2. Lightning trains one epoch and saves; flashtrain resumes that file for a second epoch.
Each side runs in its own process (the real ``lightning`` package and this harness's alias cannot share one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MODEL = """
import torch
from torch.utils.data import DataLoader

def data():
    torch.manual_seed(1)
    return DataLoader(torch.randn(16, 32), batch_size=4)

def build(base):
    class Boring(base):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
        def forward(self, x):
            return self.layer(x)
        def training_step(self, batch, batch_idx):
            return torch.nn.functional.mse_loss(self(batch), torch.ones(len(batch), 2))
        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1)]
    return Boring()
"""

FLASHTRAIN = (
    MODEL
    + """
import json, sys
from flashtrain.core import Module, Trainer
mode, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
trainer = Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                  enable_checkpointing=False, default_root_dir=sys.argv[4])
model = build(Module)
trainer.fit(model, data(), ckpt_path=path if mode == "resume" else None)
if mode == "save":
    trainer.save_checkpoint(path)
print(json.dumps({"epoch": trainer.current_epoch, "global_step": trainer.global_step,
                  "lr": trainer.optimizers[0].param_groups[0]["lr"]}))
"""
)

LIGHTNING = (
    MODEL
    + """
import json, sys
import lightning.pytorch as pl
mode, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                     enable_checkpointing=False, default_root_dir=sys.argv[4])
model = build(pl.LightningModule)
trainer.fit(model, data(), ckpt_path=path if mode == "resume" else None)
if mode == "save":
    trainer.save_checkpoint(path)
print(json.dumps({"epoch": trainer.current_epoch, "global_step": trainer.global_step,
                  "lr": trainer.optimizers[0].param_groups[0]["lr"]}))
"""
)


def run(source: str, python_path: str | None, *argv: str) -> dict:
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = python_path
    done = subprocess.run([sys.executable, "-c", source, *argv], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lightning-pkg", default="/work/lightning-pkg", help="folder with a real lightning install")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours = str(Path(folder) / "flashtrain.ckpt")
        theirs = str(Path(folder) / "lightning.ckpt")
        saved = run(FLASHTRAIN, None, "save", ours, "1", folder)
        resumed_by_lightning = run(LIGHTNING, args.lightning_pkg, "resume", ours, "2", folder)
        saved_by_lightning = run(LIGHTNING, args.lightning_pkg, "save", theirs, "1", folder)
        resumed_by_us = run(FLASHTRAIN, None, "resume", theirs, "2", folder)
    report = {
        "flashtrain saves": saved,
        "Lightning resumes flashtrain's": resumed_by_lightning,
        "Lightning saves": saved_by_lightning,
        "flashtrain resumes Lightning's": resumed_by_us,
    }
    for name, result in report.items():
        print(f"{name:32s} {result}")
    expected = {"epoch": 2, "global_step": 8}
    ok = all(all(r.get(k) == v for k, v in expected.items()) for r in (resumed_by_lightning, resumed_by_us))
    print("both ways:", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
