"""ImageClassifier options Flash users relied on: heads, own backbones, backbone_kwargs, registries, freezing
with BatchNorm, model.output, mixup, embedders, interpretation pictures and show_train_batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import ImageClassificationData, ImageClassifier, ImageEmbedder

TINY = "test_resnet"
IMAGES = torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)
TARGETS = [0, 1, 2, 3] * 2


def quiet(**kwargs):
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return Trainer(**{**options, **kwargs})


def data(**kwargs):
    return ImageClassificationData.from_tensors(
        train_data=IMAGES, train_targets=TARGETS, val_data=IMAGES, val_targets=TARGETS, batch_size=4, **kwargs
    )


def test_heads_by_name_by_function_and_registries():
    linear = ImageClassifier(TINY, num_classes=4, pretrained=False, head="linear")
    assert isinstance(linear.head, torch.nn.Linear) and linear.head.out_features == 4
    mlp = ImageClassifier(TINY, num_classes=4, pretrained=False, head="mlp")
    assert isinstance(mlp.head, torch.nn.Sequential) and mlp.head[-1].out_features == 4
    seen = []

    def head(num_features, num_classes):
        seen.append((num_features, num_classes))
        return torch.nn.Linear(num_features, num_classes)

    ImageClassifier(TINY, num_classes=4, pretrained=False, head=head)
    assert seen and seen[0][1] == 4
    assert ImageClassifier.available_heads() == ["linear", "mlp"]
    assert "resnet18" in ImageClassifier.available_backbones("resnet18")
    assert ImageClassifier.available_outputs() == ["labels", "probabilities", "logits", "top_k", "classes", "preds"]
    with pytest.raises(ValueError, match="Unknown head 'conv'. Allowed: linear, mlp"):
        ImageClassifier(TINY, num_classes=4, pretrained=False, head="conv")
    with pytest.raises(ValueError, match=r"The head maps features to shape \(3,\), expected \(4,\)"):
        ImageClassifier(TINY, num_classes=4, pretrained=False, head=lambda n, c: torch.nn.Linear(n, 3))


def test_own_backbone_module_trains_and_its_checkpoint_asks_for_it(tmp_path):
    own = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    model = ImageClassifier((own, 6), num_classes=4, pretrained=False)
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), filename="last")
    quiet(max_epochs=1, enable_checkpointing=True, callbacks=[checkpoint]).fit(model, datamodule=data(image_size=16))
    with pytest.raises(ValueError, match="trained with your own backbone module.*backbone=\\(module, num_features\\)"):
        ImageClassifier.load_from_checkpoint(str(tmp_path / "last.ckpt"))
    again = ImageClassifier.load_from_checkpoint(str(tmp_path / "last.ckpt"), backbone=(own, 6))
    assert torch.equal(again.head.weight, model.head.weight)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        ImageClassifier((own, "6"), num_classes=4)


def test_backbone_kwargs_reach_timm():
    model = ImageClassifier("resnet18", num_classes=4, pretrained=False, backbone_kwargs={"drop_rate": 0.3})
    assert model.backbone.drop_rate == 0.3
    with pytest.raises(TypeError, match="backbone_kwargs for test_resnet"):
        ImageClassifier(TINY, num_classes=4, pretrained=False, backbone_kwargs={"no_such_option": 1})
    with pytest.raises(ValueError, match=r"backbone_kwargs may not set \['num_classes'\]"):
        ImageClassifier(TINY, num_classes=4, pretrained=False, backbone_kwargs={"num_classes": 3})


def test_freeze_leaves_batchnorm_trainable_as_lightning_does():
    def trainable_backbone_parameters(train_bn):
        model = ImageClassifier("resnet18", num_classes=4, pretrained=False)
        trainer = quiet(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
        trainer.finetune(model, datamodule=data(image_size=32), strategy="freeze", train_bn=train_bn)
        return sum(p.numel() for p in model.backbone.parameters() if p.requires_grad)

    assert trainable_backbone_parameters(True) == 9600  # resnet18's BatchNorm weights and biases
    assert trainable_backbone_parameters(False) == 0


def test_model_output_is_a_name_or_refused():
    model = ImageClassifier(TINY, num_classes=4, pretrained=False)
    model.output = "probabilities"
    rows = model.format_predictions([torch.zeros(2, 4)])
    assert rows == [[0.25] * 4] * 2
    with pytest.raises(ValueError, match="Unknown output 'class' for ImageClassifier. Allowed: labels"):
        model.output = "class"


def test_mixup_and_cutmix_train():
    model = ImageClassifier(TINY, num_classes=4, pretrained=False, mixup_alpha=0.2, cutmix_alpha=1.0)
    trainer = quiet(max_epochs=1)
    trainer.fit(model, datamodule=data(image_size=16))
    assert torch.isfinite(trainer.callback_metrics["train_loss"])
    with pytest.raises(ValueError, match="mixup_alpha / cutmix_alpha are for single-label data"):
        ImageClassifier(TINY, num_classes=4, pretrained=False, multi_label=True, mixup_alpha=0.2)


def test_embedders_give_one_vector_per_image():
    predict = ImageClassificationData.from_tensors(predict_data=IMAGES[:3], batch_size=2)
    embedder = ImageEmbedder(TINY, pretrained=False, image_size=16)
    vectors = quiet().predict(embedder, datamodule=predict, output="embeddings")
    assert len(vectors) == 3 and len(vectors[0]) == embedder.backbone.num_features
    classifier = ImageClassifier(TINY, num_classes=4, pretrained=False, image_size=16)
    layer = classifier.as_embedder("layer1")
    assert "layer1" in layer.available_layers() and layer.backbone is classifier.backbone
    maps = quiet().predict(layer, datamodule=ImageClassificationData.from_tensors(predict_data=IMAGES[:3]))
    assert torch.cat(maps).shape[0] == 3
    with pytest.raises(ValueError, match="The backbone has no layer 'layer9'"):
        classifier.as_embedder("layer9")


@pytest.mark.slow
def test_interpretation_pictures_and_train_batch_are_written(tmp_path):
    model = ImageClassifier(TINY, num_classes=4, pretrained=False, interpretation=True)
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"))
    trainer = Trainer(max_epochs=1, default_root_dir=str(tmp_path), callbacks=[checkpoint], enable_progress_bar=False)
    trainer.fit(model, datamodule=data(image_size=16))
    for name in ("confusion_matrix.png", "top_losses.png"):
        path = tmp_path / "ckpt" / name
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer.logger.experiment.flush()
    events = EventAccumulator(trainer.logger.log_dir)
    events.Reload()
    assert {"interpretation/confusion_matrix", "interpretation/top_losses"} <= set(events.Tags()["images"])
    picture = data(image_size=16).show_train_batch(str(tmp_path / "batch.png"), num_images=6)
    assert Path(picture).read_bytes()[:4] == b"\x89PNG"
