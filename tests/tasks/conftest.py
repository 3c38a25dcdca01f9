"""Fixtures shared by the task tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def task_checkpoints(tmp_path_factory) -> dict[str, str]:
    """A tiny trained checkpoint of each task (export and serve tests start from these)."""
    from tests.tasks import checkpoints

    folder = tmp_path_factory.mktemp("task-checkpoints")
    return {
        "image": checkpoints.image_checkpoint(folder),
        "text": checkpoints.text_checkpoint(folder),
        "tabular": checkpoints.tabular_checkpoint(folder),
        "regression": checkpoints.tabular_checkpoint(folder, regression=True, backbone="ft_transformer"),
    }
