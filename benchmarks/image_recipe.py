"""ImageClassifier with its defaults vs a hand-written timm recipe (timm's training transform, AdamW + OneCycle,
label smoothing 0.1), same backbone, epochs and batch size, on scikit-learn's digits at 32 px; accuracy on a
held-out 20% and wall time of each, measured one after the other in one process.

    python benchmarks/image_recipe.py [--epochs 6] [--backbone resnet18]

Two settings: from scratch on all ten digits, and fine-tuning: a backbone pretrained here (by the same recipe)
on digits 0-4 is fine-tuned on 200 training images of digits 5-9 (no weights can be downloaded).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits(classes: range, train_limit: int | None = None, seed: int = 0):
    bunch = load_digits()
    keep = np.isin(bunch.target, list(classes))
    images = (bunch.images[keep] * 16).clip(0, 255).astype(np.uint8)  # 0-16 -> 0-255, (N, 8, 8)
    targets = bunch.target[keep]
    x_train, x_test, y_train, y_test = train_test_split(
        images, targets, test_size=0.2, random_state=seed, stratify=targets
    )
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    return x_train, y_train, x_test, y_test


def flashtrain_run(data, backbone: str, epochs: int, batch_size: int, init: dict | None):
    from flashtrain.core import Trainer
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    x_train, y_train, x_test, y_test = data
    dm = ImageClassificationData.from_numpy(
        train_data=x_train, train_targets=y_train, image_size=32, batch_size=batch_size
    )
    model = ImageClassifier(backbone, labels=dm.labels, pretrained=False)
    if init is not None:
        model.backbone.load_state_dict(init)
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=dm)
    predict = ImageClassificationData.from_numpy(predict_data=x_test, batch_size=256)
    labels = trainer.predict(model, datamodule=predict, output="labels")
    return float(np.mean(np.asarray(labels) == y_test)), model.backbone


def timm_run(data, backbone: str, epochs: int, batch_size: int, init: dict | None):
    """What a practitioner writes by hand with timm: create_transform, AdamW + OneCycleLR, label smoothing."""
    import timm
    from PIL import Image
    from timm.data import create_transform

    x_train, y_train, x_test, y_test = data
    labels = sorted(set(y_train.tolist()))
    index = {label: i for i, label in enumerate(labels)}
    train_tf = create_transform(32, is_training=True)
    eval_tf = create_transform(32, is_training=False, crop_pct=1.0)

    def pil(image):
        return Image.fromarray(image).convert("RGB")

    model = timm.create_model(backbone, pretrained=False, num_classes=len(labels))
    if init is not None:
        model.load_state_dict(init, strict=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if len(batch) < 2:
                continue
            images = torch.stack([train_tf(pil(x_train[i])) for i in batch])
            targets = torch.tensor([index[int(y_train[i])] for i in batch])
            loss = loss_fn(model(images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.stack([eval_tf(pil(image)) for image in x_test]))
    predicted = np.asarray([labels[i] for i in logits.argmax(1).tolist()])
    return float(np.mean(predicted == y_test)), model


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    from flashtrain.core import seed_everything

    print(f"backbone={args.backbone} epochs={args.epochs} batch_size={args.batch_size} image_size=32")
    print(f"{'setting':<22}{'flashtrain acc':>15}{'timm acc':>10}{'flashtrain s':>14}{'timm s':>8}")
    scratch = digits(range(10))
    seed_everything(0)
    (ours, _), our_time = timed(flashtrain_run, scratch, args.backbone, args.epochs, args.batch_size, None)
    seed_everything(0)
    (theirs, _), their_time = timed(timm_run, scratch, args.backbone, args.epochs, args.batch_size, None)
    print(f"{'from scratch':<22}{ours:>15.4f}{theirs:>10.4f}{our_time:>14.1f}{their_time:>8.1f}")
    seed_everything(0)
    _, pretrained = flashtrain_run(digits(range(5)), args.backbone, args.epochs, args.batch_size, None)
    weights = {k: v.clone() for k, v in pretrained.state_dict().items()}
    finetune = digits(range(5, 10), train_limit=200)
    seed_everything(0)
    (ours, _), our_time = timed(flashtrain_run, finetune, args.backbone, args.epochs, args.batch_size, weights)
    seed_everything(0)
    (theirs, _), their_time = timed(timm_run, finetune, args.backbone, args.epochs, args.batch_size, weights)
    print(f"{'fine-tune (200 imgs)':<22}{ours:>15.4f}{theirs:>10.4f}{our_time:>14.1f}{their_time:>8.1f}")


if __name__ == "__main__":
    main()
