"""Same seed, same numbers? Lightning's transformer demo (``examples/pytorch/basics/transformer.py``) on real
Lightning and on flashtrain (through the alias), each capped to one epoch of N batches; prints the train_loss each
reaches. Harness only: needs a Lightning source tree and ``pip install --no-deps --target DIR lightning==2.6.5``.

    python benchmarks/lightning_compat/compare_seed_stream.py --lightning-src /work/lightning-src \\
        --lightning-pkg /work/lightning-pkg --batches 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Runs in the child process: cap the Trainer, run the script as __main__, print train_loss after fit.
_CHILD = """
import functools, runpy, sys
import lightning.pytorch as pl
batches = int(sys.argv[2])
original_init, original_fit = pl.Trainer.__init__, pl.Trainer.fit

@functools.wraps(original_init)
def capped(self, *args, **kwargs):
    kwargs.update(max_epochs=1, limit_train_batches=batches, limit_val_batches=2, limit_test_batches=2,
                  num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False, logger=False,
                  enable_checkpointing=False)
    original_init(self, *args, **kwargs)

@functools.wraps(original_fit)
def fit(self, *args, **kwargs):
    original_fit(self, *args, **kwargs)
    print(f"train_loss={float(self.callback_metrics['train_loss']):.6f}")

pl.Trainer.__init__, pl.Trainer.fit = capped, fit
script = sys.argv[1]
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def run(framework_path: str, lightning_src: Path, batches: int) -> str:
    from run_examples import prepare_wikitext

    with tempfile.TemporaryDirectory(prefix="seed_stream_") as scratch_name:
        scratch = Path(scratch_name)
        prepare_wikitext(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([framework_path, str(HERE)]),
            "LIGHTNING_SRC": str(lightning_src),
        }
        script = lightning_src / "examples" / "pytorch" / "basics" / "transformer.py"
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(script), str(batches)],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
        )
    found = [line for line in done.stdout.splitlines() if line.startswith("train_loss=")]
    return found[0] if found else f"failed: {done.stderr.strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lightning-src", type=Path, default=Path("/work/lightning-src"))
    parser.add_argument("--lightning-pkg", type=Path, default=Path("/work/lightning-pkg"))
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    print("lightning 2.6.5:", run(str(args.lightning_pkg), args.lightning_src, args.batches))
    print("flashtrain     :", run(str(HERE / "alias"), args.lightning_src, args.batches))


if __name__ == "__main__":
    main()
