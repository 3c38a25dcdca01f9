"""Offline stand-ins for what Lightning's example scripts download (harness only; never imported by flashtrain).

Each writes small synthetic files of the real format where the script or torchvision looks before downloading,
so the script runs unchanged with no network:

- CIFAR-10 (``profiler_example.py``, ``servable_module/production.py``): ``<root>/cifar-10-batches-py`` in the
  pickled-batch format. torchvision compares these files' md5 with the real ones', so ``smoke_run.py`` swaps
  torchvision's CIFAR integrity check for "the file exists" in the harness process (``STAND_INS_ENV``).
- The cats/dogs archive (``computer_vision_fine_tuning.py``): ``data/cats_and_dogs_filtered.zip``. torchvision's
  ``download_url`` skips the download when the file exists and no md5 is given, as here; ``prepare_data``
  deletes the archive after extracting it, so it is written again before every run.
- An ImageNet folder (``imagenet.py --model.data_path``): ``train/`` and ``val/`` of class folders of JPEGs.
- Pretrained torchvision weights (``get_torchvision_model(name, weights="DEFAULT")``): randomly initialised
  weights under the file name torch.hub caches the real ones as, in ``$TORCH_HOME/hub/checkpoints`` (the hub
  loads a cached file without downloading or hashing it).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

STAND_INS_ENV = "LIGHTNING_COMPAT_STAND_INS"  # set by run_examples.py for the script's process
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _jpeg(rng: np.random.Generator, size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def prepare_cifar10(root: Path, per_batch: int = 40, seed: int = 0) -> None:
    """CIFAR-10's python version: five training batches, a test batch and the label names, ``per_batch`` each."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        # blocky images of 1 to 8 cells a side: more varied for a network than pixel noise, which a randomly
        # initialised ResNet maps to nearly one class
        images = []
        for _ in range(per_batch):
            cells = int(rng.choice([1, 2, 4, 8]))
            low = rng.integers(0, 255, (3, cells, cells), dtype=np.uint8)
            images.append(np.kron(low, np.ones((1, 32 // cells, 32 // cells), dtype=np.uint8)).reshape(-1))
        batch = {"data": np.stack(images), "labels": rng.integers(0, 10, per_batch).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR_CLASSES}))


def prepare_cats_and_dogs(data: Path, per_class: int = 12, seed: int = 0) -> None:
    """``cats_and_dogs_filtered.zip`` as published: ``cats_and_dogs_filtered/{train,validation}/{cats,dogs}/``."""
    rng = np.random.default_rng(seed)
    data.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(data / "cats_and_dogs_filtered.zip", "w") as archive:
        for split in ("train", "validation"):
            for label in ("cats", "dogs"):
                for index in range(per_class):
                    name = f"cats_and_dogs_filtered/{split}/{label}/{label[:-1]}.{index}.jpg"
                    archive.writestr(name, _jpeg(rng, (64, 64)))


def prepare_imagenet(root: Path, per_class: int = 8, seed: int = 0) -> None:
    """An ImageNet-layout folder: ``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG`` for two classes."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                (folder / f"{wnid}_{index}.JPEG").write_bytes(_jpeg(rng, (80, 96)))


def prepare_torchvision_weights(torch_home: Path, names: list[str]) -> None:
    """Random weights cached as torchvision's DEFAULT weights of each architecture in ``names``."""
    import torch
    import torchvision

    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        url = torchvision.models.get_model_weights(name).DEFAULT.url
        target = checkpoints / url.rsplit("/", 1)[-1]
        if not target.exists():
            torch.save(torchvision.models.get_model(name, weights=None).state_dict(), target)


def accept_stand_in_cifar() -> None:
    """In this process, CIFAR-10 files count as intact when they exist (the stand-ins cannot match the md5)."""
    import os

    import torchvision.datasets.cifar as cifar

    cifar.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)  # type: ignore[assignment]


def put_first_image_of_class(root: Path, classes: list[int], wanted: int) -> bool:
    """Move the first image of ``data_batch_1`` whose probed class is ``wanted`` to the front."""
    if wanted not in classes:
        return False
    index = classes.index(wanted)
    path = root / "cifar-10-batches-py" / "data_batch_1"
    batch = pickle.loads(path.read_bytes())
    order = [index] + [i for i in range(len(batch["labels"])) if i != index]
    batch = {"data": batch["data"][order], "labels": [batch["labels"][i] for i in order]}
    path.write_bytes(pickle.dumps(batch))
    return True
