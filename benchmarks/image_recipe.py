"""ImageClassifier with its defaults vs a hand-written timm recipe, same backbone, epochs, batch size and image size,
on scikit-learn's digits at 32 px: accuracy on a held-out 20% and wall time of each, in one process.

    python benchmarks/image_recipe.py [--backbone resnet10t] [--epochs 3] [--finetune-epochs 8] [--pretrain-epochs 5]
        [--scratch-seeds 0] [--finetune-seeds 0 1] [--threads 1] [--timm-crop-scale 0.08] [--timm-color-jitter 0.4]

The hand-written recipe is what a practitioner writes with timm: ``timm.create_model``, timm's ImageNet training
transform (``create_transform(is_training=True)``: random resized crop down to 8% of the area, flip, colour jitter
0.4), AdamW (lr 2e-3, weight decay 0.05) with ``OneCycleLR`` stepped per batch, label smoothing 0.1, a plain loop over
shuffled batches. ``--timm-crop-scale 0.25 --timm-color-jitter 0`` gives it ImageClassifier's augmentation instead
(crop down to 25%, flip, no jitter), which leaves only the training loops to compare.

Two settings: from scratch on all ten digits (1437 training images), and fine-tuning: a backbone pretrained here
(not timed; by ImageClassifier's defaults) on digits 0-4 is fine-tuned on 200 training images of digits 5-9 (no
weights can be downloaded); both recipes start from the same weights. Each recipe's time covers building the
model and data, training, and predicting the test images, as wall seconds and as this process's CPU seconds (on a
machine that other jobs share, wall time follows their load; CPU time is the cost of the recipe itself). The two
alternate which goes first from seed to seed, after a warm-up step of each, so neither pays for imports or
first-call costs. ``--threads 1`` by default: two threads fighting for busy cores make step times vary
several-fold.
"""

from __future__ import annotations

import argparse
import functools
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


def decay_everything_classifier():
    """ImageClassifier as it was before issue 23: weight decay on every parameter, biases and norms included."""
    from flashtrain.tasks import ImageClassifier

    class DecayEverything(ImageClassifier):
        def configure_optimizers(self):
            return self.build_optimizers([p for p in self.parameters() if p.requires_grad])

    return DecayEverything


def flashtrain_run(data, backbone: str, epochs: int, batch_size: int, init: dict | None, model_class=None):
    from flashtrain.core import Trainer
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    x_train, y_train, x_test, y_test = data
    dm = ImageClassificationData.from_numpy(
        train_data=x_train, train_targets=y_train, image_size=IMAGE_SIZE, batch_size=batch_size
    )
    model = (model_class or ImageClassifier)(backbone, labels=dm.labels, pretrained=False)
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


def timm_run(
    data, backbone: str, epochs: int, batch_size: int, init: dict | None, scale: float = 0.08, color_jitter: float = 0.4
):
    """What a practitioner writes by hand with timm: create_transform (timm's defaults: crop scale down to 8%,
    colour jitter 0.4), AdamW + OneCycleLR, label smoothing."""
    import timm
    from PIL import Image
    from timm.data import create_transform

    x_train, y_train, x_test, y_test = data
    labels = sorted(set(y_train.tolist()))
    index = {label: i for i, label in enumerate(labels)}
    train_tf = create_transform(IMAGE_SIZE, is_training=True, scale=(scale, 1.0), color_jitter=color_jitter)
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


def compare(name: str, data, args, epochs: int, seeds: list[int], init: dict | None) -> None:
    from flashtrain.core import seed_everything

    recipes = {
        "flashtrain": flashtrain_run,
        "timm": functools.partial(timm_run, scale=args.timm_crop_scale, color_jitter=args.timm_color_jitter),
    }
    rows: dict[str, list[tuple[float, float, float]]] = {recipe: [] for recipe in recipes}
    for position, seed in enumerate(seeds):
        for recipe in list(recipes) if position % 2 == 0 else list(reversed(recipes)):
            seed_everything(seed)
            wall, cpu = time.perf_counter(), time.process_time()
            accuracy, _ = recipes[recipe](data, args.backbone, epochs, args.batch_size, init)
            rows[recipe].append((accuracy, time.perf_counter() - wall, time.process_time() - cpu))
        print(row(f"{name} ({epochs} ep)", str(seed), rows["flashtrain"][-1], rows["timm"][-1]), flush=True)
    if len(seeds) > 1:
        print(row(f"{name} ({epochs} ep)", "mean", *(tuple(np.mean(rows[recipe], axis=0)) for recipe in recipes)))


HEADER = f"{'setting':<26}{'seed':>5}{'flashtrain acc':>16}{'timm acc':>10}{'wall s':>14}{'cpu s':>14}"


def row(name: str, seed: str, ours: tuple, theirs: tuple) -> str:
    wall, cpu = f"{ours[1]:.0f}/{theirs[1]:.0f}", f"{ours[2]:.0f}/{theirs[2]:.0f}"
    return f"{name:<26}{seed:>5}{ours[0]:>16.4f}{theirs[0]:>10.4f}{wall:>14}{cpu:>14}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="from scratch")
    parser.add_argument("--finetune-epochs", type=int, default=8)
    parser.add_argument("--pretrain-epochs", type=int, default=5, help="of the backbone fine-tuned (on digits 0-4)")
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--scratch-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--finetune-seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--timm-crop-scale", type=float, default=0.08, help="smallest crop area (timm's default)")
    parser.add_argument("--timm-color-jitter", type=float, default=0.4, help="timm's default 0.4; flashtrain's 0")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: see the docstring)")
    parser.add_argument(
        "--decay-ablation",
        action="store_true",
        help="instead: from scratch, weight decay without biases/norms (timm's groups, the default) vs on everything",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from flashtrain.core import seed_everything

    # Warm-up, not timed: imports (timm, torchvision, the task modules) and first-call costs of both recipes.
    warm = digits(range(10), train_limit=2)
    flashtrain_run(warm, args.backbone, 1, 2, None)
    timm_run(warm, args.backbone, 1, 2, None)

    if args.decay_ablation:
        decay_ablation(args)
        return
    print(f"backbone={args.backbone} batch_size={args.batch_size} image_size={IMAGE_SIZE} threads={args.threads}; "
          f"timm crop scale {args.timm_crop_scale}, colour jitter {args.timm_color_jitter}; "
          "wall s and cpu s: flashtrain/timm")  # fmt: skip
    print(HEADER)
    if args.scratch_seeds:
        compare("from scratch", digits(range(10)), args, args.epochs, args.scratch_seeds, None)
    if args.finetune_seeds:
        seed_everything(0)
        _, pretrained = flashtrain_run(digits(range(5)), args.backbone, args.pretrain_epochs, args.batch_size, None)
        weights = {k: v.detach().clone() for k, v in pretrained.state_dict().items()}
        finetune = digits(range(5, 10), train_limit=200)
        compare("fine-tune 200 imgs", finetune, args, args.finetune_epochs, args.finetune_seeds, weights)


def decay_ablation(args) -> None:
    """Accuracy from scratch with each weight-decay grouping, same seeds, data and epochs, in this one run."""
    from flashtrain.core import seed_everything

    everything = decay_everything_classifier()
    print(f"backbone={args.backbone} epochs={args.epochs} batch_size={args.batch_size} image_size={IMAGE_SIZE}")
    print("seed  accuracy: no decay on biases/norms (default)   decay on every parameter (before)")
    pairs = []
    for seed in args.scratch_seeds:
        data = digits(range(10), seed=seed)
        seed_everything(seed)
        grouped, _ = flashtrain_run(data, args.backbone, args.epochs, args.batch_size, None)
        seed_everything(seed)
        plain, _ = flashtrain_run(data, args.backbone, args.epochs, args.batch_size, None, everything)
        pairs.append((grouped, plain))
        print(f"{seed:>4}  {grouped:>44.4f}   {plain:>34.4f}")
    grouped_mean, plain_mean = (float(np.mean(values)) for values in zip(*pairs))
    print(f"mean  {grouped_mean:>44.4f}   {plain_mean:>34.4f}")


if __name__ == "__main__":
    main()
