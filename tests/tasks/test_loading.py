"""DataLoader settings by machine: num_workers="auto" and pin_memory="auto" (flashtrain.tasks.loading)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from flashtrain.tasks import ImageClassificationData, TabularClassificationData, loading
from tests.tasks.image.test_data import write_images


def _cores(monkeypatch, count: int) -> None:
    monkeypatch.setattr(loading.os, "sched_getaffinity", lambda pid: set(range(count)), raising=False)


@pytest.mark.parametrize(
    "cores, local_world_size, samples, reads_files, workers",
    [
        (16, None, 10_000, True, 8),  # capped
        (4, None, 10_000, True, 3),  # one core left for the training loop
        (1, None, 10_000, True, 0),
        (16, "4", 10_000, True, 3),  # four processes on the machine share its cores
        (16, None, 100, True, 0),  # too few samples to pay for starting workers
        (16, None, 10_000, False, 0),  # in memory already
    ],
)
def test_auto_workers_follow_the_usable_cores(monkeypatch, cores, local_world_size, samples, reads_files, workers):
    _cores(monkeypatch, cores)
    if local_world_size is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local_world_size)
    assert loading.resolve_num_workers("auto", samples, reads_files) == workers


def test_image_data_defaults_to_auto_workers_for_files_and_none_in_memory(tmp_path, monkeypatch):
    _cores(monkeypatch, 3)
    monkeypatch.setattr(loading, "MIN_SAMPLES_FOR_WORKERS", 4)
    files = write_images(tmp_path, [f"{i}.png" for i in range(4)])
    from_files = ImageClassificationData.from_files(train_files=files, train_targets=list("abab"), image_size=8)
    assert from_files.num_workers == 2
    loader = from_files.train_dataloader()
    assert loader.num_workers == 2 and loader.persistent_workers and loader.prefetch_factor == 2
    assert not loader.pin_memory  # no trainer on CUDA
    images = np.zeros((8, 8, 8, 3), dtype=np.uint8)
    in_memory = ImageClassificationData.from_numpy(train_data=images, train_targets=[0, 1] * 4)
    assert in_memory.num_workers == 0 and in_memory.train_dataloader().num_workers == 0
    assert (
        ImageClassificationData.from_files(train_files=files, train_targets=list("abab"), num_workers=1).num_workers
        == 1
    )
    with pytest.raises(ValueError, match=r"num_workers must be an int >= 0 or 'auto', got 'many'"):
        ImageClassificationData.from_files(train_files=files, train_targets=list("abab"), num_workers="many")


def test_tables_in_memory_take_auto_as_no_workers():
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(20.0), "y": ["a", "b"] * 10})
    data = TabularClassificationData.from_data_frame(
        numerical_fields=["x"], target_fields="y", train_data_frame=frame, num_workers="auto"
    )
    assert data.num_workers == 0


def test_pinned_memory_only_when_the_trainer_is_on_cuda(tmp_path):
    files = write_images(tmp_path, ["0.png", "1.png"])
    data = ImageClassificationData.from_files(train_files=files, train_targets=["a", "b"], image_size=8)
    data.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    assert not data.train_dataloader().pin_memory
    data.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cuda", 0)))
    assert data.train_dataloader().pin_memory
    pinned = ImageClassificationData.from_files(train_files=files, train_targets=["a", "b"], pin_memory=True)
    assert pinned.train_dataloader().pin_memory
    with pytest.raises(ValueError, match=r"pin_memory must be True, False or 'auto', got 'yes'"):
        ImageClassificationData.from_files(
            train_files=files, train_targets=["a", "b"], pin_memory="yes"
        ).train_dataloader()
