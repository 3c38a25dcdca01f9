"""Flash's serving: its request/response JSON answered next to ours, labels renamed at serve time with
LabelsOutput, and model.serve() (the form Flash's serve examples use)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from flashtrain.tasks import ImageClassifier, TabularClassificationData, TabularClassifier
from flashtrain.tasks.outputs import LabelsOutput
from flashtrain.tasks.serve import create_app


def client(model):
    from fastapi.testclient import TestClient

    return TestClient(create_app(model))


def png_base64() -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 120, dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_flash_requests_and_ours_on_the_same_server_with_renamed_labels():
    model = ImageClassifier("test_resnet", labels=["ant", "bee"], pretrained=False, image_size=16)
    model.output = LabelsOutput(["Ant!", "Bee!"])
    with client(model) as http:
        flash = http.post("/predict", json={"session": "UUID", "payload": {"inputs": {"data": png_base64()}}})
        ours = http.post("/predict", json={"inputs": [png_base64()]})
        probabilities = http.post("/predict", json={"inputs": [png_base64()], "output": "probabilities"})
        broken = http.post("/predict", json={"session": "UUID", "payload": {"inputs": {"data": "not base64!"}}})
    assert flash.status_code == 200 and flash.json()["session"] == "UUID"
    assert flash.json()["result"]["outputs"] in ("Ant!", "Bee!")
    assert ours.json()["predictions"] == [flash.json()["result"]["outputs"]]
    assert len(probabilities.json()["predictions"][0]) == 2
    assert broken.status_code == 400 and "input 0 is not valid base64" in broken.json()["detail"]


def test_flash_tabular_requests_send_csv_text():
    frame = pd.DataFrame({"sex": ["m", "f"] * 10, "fare": np.linspace(5, 90, 20), "survived": [0, 1] * 10})
    data = TabularClassificationData.from_data_frame(
        categorical_fields=["sex"], numerical_fields=["fare"], target_fields="survived", train_data_frame=frame
    )
    model = TabularClassifier.from_data(data)
    model.output = LabelsOutput(["Did not survive", "Survived"])
    csv = frame.drop(columns="survived").head(3).to_csv()  # with the index column, as Flash's client sends it
    with client(model) as http:
        answer = http.post("/predict", json={"session": "s1", "payload": {"inputs": {"data": csv}}})
        not_csv = http.post("/predict", json={"session": "s1", "payload": {"inputs": {"data": 3}}})
    outputs = answer.json()["result"]["outputs"]
    assert answer.status_code == 200 and len(outputs) == 3 and set(outputs) <= {"Did not survive", "Survived"}
    assert not_csv.status_code == 400 and "must be CSV text" in not_csv.json()["detail"]


def test_model_serve_runs_uvicorn_with_the_chosen_output(monkeypatch):
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
    model = ImageClassifier("test_resnet", labels=["ant", "bee"], pretrained=False, image_size=16)
    model.serve(output="probabilities", port=8123)
    assert started["port"] == 8123 and started["host"] == "127.0.0.1" and model.output == "probabilities"
    with pytest.raises(ValueError, match="model.serve\\(\\) takes no input_cls"):
        model.serve(input_cls=object)
