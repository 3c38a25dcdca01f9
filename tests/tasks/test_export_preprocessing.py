"""Exports with the preprocessing inside: raw table rows (strings, NaN) and raw uint8 images of any size in, labels and
probabilities out, run by onnxruntime alone (torch and pandas blocked in the process that runs the file) and compared
with ``flash-train predict``; a graph that disagrees fails the export."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from flashtrain.tasks.export import export
from flashtrain.tasks.inference import predictor_for
from tests.cli.test_cli import flash_train

# Runs an exported ONNX file where torch and pandas cannot be imported: what a deployment has.
ONNX_ONLY = """
import json, sys
sys.modules["torch"] = None
sys.modules["pandas"] = None
import numpy as np
import onnxruntime
model, feed_file, out_file = sys.argv[1:4]
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
feeds = json.load(open(feed_file))
results = []
for feed in feeds:
    arrays = {k: np.array(v, dtype=object if isinstance(v[0], str) else np.float64) for k, v in feed.items()}
    arrays = {k: (a.astype(np.uint8) if k == "image" else a) for k, a in arrays.items()}
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, arrays)))
    results.append({k: np.asarray(v).tolist() for k, v in outputs.items()})
torch_loaded = sys.modules.get("torch") is not None
json.dump({"results": results, "torch_loaded": torch_loaded}, open(out_file, "w"))
"""


def run_without_torch(model_file, feeds, tmp_path) -> list[dict]:
    (tmp_path / "feeds.json").write_text(json.dumps(feeds))
    (tmp_path / "run.py").write_text(ONNX_ONLY)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), model_file, str(tmp_path / "feeds.json"), str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads((tmp_path / "o.json").read_text())
    assert answer["torch_loaded"] is False
    return answer["results"]


def penguin_rows(count: int, seed: int) -> list[dict]:
    """Rows like the sample table's, with 5% categories never seen in training and 10% missing values."""
    rng = np.random.default_rng(seed)
    islands, sexes = ["Biscoe", "Dream", "Torgersen"], ["female", "male"]
    rows = []
    for _ in range(count):
        row = {
            "island": islands[rng.integers(3)],
            "sex": sexes[rng.integers(2)],
            "bill_length_mm": float(rng.normal(44, 5)),
            "bill_depth_mm": float(rng.normal(17, 2)),
            "flipper_length_mm": float(rng.normal(200, 14)),
            "body_mass_g": float(rng.normal(4200, 800)),
        }
        for name in row:
            draw = rng.random()
            if draw < 0.10:
                row[name] = None
            elif draw < 0.15 and name in ("island", "sex"):
                row[name] = f"never-seen-{rng.integers(1000)}"
        rows.append(row)
    return rows


@pytest.mark.slow
def test_tabular_onnx_takes_raw_rows_and_answers_as_predict_does_without_torch(task_checkpoints, tmp_path):
    import pandas as pd

    checkpoint = task_checkpoints["tabular"]
    result = export(checkpoint, str(tmp_path / "out"))
    assert result.preprocessing_inside
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    names = [spec["name"] for spec in described["inputs"]]
    assert names == ["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    rows = penguin_rows(1000, seed=7)
    pd.DataFrame(rows).to_csv(tmp_path / "rows.csv", index=False)
    for output in ("labels", "probabilities"):
        done = flash_train("predict", "--checkpoint", checkpoint, "--file", "rows.csv", "--output", output,
                           "--out", f"{output}.csv", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    labels = pd.read_csv(tmp_path / "labels.csv")["prediction"].tolist()
    probabilities = pd.read_csv(tmp_path / "probabilities.csv")
    expected = probabilities[[f"probability_{label}" for label in described["labels"]]].to_numpy()

    feed = {name: ["" if row[name] is None else row[name] for row in rows] for name in ("island", "sex")}
    for name in names[2:]:
        feed[name] = [float("nan") if row[name] is None else row[name] for row in rows]
    (answer,) = run_without_torch(result.model_file, [feed], tmp_path)
    assert answer["label"] == labels
    np.testing.assert_allclose(np.array(answer["probabilities"]), expected, atol=1e-5, rtol=0)
    assert len(set(labels)) > 1  # the rows reach more than one class


@pytest.mark.slow
def test_tabular_regressor_onnx_answers_in_the_targets_units(task_checkpoints, tmp_path):
    import onnxruntime

    from flashtrain.tasks.export_preprocessing import tabular_feed

    checkpoint = task_checkpoints["regression"]
    result = export(checkpoint, str(tmp_path / "out"))
    rows = [{k: v for k, v in row.items() if k != "body_mass_g"} for row in penguin_rows(50, seed=3)]
    predictor = predictor_for(checkpoint)
    session = onnxruntime.InferenceSession(result.model_file, providers=["CPUExecutionProvider"])
    (values,) = session.run(["values"], tabular_feed(predictor.preprocessing, rows))
    np.testing.assert_allclose(values[:, 0], predictor.predict(rows), rtol=1e-5)
    assert 2000 < values.mean() < 7000  # grams


def test_a_graph_that_disagrees_with_the_checkpoint_fails_the_export(task_checkpoints, tmp_path, monkeypatch):
    from flashtrain.tasks import export_preprocessing

    build = export_preprocessing.tabular_input_model

    def shifted(preprocessing, *args):  # a wrong median fill, as a bug in the graph would be
        from flashtrain.tasks.tabular.preprocessing import TabularPreprocessing

        wrong = TabularPreprocessing.from_state_dict(preprocessing.state_dict())
        wrong.fill_values = {name: value + 3 * wrong.stds[name] for name, value in wrong.fill_values.items()}
        return build(wrong, *args)

    monkeypatch.setattr(export_preprocessing, "tabular_input_model", shifted)
    with pytest.raises(RuntimeError, match=r"does not reproduce the checkpoint's predictions on raw inputs: .*differ"):
        export(task_checkpoints["tabular"], str(tmp_path / "out"))


@pytest.mark.slow
def test_image_onnx_takes_uint8_images_of_any_size_and_labels_as_predict_does(task_checkpoints, tmp_path):
    from PIL import Image

    from flashtrain.tasks.image import sample_data_folders

    checkpoint = task_checkpoints["image"]
    result = export(checkpoint, str(tmp_path / "out"))
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert described["inputs"] == [{"name": "image", "dtype": "uint8", "shape": ["height", "width", 3]}]
    train, _ = sample_data_folders()
    import glob

    digits = sorted(glob.glob(f"{train}/*/*.png"))[::7][:50]
    rng = np.random.default_rng(0)
    files, feeds = [], []
    for index, path in enumerate(digits):
        size = (int(rng.integers(8, 65)), int(rng.integers(8, 65)))
        image = Image.open(path).convert("RGB").resize(size)
        files.append(str(tmp_path / f"{index}.png"))
        image.save(files[-1])
        feeds.append({"image": np.array(image).tolist()})
    done = flash_train("predict", "--checkpoint", checkpoint, "--files", *files, "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    expected = pd.read_csv(tmp_path / "p.csv")["prediction"].tolist()
    answers = run_without_torch(result.model_file, feeds, tmp_path)
    assert [answer["label"][0] for answer in answers] == expected
    assert len(answers) == 50


@pytest.mark.slow
def test_exported_program_of_an_image_model_takes_uint8_images(task_checkpoints, tmp_path):
    import torch

    result = export(task_checkpoints["image"], str(tmp_path / "out"), format="exported-program")
    assert result.preprocessing_inside
    program = torch.export.load(result.model_file).module()
    image = np.random.default_rng(1).integers(0, 256, (23, 41, 3)).astype(np.uint8)
    from PIL import Image

    expected = predictor_for(task_checkpoints["image"]).forward(
        predictor_for(task_checkpoints["image"]).prepare([Image.fromarray(image)])
    )
    with torch.no_grad():
        produced = program(torch.from_numpy(image))
    assert produced.argmax(1).tolist() == expected.argmax(1).tolist()
    torch.testing.assert_close(produced.softmax(1), expected.softmax(1), atol=2e-2, rtol=0)


def test_what_stays_outside_is_said_in_preprocessing_json(task_checkpoints, tmp_path):
    result = export(task_checkpoints["tabular"], str(tmp_path / "plain"), format="exported-program")
    described = json.loads((tmp_path / "plain" / "preprocessing.json").read_text())
    assert not result.preprocessing_inside and described["preprocessing"]["inside"] is False
    assert [spec["name"] for spec in described["inputs"]] == ["categorical", "numerical"]
    assert "cannot take string columns; export to ONNX" in described["preprocessing"]["why"]
