"""``flash-train image_classification``: train an image classifier; with no data flags, on the bundled digits."""

from __future__ import annotations

import argparse
from typing import Any

from flashtrain.cli.options import UserError, add_trainer_flags, calibration_options, plain, positive_int
from flashtrain.cli.recipe import model_options, optimization_options, task_default

NAME = "image_classification"
EXAMPLES = """examples:
  flash-train image_classification                                    # the bundled digits, offline
  flash-train image_classification --train-folder data/train --val-folder data/val --backbone resnet18
  flash-train image_classification --train-file train.csv --input-field path --target-field label --val-split 0.2
  flash-train image_classification --resume runs/image_classification/logs/version_0   # continue a run
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="train an image classifier (timm or torchvision backbone)",
        description=plain(__doc__),
        epilog=EXAMPLES,
    )
    data = parser.add_argument_group("data (none given: the bundled sample data, 8x8 digits, trained at 32 px)")
    data.add_argument("--train-folder", help="folder with one sub-folder of images per class")
    data.add_argument("--val-folder", help="validation images, one sub-folder per class")
    data.add_argument("--test-folder", help="test images, one sub-folder per class")
    data.add_argument("--train-file", help="CSV with an image-path column and target column(s), instead of folders")
    data.add_argument("--val-file", help="validation CSV, like --train-file")
    data.add_argument("--test-file", help="test CSV, like --train-file")
    data.add_argument("--input-field", default="image", help="CSV column with the image paths")
    data.add_argument(
        "--target-field", default="label", help="CSV target column; several comma-separated 0/1 columns for multi-label"
    )
    data.add_argument("--images-root", help="folder that relative CSV paths start from (default: the CSV's)")
    data.add_argument("--val-split", type=float, default=None, help="fraction of the training data to validate on")
    data.add_argument(
        "--image-size", type=positive_int, default=None, help="input size in pixels (default None: the backbone's)"
    )
    data.add_argument("--skip-bad-files", action="store_true", help="skip unreadable files with a warning")
    data.add_argument(
        "--train-transform",
        default="default",
        help="training augmentation: default (random resized crop + flip), none, randaugment, trivialaugment, "
        "autoaugment, augmix (evaluation is never augmented)",
    )
    data.add_argument("--hflip", type=float, default=None, help="horizontal flip probability (default 0.5)")
    model = parser.add_argument_group("model")
    model.add_argument(
        "--backbone", default=task_default(NAME, "backbone"), help="timm name, or torchvision/<name> (see backbones)"
    )
    model.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start from pretrained weights (default: yes, except on the bundled sample data)",
    )
    model.add_argument(
        "--multi-label",
        action="store_true",
        help="several labels per image: ';'-separated in one CSV column, or one 0/1 column each",
    )
    model.add_argument(
        "--label-smoothing", type=float, default=task_default(NAME, "label_smoothing"), help="cross-entropy smoothing"
    )
    model.add_argument(
        "--mixup-alpha", type=float, default=task_default(NAME, "mixup_alpha"), help="mixup strength (0: off)"
    )
    model.add_argument(
        "--cutmix-alpha", type=float, default=task_default(NAME, "cutmix_alpha"), help="cutmix strength (0: off)"
    )
    model.add_argument(
        "--interpretation", action="store_true", help="write a confusion matrix and the top losses as PNG"
    )
    add_trainer_flags(parser, NAME, batch_size=64)  # the data class's default
    parser.set_defaults(run=run, task=NAME)


def load_data(args: argparse.Namespace) -> tuple[Any, bool]:
    """The data the flags name (folders, CSV files, or the bundled sample), and whether it is the sample."""
    from flashtrain.tasks import ImageClassificationData
    from flashtrain.tasks.image import sample_data_folders

    folders = (args.train_folder, args.val_folder, args.test_folder)
    files = (args.train_file, args.val_file, args.test_file)
    if any(folders) and any(files):
        raise UserError("pass either --train-folder/--val-folder/--test-folder or --train-file/--val-file/--test-file")
    sample = not any(folders) and not any(files)
    if sample:
        args.train_folder, args.val_folder = sample_data_folders()
        args.image_size = args.image_size or 32
        if args.hflip is None:
            args.hflip = 0.0  # digits are not mirror-symmetric: a flipped 2 is not a 2
    common = dict(
        val_split=args.val_split,
        skip_bad_files=args.skip_bad_files,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        seed=args.seed,
        image_size=args.image_size,
        train_transform=args.train_transform,
        transform_kwargs={"hflip": args.hflip} if args.hflip is not None else None,
    )
    if any(files):
        targets = args.target_field.split(",") if "," in args.target_field else args.target_field
        delimiter = ";" if args.multi_label and isinstance(targets, str) else None
        data = ImageClassificationData.from_csv(
            args.input_field,
            targets,
            train_file=args.train_file,
            val_file=args.val_file,
            test_file=args.test_file,
            images_root=args.images_root,
            target_delimiter=delimiter,
            **common,
        )
    else:
        data = ImageClassificationData.from_folders(
            train_folder=args.train_folder, val_folder=args.val_folder, test_folder=args.test_folder, **common
        )
    return data, sample


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flashtrain.cli.training import start, train
    from flashtrain.tasks import ImageClassifier

    strategy = start(NAME, args)
    data, sample = load_data(args)
    if args.pretrained is None:
        args.pretrained = not sample  # recorded in config.yaml as what was used
    model = ImageClassifier(
        labels=data.labels,
        multi_label=data.multi_label,
        pretrained=args.pretrained,
        **model_options(args, "backbone", "label_smoothing", "mixup_alpha", "cutmix_alpha"),
        **optimization_options(args),
        interpretation=args.interpretation,
        weight_averaging=args.weight_averaging,
        class_weights=args.class_weights,
        **calibration_options(args),
        metrics=args.metrics.split(",") if args.metrics else None,
    )
    return train(NAME, model, data, args, strategy)
