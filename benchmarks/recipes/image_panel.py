"""ImageClassifier's defaults vs a plain hand-written recipe, from scratch and fine-tuned, on a panel of offline image
sets of different kinds; several seeds, paired differences with 2 standard errors, CPU seconds next to accuracy.

    python benchmarks/recipes/image_panel.py [--seeds 0 1 2] [--epochs 4] [--backbone resnet10t] [--threads 1]
        [--datasets digits characters glyphs photos tiles typefaces] [--modes scratch finetuned]
        [--variants hand task crop25_flip crop60 crop80 none] [--pretrain-epochs 6] [--cache DIR]

The panel (nothing is downloaded; sets drawn at random are split 80/20 with a fixed seed, the 20% is the test):

- ``digits``: scikit-learn's bundled handwritten digits (8x8 scans, 10 classes, 1,437 training images).
- ``characters``: printed characters generated with a known rule: the 26 lowercase letters in 13 typefaces shipped
  with matplotlib (DejaVu, STIX, Computer Modern), random size, position, rotation and noise (1,456 training).
- ``glyphs``: a fixed-orientation domain generated with a known rule: arrows pointing left/right/up/down and the
  letters b/d/p/q drawn with random position, size, stroke width, small rotation and noise (8 classes). A mirror
  image is another class (left <-> right arrow, b <-> d, p <-> q), as for characters, documents or oriented tiles.
- ``photos``: natural-photo patches from scikit-learn's two bundled photos (china.jpg, flower.jpg): random 48-px
  patches, the class is the photo and which third of it (left/middle/right) the patch comes from (6 classes).
- ``tiles``: real scans and textures at their fixed orientation, the images inside scikit-image's wheel
  (``skimage/data``: brick, grass, gravel, moon surface, microscopy cells, coins, a scanned page, scanned text):
  32-px tiles, class = the scan (8 classes, 1,600 / 400); training tiles from the left 75% of each image, test
  tiles from the right 25%. Needs ``pip install --no-deps scikit-image`` (the panel stops with that line).
- ``typefaces``: a fine-grained set generated with a known rule: which of 12 similar typefaces (DejaVu Sans / Mono
  / Serif with their bold and italic cuts, STIX, Computer Modern) prints a random letter (1,248 / 312).

The recipes (same backbone, image size 32, batch 64, epochs, AdamW 2e-3 + one-cycle, weight decay 0.05, label
smoothing 0.1). ``--modes scratch``: random init. ``--modes finetuned``: a backbone pretrained here once (the hand
loop, seed 0, ``--pretrain-epochs`` on 48-px patches of scikit-image's eight colour photos, none of them in the
panel), its weights saved under ``--cache``; both recipes start from that file.

- ``hand``: a plain loop a user writes with timm: ``timm.create_model`` (+ ``load_state_dict`` of the weights),
  resize + normalise, NO augmentation.
- ``task``: ``ImageClassifier`` + ``ImageClassificationData`` with the defaults as shipped, trained by
  ``Trainer.fit`` as ``flash-train image_classification`` trains it; fine-tuned through the public path:
  ``ImageClassifier(..., pretrained="<weights file>")`` + ``trainer.finetune`` (its default strategy).
- ``crop25_flip``: the defaults before issue 27 (random-resized crop down to 25% of the area + horizontal flip);
  ``crop60`` / ``crop80``: crops of 60-100% / 80-100% of the area, no flip (``crop80`` is the default);
  ``none``: the task with ``train_transform="none"`` (isolates the training loop from the augmentation).

Each row: mean test accuracy over the seeds, the paired difference to ``hand`` (same seed, same split) with 2 SE,
and the CPU seconds of this process per run (build, train, predict). ``--threads 1`` by default: on a shared
machine, threads fighting for cores make timings vary several-fold; CPU seconds are the cost of the recipe itself.
Run one process per set (``--datasets NAME``) to use several cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the panels' shared helpers, next to this file
from panel_common import MissingData, package_file, paired_difference  # noqa: E402

IMAGE_SIZE = 32
BATCH_SIZE = 64
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the default normalisation of both recipes


# -- the panel ------------------------------------------------------------------------------------------------
def split(images: np.ndarray, targets: np.ndarray, seed: int = 0):
    from sklearn.model_selection import train_test_split

    return train_test_split(images, targets, test_size=0.2, random_state=seed, stratify=targets)


def digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images * 16).clip(0, 255).astype(np.uint8)  # 0-16 -> 0-255, (N, 8, 8)
    return split(images, bunch.target)


GLYPHS = ("left", "right", "up", "down", "b", "d", "p", "q")


def draw_glyph(name: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One glyph as a (size, size) uint8 image: white strokes on black, jittered; drawn in a 0-1 box first."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    scale = rng.uniform(0.55, 0.85) * size
    cx, cy = size / 2 + rng.uniform(-3, 3), size / 2 + rng.uniform(-3, 3)
    width = int(rng.integers(2, 4))

    def at(x: float, y: float) -> tuple[float, float]:  # box coordinates (0-1, y down) -> pixels
        return cx + (x - 0.5) * scale, cy + (y - 0.5) * scale

    if name in ("left", "right", "up", "down"):
        shaft, head = [(0.1, 0.5), (0.9, 0.5)], [(0.1, 0.5), (0.45, 0.2), (0.45, 0.8)]  # pointing left
        turn = {"left": lambda x, y: (x, y), "right": lambda x, y: (1 - x, y)}
        turn.update({"up": lambda x, y: (y, x), "down": lambda x, y: (y, 1 - x)})
        draw.line([at(*turn[name](*p)) for p in shaft], fill=255, width=width)
        draw.polygon([at(*turn[name](*p)) for p in head], fill=255)
    else:  # a stem and a bowl; b: stem up-left, bowl low-right; the others are its mirror images
        mirror_x, mirror_y = name in ("d", "q"), name in ("p", "q")

        def letter(x: float, y: float) -> tuple[float, float]:
            return at(1 - x if mirror_x else x, 1 - y if mirror_y else y)

        draw.line([letter(0.25, 0.0), letter(0.25, 1.0)], fill=255, width=width)
        corners = [letter(0.25, 0.45), letter(0.85, 1.0)]
        box = [min(c[0] for c in corners), min(c[1] for c in corners), max(c[0] for c in corners)]
        draw.ellipse([box[0], box[1], box[2], max(c[1] for c in corners)], outline=255, width=width)
    image = image.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 20, (size, size))
    return pixels.clip(0, 255).astype(np.uint8)


def glyphs(per_class: int = 250):
    rng = np.random.default_rng(1234)
    images = np.stack([draw_glyph(name, rng) for name in GLYPHS for _ in range(per_class)])
    targets = np.repeat(np.arange(len(GLYPHS)), per_class)
    return split(images, targets)


def photos(per_class: int = 250, patch: int = 48):
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(1234)
    images, targets = [], []
    for photo_index, photo in enumerate(load_sample_images().images):  # (427, 640, 3) uint8 each
        height, width = photo.shape[:2]
        third = width // 3
        for part in range(3):
            for _ in range(per_class):
                top = int(rng.integers(0, height - patch))
                left = int(rng.integers(part * third, (part + 1) * third - patch))
                images.append(photo[top : top + patch, left : left + patch])
                targets.append(photo_index * 3 + part)
    return split(np.stack(images), np.asarray(targets))


def skimage_image(name: str) -> np.ndarray:
    """One of the images shipped inside scikit-image's wheel (``skimage/data``; not the pooch-downloaded ones)."""
    from PIL import Image

    with Image.open(package_file("skimage", f"data/{name}", "scikit-image")) as image:
        return np.asarray(image.convert("RGB" if image.mode in ("RGB", "RGBA", "P") else "L"))


def patches_split(sources: list[np.ndarray], per_class: int, patch: int, seed: int = 1234):
    """Random ``patch``-px patches of each source image, class = the source's index; training patches come from the
    left 75% of each image's columns, test patches from the right 25%, so no test pixel was seen in training."""
    rng = np.random.default_rng(seed)
    train, test = ([], []), ([], [])
    for index, image in enumerate(sources):
        height, width = image.shape[:2]
        border = int(width * 0.75)
        regions = ((train, per_class, (0, border - patch)), (test, per_class // 4, (border, width - patch)))
        for part, count, (low, high) in regions:
            for _ in range(count):
                top, left = int(rng.integers(0, height - patch)), int(rng.integers(low, high))
                part[0].append(image[top : top + patch, left : left + patch])
                part[1].append(index)
    return np.stack(train[0]), np.stack(test[0]), np.asarray(train[1]), np.asarray(test[1])


TILE_SOURCES = ("brick.png", "grass.png", "gravel.png", "moon.png", "cell.png", "coins.png", "page.png", "text.png")


def tiles(per_class: int = 200, patch: int = 32):
    """Scans and textures at their fixed orientation (scikit-image's brick, grass, gravel, moon surface, microscopy
    cells, coins, a scanned page, scanned text): 32-px tiles, class = the scan (8 classes)."""
    return patches_split([skimage_image(name) for name in TILE_SOURCES], per_class, patch)


PRETRAIN_SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png",
                    "retina.jpg", "motorcycle_left.png")  # fmt: skip


def pretrain_photos(per_class: int = 300, patch: int = 48):
    """The backbone's pretraining set (not in the panel): 48-px patches of scikit-image's colour photos, class = the
    photo (8 classes)."""
    return patches_split([skimage_image(name) for name in PRETRAIN_SOURCES], per_class, patch)


LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHARACTER_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
                   "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
                   "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf")  # fmt: skip
FINE_FONTS = CHARACTER_FONTS[:12]  # the fine-grained set's classes: 12 typefaces, several of one family


def render_letter(letter: str, font_file: str, rng: np.random.Generator, size_range: tuple[int, int],
                  rotation: float, size: int = 32) -> np.ndarray:  # fmt: skip
    """``letter`` in the font file shipped with matplotlib (``mpl-data/fonts/ttf``), white on black, at a random
    size, position and small rotation, with pixel noise: a (size, size) uint8 image."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / font_file
    font = ImageFont.truetype(str(font_path), int(rng.integers(*size_range)))
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
    x = (size - (right - left)) / 2 - left + rng.uniform(-3, 3)
    y = (size - (bottom - top)) / 2 - top + rng.uniform(-3, 3)
    draw.text((x, y), letter, fill=255, font=font)
    image = image.rotate(rng.uniform(-rotation, rotation), resample=Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 20, (size, size))
    return pixels.clip(0, 255).astype(np.uint8)


def characters(per_class: int = 70):
    """Printed characters generated with a known rule: the 26 lowercase letters, each in one of 13 typefaces shipped
    with matplotlib (DejaVu, STIX, Computer Modern), random size 14-26 px, position, rotation +-8 deg and noise.
    Mirror images are other letters (b/d, p/q)."""
    rng = np.random.default_rng(1234)
    images, targets = [], []
    for index, letter in enumerate(LETTERS):
        for _ in range(per_class):
            font = CHARACTER_FONTS[int(rng.integers(len(CHARACTER_FONTS)))]
            images.append(render_letter(letter, font, rng, (14, 27), 8.0))
            targets.append(index)
    return split(np.stack(images), np.asarray(targets))


def typefaces(per_class: int = 130):
    """A fine-grained set generated with a known rule: which of 12 similar typefaces (DejaVu Sans / Mono / Serif,
    their bold and italic cuts, STIX, Computer Modern) a random lowercase letter is printed in; size 20-24 px,
    position, rotation +-3 deg and noise."""
    rng = np.random.default_rng(1234)
    images, targets = [], []
    for index, font in enumerate(FINE_FONTS):
        for _ in range(per_class):
            images.append(render_letter(LETTERS[int(rng.integers(26))], font, rng, (20, 25), 3.0))
            targets.append(index)
    return split(np.stack(images), np.asarray(targets))


DATASETS = {"digits": digits, "characters": characters, "glyphs": glyphs, "photos": photos, "tiles": tiles,
            "typefaces": typefaces}  # fmt: skip


# -- the recipes ----------------------------------------------------------------------------------------------
def task_run(data, backbone: str, epochs: int, weights: str | None = None, **data_options) -> float:
    """The task as ``flash-train image_classification`` trains it: from scratch (``Trainer.fit``, pretrained=False)
    or, with ``weights``, fine-tuned through the public path (``pretrained=<weights file>`` + ``trainer.finetune``
    with its default strategy)."""
    from flashtrain.core import Trainer
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    x_train, x_test, y_train, y_test = data
    dm = ImageClassificationData.from_numpy(
        train_data=x_train, train_targets=y_train, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, **data_options
    )
    model = ImageClassifier(backbone, labels=dm.labels, pretrained=weights or False)
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    if weights is None:
        trainer.fit(model, datamodule=dm)
    else:
        trainer.finetune(model, datamodule=dm)
    predict = ImageClassificationData.from_numpy(predict_data=x_test, batch_size=256)
    labels = trainer.predict(model, datamodule=predict, output="labels")
    return float(np.mean(np.asarray(labels) == y_test))


def as_batch(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> normalised float (N, 3, 32, 32)."""
    x = torch.from_numpy(images).float() / 255
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    x = torch.nn.functional.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def hand_train(x_train, y_train, backbone: str, epochs: int, weights: str | None = None):
    """The plainest loop: timm model (the ``weights`` file loaded into all but the new head), AdamW + OneCycleLR
    per batch, label smoothing, no augmentation. Returns the model and its label list."""
    import timm

    labels = sorted(set(y_train.tolist()))
    index = {label: i for i, label in enumerate(labels)}
    inputs, targets = as_batch(x_train), torch.tensor([index[int(y)] for y in y_train])
    model = timm.create_model(backbone, pretrained=False, num_classes=len(labels))
    if weights is not None:
        missing, unexpected = model.load_state_dict(torch.load(weights, weights_only=True), strict=False)
        head = {f"{model.default_cfg['classifier']}.{p}" for p in ("weight", "bias")}
        if set(missing) != head or unexpected:  # only the new head may be missing, or the start differs
            raise RuntimeError(f"pretrained weights do not fit: missing {missing}, unexpected {unexpected}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = int(np.ceil(len(x_train) / BATCH_SIZE))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            if len(batch) < 2:  # BatchNorm cannot train on one image
                continue
            loss = loss_fn(model(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval(), labels


def hand_run(data, backbone: str, epochs: int, weights: str | None = None) -> float:
    x_train, x_test, y_train, y_test = data
    model, labels = hand_train(x_train, y_train, backbone, epochs, weights)
    with torch.no_grad():
        predicted = model(as_batch(x_test)).argmax(1).tolist()
    return float(np.mean(np.asarray([labels[i] for i in predicted]) == y_test))


def pretrained_weights(backbone: str, epochs: int, folder: Path) -> str:
    """The backbone "pretrained here": the hand loop trained once on ``pretrain_photos`` (seed 0), its weights
    without the head saved as ``folder/<backbone>-skimage-photos-e<epochs>.pth`` (reused when there; written to a
    temporary name first, so parallel panel processes never read half a file)."""
    from flashtrain.core import seed_everything

    path = folder / f"{backbone}-skimage-photos-e{epochs}.pth"
    if path.is_file():
        return str(path)
    seed_everything(0)
    x_train, x_test, y_train, y_test = pretrain_photos()
    model, _ = hand_train(x_train, y_train, backbone, epochs)
    with torch.no_grad():
        accuracy = float((model(as_batch(x_test)).argmax(1).numpy() == y_test).mean())
    model.reset_classifier(0)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{id(model)}.tmp")
    torch.save(model.state_dict(), partial)
    partial.replace(path)
    print(f"pretrained {backbone} for {epochs} epochs on skimage photo patches (test accuracy {accuracy:.3f}): {path}")
    return str(path)


VARIANTS = {
    "hand": hand_run,
    "task": task_run,
    "crop25_flip": lambda data, backbone, epochs, weights=None: task_run(
        data, backbone, epochs, weights, transform_kwargs={"scale": (0.25, 1.0), "hflip": 0.5}
    ),
    "crop60": lambda data, backbone, epochs, weights=None: task_run(
        data, backbone, epochs, weights, transform_kwargs={"scale": (0.6, 1.0), "hflip": 0.0}
    ),
    "crop80": lambda data, backbone, epochs, weights=None: task_run(
        data, backbone, epochs, weights, transform_kwargs={"scale": (0.8, 1.0), "hflip": 0.0}
    ),
    "none": lambda data, backbone, epochs, weights=None: task_run(
        data, backbone, epochs, weights, train_transform="none"
    ),
}


def check_installed(datasets: list[str]) -> None:
    """Stop before any training when a set's package is missing: the error names the install line."""
    if "tiles" in datasets or "finetuned" in datasets:
        package_file("skimage", "data/brick.png", "scikit-image")


def report(dataset: str, mode: str, variants: list[str], results: dict[str, list[tuple[float, float]]]) -> None:
    hand = np.asarray([accuracy for accuracy, _ in results["hand"]])
    for variant in variants:
        accuracies = np.asarray([accuracy for accuracy, _ in results[variant]])
        mean, two_se = paired_difference(accuracies, hand)
        cpu = np.mean([seconds for _, seconds in results[variant]])
        per_seed = " ".join(f"{a:.3f}" for a in accuracies)
        compared = f"{mean:>+9.3f}{two_se:>7.3f}" if variant != "hand" else f"{'':>9}{'':>7}"
        print(f"{dataset:<11}{mode:<10}{variant:<13}{accuracies.mean():>9.3f}{compared}{cpu:>7.0f}   {per_seed}",
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--variants", nargs="+", default=["hand", "task"], choices=list(VARIANTS))
    parser.add_argument("--modes", nargs="+", default=["scratch", "finetuned"], choices=["scratch", "finetuned"])
    parser.add_argument("--pretrain-epochs", type=int, default=6)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "flashtrain" / "image_panel",
                        help="where the backbone pretrained here is kept")  # fmt: skip
    args = parser.parse_args()
    try:
        check_installed([*args.datasets, *(["finetuned"] if "finetuned" in args.modes else [])])
    except MissingData as error:
        raise SystemExit(str(error)) from None
    torch.set_num_threads(args.threads)
    from flashtrain.core import seed_everything

    variants = ["hand", *(v for v in args.variants if v != "hand")]  # hand first: the reference of each pair
    weights = pretrained_weights(args.backbone, args.pretrain_epochs, args.cache) if "finetuned" in args.modes else None
    warm = digits()
    warm_data = (warm[0][:4], warm[1][:4], warm[2][:4], warm[3][:4])
    for variant in variants:  # imports and first-call costs, not timed
        VARIANTS[variant](warm_data, args.backbone, 1)
    print(f"backbone={args.backbone} image_size={IMAGE_SIZE} batch={BATCH_SIZE} epochs={args.epochs} "
          f"seeds={args.seeds} threads={args.threads} modes={args.modes}", flush=True)  # fmt: skip
    print(f"{'dataset':<11}{'mode':<10}{'recipe':<13}{'accuracy':>9}{'vs hand':>9}{'2 SE':>7}{'cpu s':>7}   per seed")
    for dataset in args.datasets:
        data = DATASETS[dataset]()
        for mode in args.modes:
            start = weights if mode == "finetuned" else None
            results: dict[str, list[tuple[float, float]]] = {variant: [] for variant in variants}
            for position, seed in enumerate(args.seeds):
                order = variants if position % 2 == 0 else list(reversed(variants))  # neither always goes first
                for variant in order:
                    seed_everything(seed)
                    cpu = time.process_time()
                    accuracy = VARIANTS[variant](data, args.backbone, args.epochs, start)
                    results[variant].append((accuracy, time.process_time() - cpu))
                    print(f"  {dataset} {mode} {variant} seed={seed} accuracy={accuracy:.4f} "
                          f"cpu={time.process_time() - cpu:.1f}", flush=True)  # fmt: skip
            report(dataset, mode, variants, results)


if __name__ == "__main__":
    main()
