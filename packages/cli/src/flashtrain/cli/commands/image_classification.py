"""``flash-train image_classification``: train an image classifier; with no data flags, on the bundled digits."""

from __future__ import annotations

import argparse
from typing import Any, cast

from flashtrain.cli.backbone import add_backbone_flag
from flashtrain.cli.options import (
    VAL_SPLIT_BY_HELP,
    RunOptions,
    UserError,
    add_trainer_flags,
    calibration_options,
    plain,
    positive_int,
)
from flashtrain.cli.recipe import model_options, optimization_options, task_default

EXAMPLES = """examples:
  flash-train {name}                                    # the bundled digits, offline
  flash-train {name} --train-folder data/train --val-folder data/val --backbone resnet18
  flash-train {name} --train-file train.csv --input-field path --target-field label --val-split 0.2
  flash-train {name} --resume runs/{name}/logs/version_0   # continue a run
"""


def add_parser(subparsers: Any, spec: Any) -> None:
    """The command of ``spec`` (its :class:`~flashtrain.tasks.registry.TaskSpec`)."""
    name = spec.name
    parser = subparsers.add_parser(name, help=spec.help, description=plain(__doc__), epilog=EXAMPLES.format(name=name))
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
    data.add_argument("--val-split-by", metavar="COLUMN", help=VAL_SPLIT_BY_HELP + " (with --train-file)")
    data.add_argument(
        "--image-size", type=positive_int, default=None, help="input size in pixels (default None: the backbone's)"
    )
    data.add_argument("--skip-bad-files", action="store_true", help="skip unreadable files with a warning")
    data.add_argument(
        "--train-transform",
        default="default",
        help="training augmentation: default (random resized crop, see --crop-scale and --hflip), none, randaugment, "
        "trivialaugment, autoaugment, augmix (evaluation is never augmented)",
    )
    data.add_argument(
        "--hflip",
        type=float,
        default=None,
        help="horizontal flip probability (default 0: a mirror image can be another class; 0.5 for photos of objects)",
    )
    data.add_argument(
        "--crop-scale",
        type=float,
        default=None,
        help="smallest area fraction the default augmentation's random resized crop keeps (default 0.8: a heavy "
        "crop can cut away a small centred object)",
    )
    model = parser.add_argument_group("model")
    add_backbone_flag(model, name, help="timm name, or torchvision/<name> (see backbones)")
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
        "--label-smoothing", type=float, default=task_default(name, "label_smoothing"), help="cross-entropy smoothing"
    )
    model.add_argument(
        "--mixup-alpha", type=float, default=task_default(name, "mixup_alpha"), help="mixup strength (0: off)"
    )
    model.add_argument(
        "--cutmix-alpha", type=float, default=task_default(name, "cutmix_alpha"), help="cutmix strength (0: off)"
    )
    model.add_argument(
        "--interpretation",
        action="store_true",
        help="write a confusion matrix and the top losses as PNG (and a reliability diagram with --calibrate)",
    )
    add_trainer_flags(parser, name, batch_size=spec.defaults["batch_size"])  # the data class's default
    parser.set_defaults(run=run, task=name)


def load_data(options: RunOptions) -> tuple[Any, RunOptions, bool]:
    """The data the flags name (folders, CSV files, or the bundled sample), the options with the sample's settled,
    and whether it is the sample."""
    from flashtrain.tasks import ImageClassificationData
    from flashtrain.tasks.image import sample_data_folders

    folders = (options.train_folder, options.val_folder, options.test_folder)
    files = (options.train_file, options.val_file, options.test_file)
    if any(folders) and any(files):
        raise UserError("pass either --train-folder/--val-folder/--test-folder or --train-file/--val-file/--test-file")
    sample = not any(folders) and not any(files)
    if options.val_split_by and not options.train_file:
        raise UserError("--val-split-by names a column of --train-file; image folders have no group column")
    if sample:
        train_folder, val_folder = sample_data_folders()
        options = options.replace(
            train_folder=train_folder,
            val_folder=val_folder,
            image_size=options.image_size or 32,
        )
    from flashtrain.tasks.image.transforms import TRANSFORM_KWARGS

    if options.hflip is None:  # the default, spelled out so config.yaml records what the run used
        options = options.replace(hflip=TRANSFORM_KWARGS["hflip"])
    if options.crop_scale is None:  # likewise
        smallest, _ = cast(tuple[float, float], TRANSFORM_KWARGS["scale"])
        options = options.replace(crop_scale=smallest)
    if not 0 < options.crop_scale <= 1:
        raise UserError(f"--crop-scale must be in (0, 1] (the smallest area fraction kept), got {options.crop_scale}")
    common = dict(
        val_split=options.val_split,
        skip_bad_files=options.skip_bad_files,
        batch_size=options.batch_size,
        num_workers=options.num_workers,
        seed=options.seed,
        image_size=options.image_size,
        train_transform=options.train_transform,
        transform_kwargs={"hflip": options.hflip, "scale": (options.crop_scale, 1.0)},
    )
    if any(files):
        targets = options.target_field.split(",") if "," in options.target_field else options.target_field
        delimiter = ";" if options.multi_label and isinstance(targets, str) else None
        data = ImageClassificationData.from_csv(
            options.input_field,
            targets,
            train_file=options.train_file,
            val_file=options.val_file,
            test_file=options.test_file,
            images_root=options.images_root,
            target_delimiter=delimiter,
            val_split_by=options.val_split_by,
            **common,
        )
    else:
        data = ImageClassificationData.from_folders(
            train_folder=options.train_folder, val_folder=options.val_folder, test_folder=options.test_folder, **common
        )
    return data, options, sample


def run(options: RunOptions) -> dict[str, Any]:
    from flashtrain.cli.training import start, train
    from flashtrain.tasks import ImageClassifier

    options, strategy = start(options)
    data, options, sample = load_data(options)
    print(f"augmentation: {data.transforms.describe()}")
    if options.pretrained is None:
        options = options.replace(pretrained=not sample)  # recorded in config.yaml as what was used
    model = ImageClassifier(
        labels=data.labels,
        multi_label=data.multi_label,
        pretrained=options.pretrained,
        **model_options(options, "backbone", "label_smoothing", "mixup_alpha", "cutmix_alpha"),
        **optimization_options(options),
        interpretation=options.interpretation,
        compile=options.compile,
        weight_averaging=options.weight_averaging,
        class_weights=options.class_weights,
        **calibration_options(options),
        metrics=options.metrics.split(",") if options.metrics else None,
    )
    return train(model, data, options, strategy)
