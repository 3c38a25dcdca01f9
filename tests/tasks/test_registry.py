"""The task registry: every task once, read without torch; a new task is a registry entry plus its own folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from flashtrain.tasks import registry
from flashtrain.tasks.registry import TaskSpec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy_task():
    from tests.tasks.toy import TOY

    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


def test_a_new_task_is_its_registry_entry_and_its_own_folder(toy_task, tmp_path, monkeypatch):
    from flashtrain.cli.main import main

    monkeypatch.delenv("FLASHTRAIN_DEBUG", raising=False)
    x = [i / 40 for i in range(40)]
    pd.DataFrame({"x": x, "y": [3 * v + 1 for v in x]}).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "run"
    argv = ["toy_regression", "--train-file", str(tmp_path / "t.csv"), "--output-dir", str(out), "--logger", "csv"]
    assert main(argv) == 0
    (checkpoint,) = out.rglob("best.ckpt")
    config = yaml.safe_load((checkpoint.parents[1] / "config.yaml").read_text())
    assert (config["task"], config["max_epochs"], config["learning_rate"], config["batch_size"]) == (
        "toy_regression",
        20,
        0.1,
        8,
    )  # the toy's declared defaults, recorded
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(checkpoint),
                "--file",
                str(tmp_path / "t.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert list(predicted.columns) == ["x", "y", "prediction"]
    assert (predicted["prediction"] - predicted["y"]).abs().mean() < 0.2  # y = 3x + 1 learned
    from flashtrain.tasks.inference import predictor_for

    assert predictor_for(str(checkpoint)).predict([{"x": 0.5}]) == pytest.approx([2.5], abs=0.2)  # serve's route
    assert main(["export", "--checkpoint", str(checkpoint), "--format", "torchscript", "--out", str(out / "x")]) == 0
    exported = torch.jit.load(str(out / "x" / "model.pt"))  # the toy's own graph (tests/tasks/toy/export.py)
    assert exported(torch.tensor([[0.5]])).item() == pytest.approx(
        predictor_for(str(checkpoint)).predict([{"x": 0.5}])[0]
    )
    # Nothing in the packages had to learn the toy's name.
    spelled = subprocess.run(["grep", "-rl", "toy_regression", str(REPO / "packages")], capture_output=True, text=True)
    assert spelled.stdout == ""


def test_unknown_and_duplicate_tasks_are_refused_with_what_is_known(toy_task):
    with pytest.raises(ValueError, match=r"no task named 'nope'; known tasks: image_classification, .*toy_regression"):
        registry.get("nope")
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        registry.register(toy_task)
    with pytest.raises(ValueError, match=r"kind='clustering' is not one of \('classification', 'regression'\)"):
        TaskSpec(name="x", kind="clustering", model="m:M", data="m:D", predictor="m:P", command="m")


def test_the_registry_is_read_without_torch_and_names_what_exists():
    code = "import sys\nfrom flashtrain.tasks import registry\nprint(len(registry.names()), 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["4", "False"]
    for spec in registry.tasks():  # every "module:Class" string names something real
        for part in ("model", "data", "predictor", "export_graph", "backbones"):
            if getattr(spec, part) is not None:
                assert callable(spec.load(part)), (spec.name, part)
        assert spec.load("model").task_name == spec.name
        assert spec.load("model").default_max_epochs == spec.defaults["max_epochs"]
