"""``torch.jit.script`` of a task, as Flash's jit page shows it: the scripted model computes what the task computes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from flashtrain.tasks import ImageClassifier, ImageEmbedder, TabularClassificationData, TabularClassifier

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")


def test_torch_jit_script_of_an_image_classifier_matches_it_and_leaves_it_detached(tmp_path):
    model = ImageClassifier(backbone="test_resnet", num_classes=3, pretrained=False).eval()
    images = torch.rand(2, 3, 32, 32)

    scripted = torch.jit.script(model)  # a plain script, no flag set first (Flash's jit page)

    torch.testing.assert_close(scripted(images), model(images))
    torch.jit.save(scripted, tmp_path / "model.pt")
    torch.testing.assert_close(torch.jit.load(tmp_path / "model.pt")(images), model(images))
    with pytest.raises(RuntimeError, match="not attached to a Trainer"):
        _ = model.trainer  # scripting worked on a copy: the user's module is unchanged


def test_torch_jit_script_of_an_image_embedder_matches_it():
    embedder = ImageEmbedder(backbone="test_resnet", pretrained=False).eval()
    images = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(torch.jit.script(embedder)(images), embedder(images))


@pytest.fixture(scope="module")
def tabular_data():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=40),
            "weight": rng.normal(size=40),
            "colour": rng.choice(["red", "green", "blue"], 40),
            "label": rng.choice(["yes", "no"], 40),
        }
    )
    return TabularClassificationData.from_data_frame(
        categorical_fields=["colour"],
        numerical_fields=["size", "weight"],
        target_fields="label",
        train_data_frame=frame,
        batch_size=8,
    )


@pytest.mark.parametrize("backbone", ["mlp", "tabm"])  # our own modules + traced periodic embeddings; a library
def test_tabular_to_torchscript_scripts_every_backbone_and_matches_on_any_batch_size(tabular_data, backbone, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's tracer warnings for the traced library parts
        model = TabularClassifier.from_data(tabular_data, backbone=backbone).eval()
        scripted = model.to_torchscript(file_path=tmp_path / "tabular.pt")  # the default method: script
    rows = (torch.randint(0, 4, (5, 1)), torch.randn(5, 2))  # 5 rows, where traced parts saw 2

    with torch.no_grad():
        expected = model(rows)
        torch.testing.assert_close(scripted(rows), expected)
        torch.testing.assert_close(torch.jit.load(tmp_path / "tabular.pt")(rows), expected)


def test_tabnet_scripts_in_memory_but_cannot_be_saved_as_on_flash(tabular_data, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TabularClassifier.from_data(tabular_data, backbone="tabnet").eval()
        scripted = torch.jit.script(model)
    rows = (torch.randint(0, 4, (5, 1)), torch.randn(5, 2))
    with torch.no_grad():
        torch.testing.assert_close(scripted(rows), model(rows))
    with pytest.raises(RuntimeError, match="SparsemaxFunction"):  # pytorch-tabnet's Python autograd function
        torch.jit.save(scripted, tmp_path / "tabnet.pt")


def test_tabular_trace_takes_flash_s_dict_input(tabular_data, tmp_path):
    model = TabularClassifier.from_data(tabular_data, backbone="mlp").eval()
    flash_input = {"continuous": torch.randn(3, 2), "categorical": torch.randint(0, 4, (3, 1))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = model.to_torchscript(method="trace", example_inputs=flash_input, file_path=tmp_path / "t.pt")
    with torch.no_grad():
        expected = model((flash_input["categorical"], flash_input["continuous"]))
        torch.testing.assert_close(model(flash_input), expected)
        torch.testing.assert_close(torch.jit.load(tmp_path / "t.pt")(flash_input), expected)
        torch.testing.assert_close(traced(flash_input), expected)
