"""Device-aware defaults of the image task: precision "auto", channels-last on CUDA, compile, and weight decay
that spares biases and normalisation parameters."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.precision import auto_precision
from flashtrain.tasks import ImageClassifier
from flashtrain.tasks.image.acceleration import wants_channels_last

TINY = "test_resnet"


def test_auto_precision_by_device(monkeypatch):
    assert auto_precision("cpu") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert auto_precision("cuda") == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert auto_precision("cuda") == "16-mixed"  # pre-Ampere: float16 with gradient scaling
    trainer = Trainer(accelerator="cpu", precision="auto", logger=False, enable_checkpointing=False)
    assert trainer.precision == "32-true"


def test_weight_decay_spares_biases_and_normalisation():
    model = ImageClassifier(backbone=TINY, num_classes=3, pretrained=False, lr_scheduler=None)
    optimizer = model.configure_optimizers()
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    assert len(decay_of) == len(named)  # every trainable parameter, once
    for name, parameter in named.items():
        expected = 0.0 if parameter.ndim <= 1 else 0.05  # the default AdamW decay
        assert decay_of[id(parameter)] == expected, name
    plain = ImageClassifier(backbone=TINY, num_classes=3, pretrained=False, lr_scheduler=None, optimizer="sgd")
    assert len(plain.configure_optimizers().param_groups) == 1  # no decay: nothing to split


def test_channels_last_only_on_cuda_for_conv_networks():
    model = ImageClassifier(backbone=TINY, num_classes=2, pretrained=False)
    assert not wants_channels_last("auto", model, torch.device("cpu"))
    assert wants_channels_last("auto", model, torch.device("cuda", 0))
    assert not wants_channels_last("auto", torch.nn.Linear(2, 2), torch.device("cuda", 0))
    assert wants_channels_last(True, model, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"channels_last must be True, False or 'auto', got 'yes'"):
        ImageClassifier(backbone=TINY, num_classes=2, pretrained=False, channels_last="yes")


def test_channels_last_forced_on_cpu_gives_the_same_logits():
    torch.manual_seed(0)
    model = ImageClassifier(backbone=TINY, num_classes=2, pretrained=False, channels_last=True).eval()
    images = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        before = model(images)
        model.uses_channels_last = True
        model.to(memory_format=torch.channels_last)
        after = model(images)
    assert torch.allclose(before, after, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_compiled_channels_last_bf16_training_on_cuda(tmp_path):
    from flashtrain.tasks import ImageClassificationData

    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1] * 8, batch_size=8)
    model = ImageClassifier(backbone=TINY, labels=data.labels, pretrained=False, compile=True)
    trainer = Trainer(
        max_epochs=1,
        accelerator="gpu",
        devices=1,
        precision="auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(model, datamodule=data)
    assert trainer.precision in ("bf16-mixed", "16-mixed") and model.uses_channels_last
    assert all(not name.startswith("_orig_mod") for name in model.state_dict())  # checkpoints keep their names
