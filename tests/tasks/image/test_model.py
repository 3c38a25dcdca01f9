"""ImageClassifier: backbones, training, each predict output, multi-label, heads, weights, checkpoints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import ImageClassificationData, ImageClassifier, available_backbones
from flashtrain.tasks.image import backbones as backbone_registry
from tests.tasks.image.test_data import write_images

TINY = "test_resnet"  # timm's tiny test model: fast on CPU


def quiet(**kwargs):
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    options.update(kwargs)
    return Trainer(**options)


@pytest.fixture
def folders(tmp_path):
    for index, name in enumerate(("circle", "square", "star")):
        write_images(tmp_path / "train" / name, [f"{index}{i}.png" for i in range(8)])
        write_images(tmp_path / "val" / name, [f"{index}v.png"])
    return tmp_path


def test_available_backbones_lists_timm_and_torchvision():
    names = available_backbones("resnet18")
    assert "resnet18" in names and "torchvision/resnet18" in names


@pytest.mark.parametrize("backbone", [TINY, "torchvision/mobilenet_v3_small"])
def test_trains_and_predicts_one_entry_per_input_in_order(folders, backbone):
    data = ImageClassificationData.from_folders(
        train_folder=str(folders / "train"), val_folder=str(folders / "val"), image_size=32, batch_size=8
    )
    model = ImageClassifier(backbone=backbone, labels=data.labels, pretrained=False)
    trainer = quiet(max_epochs=1)
    trainer.fit(model, datamodule=data)
    assert {"train_loss", "val_loss", "val_acc"} <= set(trainer.callback_metrics)
    files = sorted(str(p) for p in (folders / "val").rglob("*.png"))
    predict = ImageClassificationData.from_files(predict_files=files, batch_size=2)
    labels = trainer.predict(model, datamodule=predict, output="labels")
    probabilities = trainer.predict(model, datamodule=predict, output="probabilities")
    logits = trainer.predict(model, datamodule=predict, output="logits")
    top = trainer.predict(model, datamodule=predict, output="top_k")
    assert len(labels) == len(probabilities) == len(logits) == len(top) == 3
    assert all(label in data.labels for label in labels)
    assert [max(range(3), key=row.__getitem__) for row in probabilities] == [data.labels.index(x) for x in labels]
    assert all(abs(sum(row) - 1) < 1e-5 for row in probabilities)
    assert [pairs[0][0] for pairs in top] == labels and len(top[0]) == 3
    with pytest.raises(
        ValueError, match="Unknown output 'class' for ImageClassifier. Allowed: labels, probabilities, logits, top_k"
    ):
        trainer.predict(model, datamodule=predict, output="class")


def test_multi_label_and_custom_head(folders):
    files = sorted(str(p) for p in (folders / "train").rglob("*.png"))
    targets = [["red"] if i % 2 else ["red", "round"] for i in range(len(files))]
    data = ImageClassificationData.from_files(train_files=files, train_targets=targets, image_size=16, batch_size=8)
    head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(backbone_width(), 2))
    model = ImageClassifier(backbone=TINY, labels=data.labels, multi_label=True, pretrained=False, head=head)
    assert model.head is head
    quiet(max_epochs=1).fit(model, datamodule=data)
    labels = quiet().predict(
        model, datamodule=ImageClassificationData.from_files(predict_files=files[:4]), output="labels"
    )
    assert len(labels) == 4 and all(isinstance(entry, list) and set(entry) <= {"red", "round"} for entry in labels)


def backbone_width():
    return backbone_registry.build_backbone(TINY, pretrained=False).num_features


def test_pretrained_download_offline_fails_fast_with_advice(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1 sets it
    with pytest.raises(RuntimeError, match=r"could not download weights for resnet18: the Hugging Face Hub is in "
                       r"offline mode \(HF_HUB_OFFLINE=1\).*pretrained=False"):  # fmt: skip
        ImageClassifier(backbone="resnet18", num_classes=3, pretrained=True)


def test_pretrained_from_a_local_weights_file(tmp_path):
    source = backbone_registry.build_backbone(TINY, pretrained=False).module
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    model = ImageClassifier(backbone=TINY, num_classes=2, pretrained=str(tmp_path / "weights.pth"))
    for (name, mine), theirs in zip(model.backbone.state_dict().items(), source.state_dict().values()):
        assert torch.equal(mine, theirs), name
    with pytest.raises(FileNotFoundError, match="no weights file there"):
        ImageClassifier(backbone=TINY, num_classes=2, pretrained=str(tmp_path / "missing.pth"))


def test_unknown_backbone_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown backbone 'resnet19'. Did you mean: resnet18"):
        ImageClassifier(backbone="resnet19", num_classes=2, pretrained=False)
    with pytest.raises(ValueError, match="needs labels=datamodule.labels or num_classes=N"):
        ImageClassifier(backbone=TINY, pretrained=False)


def test_freeze_strategy_keeps_the_backbone(folders):
    data = ImageClassificationData.from_folders(train_folder=str(folders / "train"), image_size=16, batch_size=8)
    model = ImageClassifier(backbone=TINY, labels=data.labels, pretrained=False)
    convolutions = [m.weight for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m.weight for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [p.detach().clone() for p in convolutions]
    norms_before = [p.detach().clone() for p in norms]
    head_before = model.head.weight.detach().clone()
    quiet(max_epochs=2).finetune(model, datamodule=data, strategy="freeze")
    assert all(torch.equal(a, b) for a, b in zip(before, convolutions))
    assert not torch.equal(head_before, model.head.weight)
    # train_bn=True (Lightning's default): BatchNorm layers of the frozen backbone still train.
    assert any(not torch.equal(a, b) for a, b in zip(norms_before, norms))


PREDICT_SCRIPT = """
import json, sys
from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassifier, ImageClassificationData
model = ImageClassifier.load_from_checkpoint(sys.argv[1])
data = ImageClassificationData.from_files(predict_files=sys.argv[2:])
trainer = Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False)
print(json.dumps(trainer.predict(model, datamodule=data, output="labels")))
"""


def test_checkpoint_then_predict_in_a_new_process_without_the_training_data(folders, tmp_path):
    data = ImageClassificationData.from_folders(train_folder=str(folders / "train"), image_size=24, batch_size=8)
    model = ImageClassifier(backbone=TINY, labels=data.labels, pretrained=False)
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"))
    trainer = Trainer(
        max_epochs=1, callbacks=[checkpoint], logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, datamodule=data)
    images = sorted(str(p) for p in (folders / "val").rglob("*.png"))
    expected = trainer.predict(
        model, datamodule=ImageClassificationData.from_files(predict_files=images), output="labels"
    )
    moved = tmp_path / "new_images"
    moved.mkdir()
    for path in images:
        shutil.copy(path, moved / os.path.basename(path))
    shutil.rmtree(folders / "train")  # the training folders are gone
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HF_HUB_OFFLINE": "1"}
    new_files = [str(moved / os.path.basename(path)) for path in images]
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_SCRIPT, checkpoint.best_model_path, *new_files],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(expected).replace("'", '"')


@pytest.mark.parametrize("backbone", ["lcnet_050", "mobilenetv3_small_050"])
def test_backbones_with_a_conv_head_after_pooling_size_the_classifier_head_from_its_output(backbone):
    # These timm models widen their pooled features in a conv head (lcnet_050: 256 -> 1280); a head sized from
    # num_features failed in the first forward with "mat1 and mat2 shapes cannot be multiplied".
    model = ImageClassifier(backbone=backbone, pretrained=False, labels=["a", "b", "c"]).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
