"""Training augmentation stays in training; evaluation is deterministic; checkpoints keep the eval preprocessing."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import ImageClassificationData, ImageClassifier

IMAGES = torch.randint(0, 255, (6, 3, 20, 24), dtype=torch.uint8)
TARGETS = [0, 1, 2, 0, 1, 2]


def test_default_augmentation_only_in_training_and_val_split_reads_without_it():
    data = ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, val_split=0.5, image_size=16)
    torch.manual_seed(0)
    train = data.datasets["train"]
    assert not torch.equal(train[0][0], train[0][0])  # random resized crop + flip
    val = data.datasets["val"]
    assert torch.equal(val[0][0], val[0][0]) and val[0][0].shape == (3, 16, 16)
    plain = ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, train_transform="none")
    assert torch.equal(plain.datasets["train"][0][0], plain.datasets["train"][0][0])


def test_default_augmentation_cannot_mirror_the_label_and_a_flip_is_there_when_asked():
    # A mirrored b is a d, a mirrored left arrow a right arrow: by default nothing is flipped; crops keep 80-100%.
    images = torch.randint(0, 255, (6, 3, 16, 16), dtype=torch.uint8)
    whole = {"scale": (1.0, 1.0), "ratio": (1.0, 1.0)}  # the crop keeps the whole image: only a flip can differ
    torch.manual_seed(0)
    for hflip, mirrored in ((None, False), (1.0, True)):
        options = {**whole, **({} if hflip is None else {"hflip": hflip})}
        data = ImageClassificationData.from_tensors(train_data=images, train_targets=TARGETS, transform_kwargs=options)
        evaluated = data.transforms.apply("val", images[0])
        expected = evaluated.flip(-1) if mirrored else evaluated
        assert all(torch.allclose(data.datasets["train"][0][0], expected) for _ in range(8))
    data = ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, image_size=16)
    assert data.transforms.describe() == "random resized crop 80%-100% of the area, no flip (--hflip 0.5 to add one)"
    flipped = ImageClassificationData.from_tensors(
        train_data=IMAGES, train_targets=TARGETS, transform_kwargs={"hflip": 0.5, "scale": (0.25, 1.0)}
    )
    assert flipped.transforms.describe() == "random resized crop 25%-100% of the area, horizontal flip 0.5"
    plain = ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, train_transform="none")
    assert plain.transforms.describe() == "none"


@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment", "autoaugment", "augmix"])
def test_named_policies_build_and_keep_the_size(policy):
    data = ImageClassificationData.from_tensors(
        train_data=IMAGES, train_targets=TARGETS, image_size=(16, 12), train_transform=policy
    )
    assert data.datasets["train"][0][0].shape == (3, 16, 12)  # non-square (H, W)


def test_a_random_transform_for_evaluation_is_refused():
    random = v2.Compose([v2.ToImage(), v2.RandomResizedCrop(16), v2.ToDtype(torch.float32, scale=True)])
    with pytest.raises(ValueError, match="The val transform gives a different result each time.*train_transform="):
        ImageClassificationData.from_tensors(
            train_data=IMAGES, train_targets=TARGETS, val_data=IMAGES, val_targets=TARGETS, transform=random
        )
    data = ImageClassificationData.from_tensors(
        train_data=IMAGES, train_targets=TARGETS, val_data=IMAGES, val_targets=TARGETS, train_transform=random
    )
    assert torch.equal(data.datasets["val"][0][0], data.datasets["val"][0][0])
    with pytest.raises(ValueError, match="Unknown train_transform 'flip'"):
        ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, train_transform="flip")
    with pytest.raises(TypeError, match=r"transform_kwargs has unknown key\(s\) \['flip'\]"):
        ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, transform_kwargs={"flip": 1})
    with pytest.raises(ValueError, match=r"image_size must be a positive int or \(height, width\)"):
        ImageClassificationData.from_tensors(train_data=IMAGES, train_targets=TARGETS, image_size=(16,))


def _fit_and_reload(tmp_path, **data_options):
    data = ImageClassificationData.from_tensors(
        train_data=IMAGES, train_targets=TARGETS, val_data=IMAGES, val_targets=TARGETS, batch_size=3, **data_options
    )
    model = ImageClassifier("test_resnet", labels=data.labels, pretrained=False)
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), filename="last")
    Trainer(max_epochs=1, logger=False, enable_progress_bar=False, callbacks=[checkpoint]).fit(model, datamodule=data)
    return ImageClassifier.load_from_checkpoint(str(tmp_path / "last.ckpt")), data


def test_checkpoint_stores_a_deterministic_custom_eval_transform_and_predicts_alike(tmp_path):
    """A 32 px unnormalised run: the checkpoint used to claim 224 px with ImageNet statistics."""
    evaluation = v2.Compose([v2.ToImage(), v2.Resize((32, 32), antialias=True), v2.ToDtype(torch.float32, scale=True)])
    loaded, data = _fit_and_reload(tmp_path, val_transform=evaluation)
    steps = loaded.hparams["image_config"]["steps"]
    assert [step["name"] for step in steps] == ["ToImage", "Resize", "ToDtype"] and steps[1]["size"] == [32, 32]
    predict = ImageClassificationData.from_tensors(predict_data=IMAGES[:2])
    trainer = Trainer(logger=False, enable_progress_bar=False)
    trainer.predict(loaded, datamodule=predict)
    assert torch.equal(predict.datasets["predict"][0], evaluation(IMAGES[0]))  # exactly what validation saw


def test_checkpoint_with_an_unstorable_eval_transform_refuses_to_guess(tmp_path):
    loaded, _ = _fit_and_reload(
        tmp_path, val_transform=lambda image: v2.functional.to_dtype(image, torch.float32, scale=True)
    )
    assert "custom" in loaded.hparams["image_config"]
    trainer = Trainer(logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match="custom transform .* a checkpoint cannot store. Pass the same transform"):
        trainer.predict(loaded, datamodule=ImageClassificationData.from_tensors(predict_data=IMAGES[:2]))
    given = ImageClassificationData.from_tensors(
        predict_data=IMAGES[:2],
        predict_transform=lambda image: v2.functional.to_dtype(image, torch.float32, scale=True),
    )
    assert len(trainer.predict(loaded, datamodule=given, output="labels")) == 2


def test_non_square_size_reaches_the_checkpoint(tmp_path):
    loaded, _ = _fit_and_reload(tmp_path, image_size=(16, 24))
    assert loaded.hparams["image_config"]["image_size"] == [16, 24]
    assert loaded.image_config.size == (16, 24)
