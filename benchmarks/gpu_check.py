"""The one-shot device check behind ``benchmarks/gpu_check.sh`` (see there); writes ``OUT/gpu_check.json``.

Steps, each timed and recorded even when it fails (the JSON is rewritten after every step, so a run cut short
still leaves its figures):

1. ``cuda_tests``: ``pytest -m gpu`` over tests/ (skipped, and said so, without pytest or without CUDA);
2. ``headline_sample`` / ``headline_jpeg``: ``flash-train image_classification --backbone resnet18 --gpus 1`` on
   the bundled sample and on a generated folder of 224 px JPEGs (2 epochs), as subprocesses;
3. ``trainer_vs_loop``: images/s of ``Trainer.fit`` and of a hand-written loop on the same model (timm resnet18),
   the same batches and the same precision (bf16 autocast), steady state after warm-up steps;
4. ``input_bound``: images/s training ImageClassifier on the real pipeline with its defaults (JPEG decoding,
   workers "auto", pinned memory, channels-last, precision "auto") / images/s on the same batches held on the GPU;
5. ``device_decode``: images/s training on the same JPEGs decoded by the CPU workers (default) vs decoded by
   nvjpeg and augmented on the GPU (``decode_on_device=True``), and the pixel difference of the two batches;
6. ``fp16_step``: one 16-mixed training step with gradient scaling (the scale, finite loss, changed weights).

Without CUDA every step runs a short CPU version (a tiny backbone, few images and steps), so that the script
itself is tested by the test suite (tests/benchmarks/test_gpu_check.py).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Check:
    def __init__(self, out: str, cuda: bool) -> None:
        self.path = os.path.join(out, "gpu_check.json")
        self.cuda = cuda
        self.started = time.perf_counter()
        self.figures: dict[str, Any] = {
            "cuda": cuda,
            "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "steps": {},
        }
        self.write()

    def step(self, name: str, function: Any, *args: Any) -> None:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            result = function(*args)
            result = {"ok": True, **result}
        except Exception as error:  # noqa: BLE001 - a failed step is a figure too; the next steps still run
            result = {"ok": False, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()[-2000:]}
        result["seconds"] = round(time.perf_counter() - started, 1)
        self.figures["steps"][name] = result
        print(json.dumps({k: v for k, v in result.items() if k != "trace"}), flush=True)
        self.write()

    def write(self) -> None:
        self.figures["total_seconds"] = round(time.perf_counter() - self.started, 1)
        with open(self.path + ".tmp", "w") as handle:
            json.dump(self.figures, handle, indent=2)
        os.replace(self.path + ".tmp", self.path)


def environment() -> dict[str, str]:
    paths = [os.path.join(ROOT, "packages", name, "src") for name in ("core", "tasks", "cli")]
    existing = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([existing] if existing else []))}


def cuda_tests(cuda: bool, timeout: float | None) -> dict[str, Any]:
    try:
        import pytest  # noqa: F401
    except ImportError:
        return {"skipped": "pytest is not installed here; the CUDA code paths still run in the steps below"}
    if not cuda:
        return {"skipped": "no CUDA device"}
    # Only the files with GPU tests: collecting the others would import packages a bare machine lacks (datasets...).
    files = sorted(
        os.path.relpath(os.path.join(folder, name), ROOT)
        for folder, _, names in os.walk(os.path.join(ROOT, "tests"))
        for name in names
        if name.startswith("test_") and name.endswith(".py") and "mark.gpu" in _read(os.path.join(folder, name))
    )
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *files]
    done = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=timeout)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error|deselected)", summary)}
    return {"returncode": done.returncode, "files": files, "summary": summary, **counts, "tail": done.stdout[-3000:]}


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def make_jpegs(folder: str, count: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(count):
        label = f"class_{index % 2}"
        os.makedirs(os.path.join(folder, label), exist_ok=True)
        small = rng.integers(0, 256, (max(2, size // 16), max(2, size // 16), 3), dtype=np.uint8)
        small[..., index % 2] //= 2  # a colour cast per class: something to learn
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(os.path.join(folder, label, f"{index}.jpg"))


def headline(cuda: bool, data_args: list[str], out: str, timeout: float | None, quick: bool) -> dict[str, Any]:
    device = ["--gpus", "1"] if cuda else ["--accelerator", "cpu"]
    backbone = "test_resnet" if quick else "resnet18"
    command = [sys.executable, "-m", "flashtrain.cli", "image_classification", "--backbone", backbone, *device]
    command += [*data_args, "--output-dir", out, "--logger", "csv"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    accuracy = re.search(r"final validation accuracy: ([0-9.]+)", output)
    defaults = re.search(r"defaults for this machine: (.*)", output)
    return {
        "command": " ".join(command[2:]),
        "returncode": done.returncode,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "val_accuracy": float(accuracy.group(1)) if accuracy else None,
        "defaults": defaults.group(1) if defaults else None,
        "tail": output[-1500:],
    }


def _model(quick: bool) -> torch.nn.Module:
    import timm

    return timm.create_model("test_resnet" if quick else "resnet18", pretrained=False, num_classes=10)


def trainer_vs_loop(cuda: bool, quick: bool) -> dict[str, Any]:
    """Trainer.fit vs a hand loop: same model init, batches, optimizer and precision; steps after warm-up timed."""
    from torch.utils.data import DataLoader, TensorDataset

    from flashtrain.core import Callback, Module, Trainer, seed_everything

    size, batch, steps, warmup = (32, 16, 6, 2) if quick else (224, 128, 60, 10)
    # 8 batches' worth of distinct images, drawn with replacement (the same draws for both loops): the data
    # stays small in memory, and workers collate and pin so that the loader keeps up with the GPU.
    images = torch.randn(batch * 8, 3, size, size)
    targets = torch.randint(0, 10, (batch * 8,))
    device = torch.device("cuda" if cuda else "cpu")
    # bf16 autocast in both, as precision="bf16-mixed" does; the CPU fallback in float32 (CPU bf16 kernels are slow)
    precision = "bf16-mixed" if cuda else "32-true"

    def loader() -> DataLoader:
        dataset = TensorDataset(images, targets)
        draws = torch.utils.data.RandomSampler(
            dataset, replacement=True, num_samples=batch * steps, generator=torch.Generator().manual_seed(0)
        )
        workers = min(4, (os.cpu_count() or 1) - 1) if cuda else 0
        return DataLoader(
            dataset, batch_size=batch, sampler=draws, pin_memory=cuda, num_workers=workers, persistent_workers=False
        )

    seed_everything(0)
    model = _model(quick).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    stamps: list[float] = []
    for index, (x, y) in enumerate(loader()):
        if index == warmup:
            _sync(cuda)
            stamps.append(time.perf_counter())
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(cuda)
    loop_rate = batch * (steps - warmup) / (time.perf_counter() - stamps[0])

    class Plain(Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _model(quick)

        def training_step(self, batch_: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch_
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self) -> Any:
            return torch.optim.AdamW(self.parameters(), lr=1e-3)

    class Clock(Callback):
        def __init__(self) -> None:
            self.start = 0.0

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch_: Any, batch_idx: int) -> None:
            if batch_idx == warmup:
                _sync(cuda)
                self.start = time.perf_counter()

    seed_everything(0)
    clock = Clock()
    trainer = Trainer(
        max_epochs=1,
        accelerator="gpu" if cuda else "cpu",
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(Plain(), train_dataloaders=loader())
    _sync(cuda)
    trainer_rate = batch * (steps - warmup) / (time.perf_counter() - clock.start)
    return {
        "images_per_s_trainer": round(trainer_rate, 1),
        "images_per_s_hand_loop": round(loop_rate, 1),
        "ratio": round(trainer_rate / loop_rate, 3),
        "goal": ">= 0.97 on a GPU",
        "setup": f"{'test_resnet' if quick else 'resnet18'}, {size} px, batch {batch}, {steps - warmup} timed steps, "
        f"{precision}",
    }


def input_bound(cuda: bool, folder: str, quick: bool) -> dict[str, Any]:
    """ImageClassifier with the default pipeline (files decoded by workers) vs the same batches already on the GPU."""
    from flashtrain.core.precision import auto_precision
    from flashtrain.tasks import ImageClassificationData, ImageClassifier
    from flashtrain.tasks.image.acceleration import wants_channels_last

    size, batch = (32, 16) if quick else (224, 128)
    data = ImageClassificationData.from_folders(train_folder=folder, image_size=size, batch_size=batch)
    device = torch.device("cuda" if cuda else "cpu")
    model = ImageClassifier(
        backbone="test_resnet" if quick else "resnet18", labels=data.labels, pretrained=False, lr_scheduler=None
    ).to(device)
    model.uses_channels_last = wants_channels_last(model.channels_last, model, device)
    if model.uses_channels_last:
        model.to(memory_format=torch.channels_last)
    precision = auto_precision("cuda" if cuda else "cpu")
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = data.train_dataloader()
    if cuda:  # what the Trainer asks for on CUDA
        loader = torch.utils.data.DataLoader(
            loader.dataset,
            batch_size=batch,
            shuffle=True,
            num_workers=data.num_workers,
            pin_memory=True,
            persistent_workers=data.num_workers > 0,
            drop_last=True,
        )

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    held: list[tuple[torch.Tensor, torch.Tensor]] = []
    warmup, count, start = 3 if not quick else 1, 0, 0.0
    for epoch in range(2):
        for index, (x, y) in enumerate(loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if epoch == 0 and len(held) < 8:
                held.append((x, y))
            if epoch == 0 and index == warmup:
                _sync(cuda)
                start, count = time.perf_counter(), 0
            step(x, y)
            count += len(x)
    _sync(cuda)
    pipeline_rate = count / (time.perf_counter() - start)
    rounds = max(1, count // (len(held) * batch))
    step(*held[0])
    _sync(cuda)
    start = time.perf_counter()
    for _ in range(rounds):
        for x, y in held:
            step(x, y)
    _sync(cuda)
    held_rate = rounds * sum(len(x) for x, _ in held) / (time.perf_counter() - start)
    return {
        "images_per_s_pipeline": round(pipeline_rate, 1),
        "images_per_s_on_gpu": round(held_rate, 1),
        "ratio": round(pipeline_rate / held_rate, 3),
        "goal": ">= 0.9 on a GPU with defaults",
        "num_workers": data.num_workers,
        "precision": precision,
        "channels_last": model.uses_channels_last,
        "images": len(loader.dataset),
    }


def device_decode(cuda: bool, folder: str, quick: bool) -> dict[str, Any]:
    """Training images/s with the JPEGs decoded by the CPU workers (the default) vs decoded in one nvjpeg batch and
    augmented on the GPU (``decode_on_device=True``): same model, precision, batches and workers, the two loaders
    alternated over rounds; and how far apart the two paths' training batches are (same seed)."""
    from flashtrain.core.precision import auto_precision
    from flashtrain.core.utilities.apply import move_to_device
    from flashtrain.tasks import ImageClassificationData, ImageClassifier
    from flashtrain.tasks.image.datasets import collate_images
    from flashtrain.tasks.image.device_decode import EncodedBatches, EncodedImages

    size, batch, rounds = (32, 16, 1) if quick else (224, 128, 2)
    device = torch.device("cuda" if cuda else "cpu")
    data = ImageClassificationData.from_folders(train_folder=folder, image_size=size, batch_size=batch, cache_bytes=0)
    train = data.datasets["train"]
    model = ImageClassifier(
        backbone="test_resnet" if quick else "resnet18", labels=data.labels, pretrained=False, lr_scheduler=None
    ).to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(auto_precision(device.type))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def rate(dataset: Any) -> float:
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch,
            shuffle=True,
            num_workers=data.num_workers,
            pin_memory=cuda,
            drop_last=True,
            collate_fn=collate_images,
        )
        count, start = 0, 0.0
        for index, moved in enumerate(loader):
            x, y = move_to_device(moved, device)  # an encoded batch decodes itself here (EncodedImages.to)
            if index == 1:
                _sync(cuda)
                start, count = time.perf_counter(), 0
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            count += len(x)
        _sync(cuda)
        return count / (time.perf_counter() - start)

    rates: dict[str, list[float]] = {"cpu_decode": [], "device_decode": []}
    for _ in range(rounds):
        rates["cpu_decode"].append(rate(train))
        rates["device_decode"].append(rate(EncodedBatches(train)))
    encoded = EncodedBatches(train).__getitems__(list(range(min(16, len(train)))))
    assert isinstance(encoded, EncodedImages)
    torch.manual_seed(0)
    on_device, _ = encoded.to(device)
    torch.manual_seed(0)
    on_cpu, _ = encoded.to("cpu")
    levels = (on_device.float().cpu() - on_cpu).abs() * 255 * 0.226  # normalised units -> 0-255 levels (mean std)
    best = {name: max(values) for name, values in rates.items()}
    return {
        "images_per_s_cpu_decode": round(best["cpu_decode"], 1),
        "images_per_s_device_decode": round(best["device_decode"], 1),
        "ratio": round(best["device_decode"] / best["cpu_decode"], 3),
        "decision": "make decode_on_device the default on CUDA if the ratio is > 1.1 and pixels agree",
        "decoded_on_device": len(encoded.encoded()),
        "batch_mean_abs_diff_levels": round(levels.mean().item(), 3),
        "batch_max_abs_diff_levels": round(levels.max().item(), 1),
        "num_workers": data.num_workers,
        "images": len(train),
    }


def fp16_step(cuda: bool) -> dict[str, Any]:
    """One 16-mixed step through the Trainer's precision plugin: scaled loss, unscaled finite gradients."""
    if not cuda:
        return {"skipped": "16-mixed needs CUDA (the Trainer refuses it on CPU)"}
    from torch.utils.data import DataLoader, TensorDataset

    from flashtrain.core import Module, Trainer

    class Tiny(Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.seen_dtype = str(self.net[0](x).dtype)
            self.loss_finite = bool(torch.isfinite(loss))
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = TensorDataset(torch.randn(8, 3, 16, 16), torch.randint(0, 2, (8,)))
    model = Tiny()
    model.net(torch.randn(1, 3, 16, 16))  # materialise the lazy layer
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(
        max_steps=1,
        accelerator="gpu",
        devices=1,
        precision="16-mixed",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, train_dataloaders=DataLoader(data, batch_size=8))
    changed = any(not torch.equal(a, b.cpu()) for a, b in zip(before, model.parameters()))
    scaler = getattr(trainer.strategy.precision, "scaler", None)
    return {
        "weights_changed": changed,
        "autocast_dtype": getattr(model, "seen_dtype", None),
        "grad_scale": float(scaler.get_scale()) if scaler is not None else None,
        "loss_finite": getattr(model, "loss_finite", None),
    }


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def main() -> None:
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "gpu_check_out")
    os.makedirs(out, exist_ok=True)
    cuda = torch.cuda.is_available()
    quick = not cuda or os.environ.get("GPU_CHECK_QUICK") == "1"
    check = Check(out, cuda)
    check.figures["quick"] = quick
    # Step time limits keep a GPU run inside 8 minutes; the CPU fallback (tests, busy machines) has only the overall
    # limit of gpu_check.sh.
    check.step("cuda_tests", cuda_tests, cuda, None if quick else 150)
    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "jpegs")
        make_jpegs(folder, 32 if quick else 2048, 48 if quick else 224)
        sample = [] if not quick else ["--max-epochs", "1", "--batch-size", "512", "--image-size", "16"]
        check.step(
            "headline_sample", headline, cuda, sample, os.path.join(out, "runs", "sample"), None if quick else 90, quick
        )
        jpeg = ["--train-folder", folder, "--val-split", "0.2", "--max-epochs", "2", "--no-pretrained"]
        if quick:
            jpeg += ["--image-size", "32", "--batch-size", "8"]
        check.step(
            "headline_jpeg", headline, cuda, jpeg, os.path.join(out, "runs", "jpeg"), None if quick else 120, quick
        )
        check.step("trainer_vs_loop", trainer_vs_loop, cuda, quick)
        check.step("input_bound", input_bound, cuda, folder, quick)
        check.step("device_decode", device_decode, cuda, folder, quick)
    check.step("fp16_step", fp16_step, cuda)
    failed = [name for name, step in check.figures["steps"].items() if not step["ok"]]
    check.figures["failed_steps"] = failed
    check.write()
    print(f"wrote {check.path} ({check.figures['total_seconds']} s); failed steps: {failed or 'none'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
