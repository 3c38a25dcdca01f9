"""ImageClassifier with its defaults vs a hand-written timm recipe, same backbone, epochs, batch size and image size,
on scikit-learn's digits at 32 px: accuracy on a held-out 20% and wall time of each, in one process.

    python benchmarks/image_recipe.py [--backbone resnet10t] [--epochs 3] [--scratch-seeds 0] [--finetune-seeds 0 1 2]

The hand-written recipe is what a practitioner writes with timm: ``timm.create_model``, timm's ImageNet training
transform (``create_transform(is_training=True)``: random resized crop, flip, colour jitter 0.4), AdamW (lr 2e-3,
weight decay 0.05) with ``OneCycleLR`` stepped per batch, label smoothing 0.1, a plain loop over shuffled batches.

Two settings: from scratch on all ten digits (1437 training images), and fine-tuning: a backbone pretrained here
(not timed; by ImageClassifier's defaults) on digits 0-4 is fine-tuned on 200 training images of digits 5-9 (no
weights can be downloaded); both recipes start from the same weights. Each recipe's time covers building the
model and data, training, and predicting the test images. The two alternate which goes first from seed to seed,
after a warm-up step of each, so neither pays for imports or first-call costs. ``--threads 1`` by default: on a
machine other jobs share, two threads fighting for busy cores make step times vary several-fold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

IMAGE_SIZE = 32


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
        train_data=x_train, train_targets=y_train, image_size=IMAGE_SIZE, batch_size=batch_size
    )
    model = ImageClassifier(backbone, labels=dm.labels, pretrained=False)
    if init is not None:
        model.backbone.load_state_dict(init)
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    if init is None:
        trainer.fit(model, datamodule=dm)
    else:
        trainer.finetune(model, datamodule=dm)  # the default strategy ("no_freeze"): what a user gets
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
    train_tf = create_transform(IMAGE_SIZE, is_training=True)
    eval_tf = create_transform(IMAGE_SIZE, is_training=False, crop_pct=1.0)

    def pil(image):
        return Image.fromarray(image).convert("RGB")

    model = timm.create_model(backbone, pretrained=False, num_classes=len(labels))
    if init is not None:
        missing, unexpected = model.load_state_dict(init, strict=False)
        classifier = {f"{model.default_cfg['classifier']}.{p}" for p in ("weight", "bias")}
        if set(missing) != classifier or unexpected:  # only the new head may be missing, or the start differs
            raise RuntimeError(f"pretrained weights do not fit: missing {missing}, unexpected {unexpected}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    generator = torch.Generator().manual_seed(torch.initial_seed())
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if len(batch) < 2:  # BatchNorm cannot train on one image
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
        logits = torch.cat(
            [
                model(torch.stack([eval_tf(pil(image)) for image in x_test[start : start + 256]]))
                for start in range(0, len(x_test), 256)
            ]
        )
    predicted = np.asarray([labels[i] for i in logits.argmax(1).tolist()])
    return float(np.mean(predicted == y_test)), model


def compare(name: str, data, args, seeds: list[int], init: dict | None) -> None:
    from flashtrain.core import seed_everything

    recipes = {"flashtrain": flashtrain_run, "timm": timm_run}
    rows: dict[str, list[tuple[float, float]]] = {recipe: [] for recipe in recipes}
    for position, seed in enumerate(seeds):
        for recipe in list(recipes) if position % 2 == 0 else list(reversed(recipes)):
            seed_everything(seed)
            start = time.perf_counter()
            accuracy, _ = recipes[recipe](data, args.backbone, args.epochs, args.batch_size, init)
            rows[recipe].append((accuracy, time.perf_counter() - start))
        (ours, our_time), (theirs, their_time) = rows["flashtrain"][-1], rows["timm"][-1]
        print(f"{name:<22}{seed:>5}{ours:>16.4f}{theirs:>10.4f}{our_time:>14.1f}{their_time:>8.1f}", flush=True)
    if len(seeds) > 1:
        (ours, our_time), (theirs, their_time) = (np.mean(rows[recipe], axis=0) for recipe in recipes)
        print(f"{name + ' (mean)':<22}{'':>5}{ours:>16.4f}{theirs:>10.4f}{our_time:>14.1f}{their_time:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--scratch-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--finetune-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: see the docstring)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from flashtrain.core import seed_everything

    # Warm-up, not timed: imports (timm, torchvision, the task modules) and first-call costs of both recipes.
    warm = digits(range(10), train_limit=2)
    flashtrain_run(warm, args.backbone, 1, 2, None)
    timm_run(warm, args.backbone, 1, 2, None)

    print(f"backbone={args.backbone} epochs={args.epochs} batch_size={args.batch_size} image_size={IMAGE_SIZE} "
          f"threads={args.threads}")  # fmt: skip
    print(f"{'setting':<22}{'seed':>5}{'flashtrain acc':>16}{'timm acc':>10}{'flashtrain s':>14}{'timm s':>8}")
    if args.scratch_seeds:
        compare("from scratch", digits(range(10)), args, args.scratch_seeds, None)
    if args.finetune_seeds:
        seed_everything(0)
        _, pretrained = flashtrain_run(digits(range(5)), args.backbone, args.epochs, args.batch_size, None)
        weights = {k: v.detach().clone() for k, v in pretrained.state_dict().items()}
        compare("fine-tune (200 imgs)", digits(range(5, 10), train_limit=200), args, args.finetune_seeds, weights)


if __name__ == "__main__":
    main()
