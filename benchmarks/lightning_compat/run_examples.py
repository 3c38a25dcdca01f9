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
from dataclasses import dataclass
from pathlib import Path

import stand_ins

HERE = Path(__file__).resolve().parent

# script (under examples/pytorch), extra argv. Scripts needing CUDA (fp8_distributed_transformer,
# tensor_parallel) are listed too and reported as skipped on a machine without it.
EXAMPLES: list[tuple[str, list[str]]] = [
    ("basics/transformer.py", []),
    ("basics/autoencoder.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
    ("basics/backbone_image_classifier.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
    # run=False; its trainer_defaults ask for accelerator="gpu", which Lightning refuses on a machine without one
    ("basics/profiler_example.py", ["--trainer.max_epochs=1", "--trainer.accelerator=cpu"]),
    ("bug_report/bug_report_model.py", []),
    ("domain_templates/generative_adversarial_net.py", []),
    ("domain_templates/reinforce_learn_Qnet.py", []),
    ("domain_templates/reinforce_learn_ppo.py", []),
    ("domain_templates/semantic_segmentation.py", []),
    ("domain_templates/computer_vision_fine_tuning.py", ["fit", "--trainer.max_epochs=1"]),
    ("domain_templates/imagenet.py", ["fit", "--model.data_path=data/imagenet", "--trainer.max_epochs=1"]),
    ("servable_module/production.py", ["--trainer.max_epochs=1"]),  # LightningCLI(run=False): no subcommand
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


@dataclass(frozen=True)
class CliExample:
    """A LightningCLI script: how its fit run is called, and how its test/predict steps run."""

    subcommand: list[str]  # ["fit"], or [] for LightningCLI(run=False) scripts (they take no subcommand)
    evaluation: str  # what the test/predict column reports when the script runs them itself (or has none)
    evaluate_argv: list[str] | None = None  # a separate test run; "{best}" is the fit run's best checkpoint
    weights: tuple[str, ...] = ()  # torchvision architectures it loads with weights="DEFAULT"
    first_image_class: int | None = None  # the class its served check expects for the first CIFAR-10 image


IN_SCRIPT = "in the script: test and predict with ckpt_path='best'"
CLI_EXAMPLES = {
    "basics/autoencoder.py": CliExample([], IN_SCRIPT),
    "basics/backbone_image_classifier.py": CliExample([], IN_SCRIPT),
    "basics/profiler_example.py": CliExample([], "none: the script only fits", weights=("resnet18",)),
    "domain_templates/computer_vision_fine_tuning.py": CliExample(["fit"], "none: no test_step", weights=("resnet50",)),
    "domain_templates/imagenet.py": CliExample(
        ["fit"], "", evaluate_argv=["test", "--model.data_path=data/imagenet", "--ckpt_path={best}"]
    ),
    "servable_module/production.py": CliExample(
        [], "none: the script only fits", weights=("resnet18",), first_image_class=7
    ),
}


def prepare_scratch(scratch: Path, lightning_src: Path, script: str) -> Path:
    """Stand-in data in ``scratch`` and a copy of the script under it; returns the copy's path."""
    prepare_wikitext(scratch)
    prepare_mnist(scratch)
    stand_ins.prepare_cifar10(scratch / "data")
    stand_ins.prepare_imagenet(scratch / "data" / "imagenet")
    # The script runs from a copy under the scratch folder: scripts that find their data next to themselves
    # (``DATASETS_PATH = <script>/../../Datasets``) then find the synthetic files, and the checkout stays
    # read-only.
    path = scratch / "examples" / "pytorch" / script
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(lightning_src / "examples" / "pytorch" / script, path)
    (scratch / "examples" / "Datasets").symlink_to(scratch / "data", target_is_directory=True)
    return path


def run_script(path: Path, scratch: Path, argv: list[str], env: dict[str, str], timeout: int) -> tuple[str, str, str]:
    """Run the script once: (status, last error line, stdout)."""
    # computer_vision_fine_tuning's prepare_data extracts and then deletes its archive: written before each run.
    stand_ins.prepare_cats_and_dogs(scratch / "data")
    command = [sys.executable, str(HERE / "smoke_run.py"), str(path), *argv]
    try:
        done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "failed", f"timed out after {timeout}s", ""
    if done.returncode == 0:
        return "runs", "", done.stdout
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return "failed", (lines[-1] if lines else f"exit {done.returncode}")[:200], done.stdout


def put_first_image_of_class(path: Path, scratch: Path, env: dict[str, str], wanted: int, timeout: int) -> None:
    """Stand-in weights and CIFAR-10 under which the script's own model classifies the first training image as
    ``wanted`` (``probe_served_class.py`` explains why and how)."""
    command = [sys.executable, str(HERE / "probe_served_class.py"), str(path), str(scratch / "data"), str(wanted)]
    done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"probe_served_class.py failed: {done.stderr[-500:]}")
    print(f"         {path.name}: {done.stdout.strip()}", flush=True)


def script_env(lightning_src: Path, torch_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE / "alias"), str(HERE)]),
        "LIGHTNING_SRC": str(lightning_src),
        "TORCH_HOME": str(torch_home),
        stand_ins.STAND_INS_ENV: "1",
    }


def skip_reason(script: str) -> str | None:
    if script in NOT_RUNNABLE:
        return NOT_RUNNABLE[script]
    if script in NEEDS_CUDA:
        import torch

        if not torch.cuda.is_available():
            return "needs CUDA"
    return None


def run_example(lightning_src: Path, script: str, argv: list[str], timeout: int, torch_home: Path) -> tuple[str, str]:
    reason = skip_reason(script)
    if reason:
        return "skipped", reason
    with tempfile.TemporaryDirectory(prefix="lightning_example_") as scratch_name:
        scratch = Path(scratch_name)
        path = prepare_scratch(scratch, lightning_src, script)
        status, error, _ = run_script(path, scratch, argv, script_env(lightning_src, torch_home), timeout)
    return status, error


def run_cli_example(lightning_src: Path, script: str, argv: list[str], timeout: int, torch_home: Path) -> list[str]:
    """The LightningCLI row: fit, test/predict, ``--print_config``, and a fit from the printed ``--config``."""
    example = CLI_EXAMPLES[script]
    stand_ins.prepare_torchvision_weights(torch_home, list(example.weights))
    env = script_env(lightning_src, torch_home)
    with tempfile.TemporaryDirectory(prefix="lightning_cli_example_") as scratch_name:
        scratch = Path(scratch_name)
        path = prepare_scratch(scratch, lightning_src, script)
        if example.first_image_class is not None:
            put_first_image_of_class(path, scratch, env, example.first_image_class, timeout)
        fit, fit_error, _ = run_script(path, scratch, argv, env, timeout)
        row = [fit + (f": {fit_error}" if fit_error else "")]
        if example.evaluate_argv is None:
            row.append(example.evaluation if fit == "runs" else "not reached")
        else:
            checkpoints = sorted(scratch.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
            if not checkpoints:
                row.append("failed: the fit run wrote no checkpoint")
            else:
                evaluate = [a.replace("{best}", str(checkpoints[-1])) for a in example.evaluate_argv]
                status, error, _ = run_script(path, scratch, evaluate, env, timeout)
                row.append(f"{status} (`{' '.join(example.evaluate_argv)}`)" + (f": {error}" if error else ""))
        fit_flags = [a for a in argv if a not in example.subcommand]
        printing = [*example.subcommand, *fit_flags, "--trainer.max_epochs", "1", "--print_config"]
        status, error, printed = run_script(path, scratch, printing, env, timeout)
        config = scratch / "printed_config.yaml"
        config.write_text(printed)
        if status == "runs":
            import yaml

            max_epochs = (yaml.safe_load(printed) or {}).get("trainer", {}).get("max_epochs")
            if max_epochs != 1:
                status, error = "failed", f"printed trainer.max_epochs is {max_epochs!r}, not 1"
        row.append(status + (f": {error}" if error else ""))
        if status != "runs":
            row.append("not reached")
        else:
            status, error, _ = run_script(path, scratch, [*example.subcommand, "--config", str(config)], env, timeout)
            row.append(status + (f": {error}" if error else ""))
    return row


def write_table(out: Path, rows: list[tuple[str, ...]], cli_rows: list[tuple[str, ...]]) -> str:
    """The two tables (all scripts; the LightningCLI rows) into ``out``; returns the summary line."""
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
    lines += [
        "",
        "## The LightningCLI scripts",
        "",
        "Fit with the argv above; then `--trainer.max_epochs 1 --print_config` (the printed YAML must say",
        "`max_epochs: 1`), and a fit from that file with `--config` (the round trip).",
        "",
        "| script | argv | fit | test/predict | print_config | config round trip |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {' | '.join(cells[:1])} | `{cells[1]}` | {' | '.join(cells[2:])} |" for cells in cli_rows]
    out.write_text("\n".join(lines) + "\n")
    return lines[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lightning-src", type=Path, default=Path(os.environ.get("LIGHTNING_SRC", "/work/lightning-src"))
    )
    parser.add_argument("--only", nargs="*", help="scripts under examples/pytorch to run (default: all)")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "examples.md")
    args = parser.parse_args()
    lightning_src = args.lightning_src.resolve()
    rows, cli_rows = [], []
    with tempfile.TemporaryDirectory(prefix="lightning_examples_torch_home_") as torch_home_name:
        torch_home = Path(torch_home_name)  # stand-in pretrained weights, shared by the scripts of this run
        for script, argv in EXAMPLES:
            if args.only and script not in args.only:
                continue
            if script in CLI_EXAMPLES and skip_reason(script) is None:
                cli_row = run_cli_example(lightning_src, script, argv, args.timeout, torch_home)
                cli_rows.append((script, " ".join(argv), *cli_row))
                status, _, reason = cli_row[0].partition(": ")
            else:
                status, reason = run_example(lightning_src, script, argv, args.timeout, torch_home)
            print(f"{status:8s} {script} {reason}", flush=True)
            rows.append((script, " ".join(argv), status, reason))
            write_table(args.out, rows, cli_rows)  # after every script, so a long run leaves what it finished
    print(write_table(args.out, rows, cli_rows))


if __name__ == "__main__":
    main()
