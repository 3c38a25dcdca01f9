"""``model.output`` and Flash's Output objects decide how predictions come out, wherever they come out
(``trainer.predict`` without ``output=``, the Predictor behind serve/export); before, they were accepted and then
ignored: ``trainer.predict(model)`` returned raw logits batches."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.inference import predictor_for
from flashtrain.tasks.outputs import ClassesOutput, LabelsOutput, LogitsOutput, PredsOutput, ProbabilitiesOutput

IMAGES = torch.randint(0, 255, (6, 3, 16, 16), dtype=torch.uint8)


def predict(model, **kwargs):
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    datamodule = ImageClassificationData.from_tensors(predict_data=IMAGES, batch_size=4, image_size=16)
    return trainer.predict(model, datamodule=datamodule, **kwargs)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ImageClassifier("test_resnet", labels=["ant", "bee", "wasp"], pretrained=False, image_size=16)


@pytest.mark.parametrize("chosen", ["probabilities", ProbabilitiesOutput()])
def test_model_output_is_what_trainer_predict_returns(model, chosen):
    raw = predict(model)
    assert len(raw) == 2 and raw[0].shape == (4, 3)  # no output chosen: raw batches, as in Lightning
    model.output = chosen
    try:
        rows = predict(model)
    finally:
        model.output = None
    expected = torch.softmax(torch.cat(raw), dim=1)
    assert len(rows) == 6 and torch.allclose(torch.tensor(rows), expected, atol=1e-5)


def test_each_flash_output_object_and_name(model):
    logits = torch.cat(predict(model))
    indices = logits.argmax(dim=1).tolist()
    assert predict(model, output=ClassesOutput()) == indices == predict(model, output="classes")
    assert predict(model, output=LabelsOutput()) == [["ant", "bee", "wasp"][i] for i in indices]
    assert predict(model, output=LabelsOutput(["a", "b", "w"])) == [["a", "b", "w"][i] for i in indices]
    assert torch.allclose(torch.tensor(predict(model, output=LogitsOutput())), logits, atol=1e-5)
    assert torch.allclose(torch.tensor(predict(model, output=PredsOutput())), logits, atol=1e-5)
    assert torch.allclose(torch.tensor(predict(model, output="preds")), logits, atol=1e-5)


def test_wrong_outputs_are_refused(model):
    with pytest.raises(ValueError, match="Unknown output 'class' for ImageClassifier. Allowed: labels"):
        model.output = "class"
    with pytest.raises(ValueError, match="LabelsOutput has 2 labels but the model has 3 classes"):
        predict(model, output=LabelsOutput(["a", "b"]))
    with pytest.raises(TypeError, match="output must be a name"):
        model.output = 3


def test_the_predictor_behind_serve_and_export_honours_model_output(model):
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8))
    model.output = LabelsOutput(["a", "b", "w"])
    try:
        predictor = predictor_for(model)
        assert predictor.predict([image])[0] in ("a", "b", "w")
        probabilities = predictor.predict([image], output="probabilities")[0]
        assert len(probabilities) == 3 and abs(sum(probabilities) - 1) < 1e-5
    finally:
        model.output = None
