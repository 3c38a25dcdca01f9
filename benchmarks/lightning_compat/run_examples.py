"""Run Lightning's example scripts on flashtrain with only their imports changed (through the alias).

    python benchmarks/lightning_compat/run_examples.py --lightning-src /work/lightning-src

Each script runs unchanged from the checkout in a scratch folder, with ``alias/`` first on ``sys.path`` so
that its ``lightning`` imports resolve to flashtrain. Two things differ from a user's run, both outside the
script: the machine is offline, so datasets a script would download are replaced by small synthetic files of
the same format in the scratch folder (``prepare_*`` below); and every ``Trainer`` is capped to a smoke run
(1 epoch, 4 batches per stage) by ``smoke_run.py``, since full training does not fit this harness's CPU
budget. The table goes to ``benchmarks/lightning_compat/examples.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# script (under examples/pytorch), extra argv. Scripts needing CUDA (fp8_distributed_transformer,
# tensor_parallel) are listed too and reported as skipped on a machine without it.
EXAMPLES: list[tuple[str, list[str]]] = [
    ("basics/transformer.py", []),
    ("basics/autoencoder.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
    ("basics/backbone_image_classifier.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
    ("basics/profiler_example.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
    ("bug_report/bug_report_model.py", []),
    ("domain_templates/generative_adversarial_net.py", []),
    ("domain_templates/reinforce_learn_Qnet.py", []),
    ("domain_templates/reinforce_learn_ppo.py", []),
    ("domain_templates/semantic_segmentation.py", []),
    ("domain_templates/computer_vision_fine_tuning.py", ["fit", "--trainer.fast_dev_run=1"]),
    ("domain_templates/imagenet.py", ["fit", "--trainer.fast_dev_run=1"]),
    ("servable_module/production.py", ["fit", "--trainer.fast_dev_run=1"]),
    ("fp8_distributed_transformer/train.py", []),
    ("tensor_parallel/train.py", []),
]
NEEDS_CUDA = {
    "fp8_distributed_transformer/train.py",
    "tensor_parallel/train.py",
    "domain_templates/generative_adversarial_net.py",  # Trainer(accelerator="gpu"): Lightning refuses CPU too
}
# Scripts that cannot run here whatever the trainer: the reason is outside flashtrain and Lightning alike.
NOT_RUNNABLE = {
    "domain_templates/reinforce_learn_Qnet.py": "needs OpenAI gym, which does not import with numpy >= 2",
    "domain_templates/reinforce_learn_ppo.py": "needs OpenAI gym, which does not import with numpy >= 2",
    "domain_templates/semantic_segmentation.py": "needs the KITTI dataset and a UNet on 1242x376 images (GPU-sized)",
    "basics/profiler_example.py": "needs CIFAR-10: torchvision checks the files' md5, so no synthetic stand-in",
    "domain_templates/computer_vision_fine_tuning.py": "its prepare_data downloads the cats/dogs archive every run",
}


def prepare_wikitext(folder: Path) -> None:
    """A small English-like corpus where ``WikiText2`` looks before downloading (``./data/wikitext-2.txt``)."""
    import random

    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 20))) for _ in range(20000)]
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "wikitext-2.txt").write_text("\n".join(lines) + "\n")


def prepare_mnist(folder: Path) -> None:
    """Random 28x28 digits where Lightning's demo MNIST and torchvision's MNIST look before downloading."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    # MNIST's real sizes: the examples split the training set as random_split(dataset, [55000, 5000]).
    for train, count in ((True, 60000), (False, 10000)):
        images = torch.from_numpy(rng.integers(0, 255, (count, 28, 28), dtype=np.uint8))
        labels = torch.from_numpy(rng.integers(0, 10, count)).long()
        # Lightning's demo MNIST: <root>/MNIST/processed/{training,test}.pt
        processed = folder / "data" / "MNIST" / "processed"
        processed.mkdir(parents=True, exist_ok=True)
        torch.save((images, labels), processed / ("training.pt" if train else "test.pt"))
        # torchvision's MNIST: <root>/MNIST/raw/*-ubyte in the IDX format
        raw = folder / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        stem = "train" if train else "t10k"
        header = np.array([0x803, count, 28, 28], dtype=">i4").tobytes()
        (raw / f"{stem}-images-idx3-ubyte").write_bytes(header + images.numpy().tobytes())
        header = np.array([0x801, count], dtype=">i4").tobytes()
        (raw / f"{stem}-labels-idx1-ubyte").write_bytes(header + labels.numpy().astype(np.uint8).tobytes())


def run_example(lightning_src: Path, script: str, argv: list[str], timeout: int) -> tuple[str, str]:
    if script in NOT_RUNNABLE:
        return "skipped", NOT_RUNNABLE[script]
    if script in NEEDS_CUDA:
        import torch

        if not torch.cuda.is_available():
            return "skipped", "needs CUDA"
    with tempfile.TemporaryDirectory(prefix="lightning_example_") as scratch_name:
        scratch = Path(scratch_name)
        prepare_wikitext(scratch)
        prepare_mnist(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE / "alias"), str(HERE)]),
            "LIGHTNING_SRC": str(lightning_src),
        }
        # The script runs from a copy under the scratch folder: scripts that find their data next to themselves
        # (``DATASETS_PATH = <script>/../../Datasets``) then find the synthetic files, and the checkout stays
        # read-only.
        path = scratch / "examples" / "pytorch" / script
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lightning_src / "examples" / "pytorch" / script, path)
        (scratch / "examples" / "Datasets").symlink_to(scratch / "data", target_is_directory=True)
        command = [sys.executable, str(HERE / "smoke_run.py"), str(path), *argv]
        try:
            done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "failed", f"timed out after {timeout}s"
    if done.returncode == 0:
        return "runs", ""
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return "failed", (lines[-1] if lines else f"exit {done.returncode}")[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lightning-src", type=Path, default=Path(os.environ.get("LIGHTNING_SRC", "/work/lightning-src"))
    )
    parser.add_argument("--only", nargs="*", help="scripts under examples/pytorch to run (default: all)")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "examples.md")
    args = parser.parse_args()
    rows = []
    for script, argv in EXAMPLES:
        if args.only and script not in args.only:
            continue
        status, reason = run_example(args.lightning_src.resolve(), script, argv, args.timeout)
        print(f"{status:8s} {script} {reason}", flush=True)
        rows.append((script, " ".join(argv), status, reason))
    tried = [r for r in rows if r[2] != "skipped"]
    ran = sum(r[2] == "runs" for r in tried)
    lines = [
        "# Lightning's example scripts on flashtrain",
        "",
        f"{ran} of {len(tried)} tried run ({len(rows) - len(tried)} skipped).",
        "",
    ]
    lines += ["| script | argv | status | last error line |", "| --- | --- | --- | --- |"]
    lines += [f"| {s} | `{a}` | {st} | {r} |" for s, a, st, r in rows]
    args.out.write_text("\n".join(lines) + "\n")
    print(lines[2])


if __name__ == "__main__":
    main()
