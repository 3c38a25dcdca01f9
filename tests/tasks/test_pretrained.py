"""save_pretrained / from_pretrained: a folder of safetensors weights, config.json and a model card that rebuilds the
model with bit-identical outputs; Hub repositories through huggingface_hub (a stub server on 127.0.0.1)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from flashtrain.tasks.inference import load_task, predictor_for
from flashtrain.tasks.pretrained import from_pretrained
from tests.tasks import checkpoints

INPUTS = {
    "image": [checkpoints.png_base64(s) for s in range(3)],
    "text": ["good film", "boring plot and a sad story"],
    "tabular": checkpoints.PENGUIN_ROWS,
    "regression": checkpoints.PENGUIN_ROWS,
}


@pytest.mark.parametrize("which", ["image", "text", "tabular", "regression"])
def test_save_and_load_give_bit_identical_outputs(task_checkpoints, which, tmp_path):
    model = load_task(task_checkpoints[which])
    folder = model.save_pretrained(str(tmp_path / "model"))
    files = sorted(os.listdir(folder))
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl", ".ckpt"))]  # nothing pickled
    assert ("tokenizer" in files) == (which == "text")
    loaded = type(model).from_pretrained(folder)
    before, after = predictor_for(model), predictor_for(loaded)
    expected = before.forward(before.prepare(INPUTS[which]))
    assert torch.equal(after.forward(after.prepare(INPUTS[which])), expected)


def test_the_model_card_parses_and_says_what_was_trained(task_checkpoints, tmp_path):
    from huggingface_hub import ModelCard

    model = load_task(task_checkpoints["tabular"])
    card = {"metrics": {"val_acc": 0.93}, "seed": 7, "data": {"rows": 344, "class_counts": {"Adelie": 152}},
            "confusion_matrix": [[50, 1, 0], [2, 20, 0], [0, 0, 40]]}  # fmt: skip
    folder = model.save_pretrained(str(tmp_path / "model"), card=card)
    parsed = ModelCard.load(os.path.join(folder, "README.md"))
    assert parsed.data.library_name == "flashtrain" and parsed.data.pipeline_tag == "tabular-classification"
    (result,) = parsed.data.eval_results
    assert result.metric_type == "val_acc" and result.metric_value == 0.93
    assert "Seed: 7" in parsed.text and '"class_counts"' in parsed.text and "| Adelie | 50 | 1 | 0 |" in parsed.text
    assert json.loads((tmp_path / "model" / "config.json").read_text())["labels"] == ["Adelie", "Chinstrap", "Gentoo"]


def test_what_is_not_a_saved_model_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no config.json: it is not a folder written by save_pretrained"):
        from_pretrained(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"is neither a folder nor a Hub repository id"):
        from_pretrained(str(tmp_path / "missing" / "deeper" / "x"))


LOAD_AND_PREDICT = """
import json, sys
from flashtrain.tasks.inference import predictor_for
from flashtrain.tasks.pretrained import from_pretrained
rows = json.loads(sys.argv[2])
print(json.dumps(predictor_for(from_pretrained(sys.argv[1])).predict(rows, "probabilities")))
"""


@pytest.mark.slow
def test_push_uploads_the_folder_and_from_pretrained_reads_it_back_then_offline(task_checkpoints, tmp_path):
    import subprocess
    import sys

    from tests.tasks.hub_stub import HubStub

    checkpoint = task_checkpoints["tabular"]
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "test-token"}
    rows = json.dumps(checkpoints.PENGUIN_ROWS)
    env.pop("HF_HUB_OFFLINE", None)
    local = subprocess.run(
        [sys.executable, "-m", "flashtrain.cli", "push", "--checkpoint", checkpoint, "--dry-run", "--out",
         str(tmp_path / "penguins")], capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert local.returncode == 0, local.stderr[-2000:]
    expected = {name: (tmp_path / "penguins" / name).read_bytes() for name in os.listdir(tmp_path / "penguins")}
    with HubStub() as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        pushed = subprocess.run(
            [sys.executable, "-m", "flashtrain.cli", "push", "--checkpoint", checkpoint, "--repo", "alice/penguins"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        assert hub.repos["alice/penguins"] == expected  # exactly the folder's files, byte for byte
        command = [sys.executable, "-c", LOAD_AND_PREDICT, "hf://alice/penguins", rows]
        online = subprocess.run(command, capture_output=True, text=True, env=env)
        assert online.returncode == 0, online.stderr[-3000:]
    offline = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, "alice/penguins", rows],
        capture_output=True,
        text=True,
        env={**env, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip  (the stub is gone)
    assert offline.returncode == 0, offline.stderr[-3000:]
    assert json.loads(offline.stdout) == json.loads(online.stdout)
    direct = predictor_for(checkpoint).predict(checkpoints.PENGUIN_ROWS, "probabilities")
    np.testing.assert_allclose(json.loads(online.stdout), direct, atol=1e-6)
