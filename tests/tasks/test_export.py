"""export(): each task's checkpoint to ONNX (run with onnxruntime), TorchScript and ExportedProgram, compared with
the checkpoint's own predictions through the ordinary predict path, plus the files written beside the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks.export import export
from flashtrain.tasks.inference import load_task, predictor_for
from tests.tasks import checkpoints


@pytest.fixture
def made(task_checkpoints):
    return task_checkpoints


def quiet() -> Trainer:
    return Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


def onnx_session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def test_image_onnx_matches_the_checkpoints_predict_path(made, tmp_path):
    from PIL import Image
    from torchvision.transforms import v2

    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    result = export(made["image"], str(tmp_path / "out"), format="onnx", preprocessing=False)
    assert result.max_abs_difference < 1e-4
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert described["task"] == "image_classification" and described["labels"] == ["ant", "bee"]
    size = described["preprocessing"]["image_size"]
    assert size == 32 and described["inputs"][0]["name"] == "pixels"

    files = []
    for seed in range(5):
        files.append(str(tmp_path / f"{seed}.png"))
        (tmp_path / f"{seed}.png").write_bytes(checkpoints.png_bytes(100 + seed, size=(40, 24)))
    expected = quiet().predict(
        ImageClassifier.load_from_checkpoint(made["image"]),
        datamodule=ImageClassificationData.from_files(predict_files=files, batch_size=2),
        output="logits",
    )
    # A user of the export: decode, resize, scale to [0, 1] as preprocessing.json says; the normalisation is inside.
    resize = v2.Compose([v2.ToImage(), v2.Resize((size, size), antialias=True), v2.ToDtype(torch.float32, scale=True)])
    pixels = torch.stack(
        [resize(torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)) for f in files]
    )
    (logits,) = onnx_session(result.model_file).run(None, {"pixels": pixels.numpy()})
    np.testing.assert_allclose(logits, np.array(expected), atol=1e-4, rtol=1e-4)


def test_text_onnx_takes_the_saved_tokenizers_inputs(made, tmp_path):
    from transformers import AutoTokenizer

    from flashtrain.tasks import TextClassificationData, TextClassifier

    result = export(made["text"], str(tmp_path / "out"), format="onnx", preprocessing=False)
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert described["preprocessing"]["max_length"] == 32
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "out" / "tokenizer"))
    texts = ["good film", "a really awful and boring movie, not good", "lovely"]
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="np")
    names = [spec["name"] for spec in described["inputs"]]
    assert set(names) <= set(encoded) and "input_ids" in names and "attention_mask" in names
    (logits,) = onnx_session(result.model_file).run(None, {name: encoded[name].astype(np.int64) for name in names})
    expected = quiet().predict(
        TextClassifier.load_from_checkpoint(made["text"]),
        datamodule=TextClassificationData.from_lists(predict_data=texts),
        output="logits",
    )
    np.testing.assert_allclose(logits, np.array(expected), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("which", ["tabular", "regression"])
def test_tabular_onnx_with_the_stored_preprocessing(made, which, tmp_path):
    import pandas as pd

    from flashtrain.tasks.tabular.preprocessing import TabularPreprocessing

    result = export(made[which], str(tmp_path / "out"), format="onnx", preprocessing=False)
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    preprocessing = TabularPreprocessing.from_state_dict(described["preprocessing"]["parameters"])
    frame = pd.DataFrame(checkpoints.PENGUIN_ROWS)
    tensors = preprocessing.transform(frame, "rows", with_targets=False)
    feed = {"categorical": tensors.categorical.numpy(), "numerical": tensors.numerical.numpy()}
    (outputs,) = onnx_session(result.model_file).run(None, feed)
    expected = predictor_for(made[which]).predict(
        checkpoints.PENGUIN_ROWS, "values" if which == "regression" else "logits"
    )
    if which == "regression":
        assert described["target_names"] == ["body_mass_g"] and described["output"].startswith("values")
        np.testing.assert_allclose(outputs[:, 0], np.array(expected), rtol=1e-4)  # grams, not standardised
        assert 2000 < outputs.mean() < 7000
    else:
        np.testing.assert_allclose(outputs, np.array(expected), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("format", ["torchscript", "exported-program"])
@pytest.mark.parametrize("which", ["image", "text", "tabular"])
def test_torchscript_and_exported_program_reload_and_match(made, which, format, tmp_path):
    result = export(made[which], str(tmp_path / "out"), format=format, preprocessing=False)
    assert result.max_abs_difference < 1e-4
    predictor = predictor_for(made[which])
    inputs = {
        "image": [checkpoints.png_base64(s) for s in range(3)],
        "text": ["good film", "boring plot and a sad story"],
        "tabular": checkpoints.PENGUIN_ROWS,
    }[which]
    batch = predictor.collate(predictor.prepare(inputs))
    expected = predictor.forward(predictor.prepare(inputs))
    if format == "torchscript":
        loaded = torch.jit.load(result.model_file)
    else:
        loaded = torch.export.load(result.model_file).module()
    if which == "image":  # the export takes pixels in [0, 1]: undo the normalisation the predictor applied
        config = load_task(made["image"]).image_config
        mean, std = torch.tensor(config.mean).view(1, 3, 1, 1), torch.tensor(config.std).view(1, 3, 1, 1)
        args = (batch * std + mean,)
    elif which == "text":
        names = [spec["name"] for spec in json.loads((tmp_path / "out" / "preprocessing.json").read_text())["inputs"]]
        args = tuple(batch[name] for name in names)
    else:
        args = batch
    with torch.no_grad():
        torch.testing.assert_close(loaded(*args), expected, atol=1e-4, rtol=1e-4)


def test_bad_format_and_checkpoint_are_explained(made, tmp_path):
    with pytest.raises(
        ValueError, match=r"Unknown export format 'tflite'. Allowed: onnx, torchscript, exported-program"
    ):
        export(made["tabular"], str(tmp_path / "out"), format="tflite")
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(ValueError, match=r"was not written by a flash-train task run \(task: None\)"):
        export(str(tmp_path / "plain.ckpt"), str(tmp_path / "out"))
