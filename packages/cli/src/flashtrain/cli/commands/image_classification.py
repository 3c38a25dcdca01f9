"""``flash-train image_classification``: train an image classifier; with no data flags, on the bundled digits."""

from __future__ import annotations

import argparse
import os
from typing import Any

from flashtrain.cli.options import add_trainer_flags, parse_finetune_strategy

NAME = "image_classification"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        NAME, help="train an image classifier (timm or torchvision backbone)", description=__doc__
    )
    data = parser.add_argument_group("data (none given: the bundled sample data, 8x8 digits, trained at 32 px)")
    data.add_argument("--train-folder", help="folder with one sub-folder of images per class")
    data.add_argument("--val-folder")
    data.add_argument("--test-folder")
    data.add_argument("--val-split", type=float, default=None, help="fraction of the training data to validate on")
    data.add_argument("--image-size", type=int, default=None, help="input size (default: the backbone's)")
    data.add_argument("--skip-bad-files", action="store_true", help="skip unreadable files with a warning")
    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default="resnet18", help="timm name, or torchvision/<name> (see backbones)")
    model.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start from pretrained weights (default: yes, except on the bundled sample data)",
    )
    model.add_argument("--multi-label", action="store_true")
    add_trainer_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flashtrain.cli.training import train
    from flashtrain.tasks import ImageClassificationData, ImageClassifier
    from flashtrain.tasks.image import sample_data_folders

    sample = args.train_folder is None and args.val_folder is None and args.test_folder is None
    if sample:
        args.train_folder, args.val_folder = sample_data_folders()
        args.image_size = args.image_size or 32
    pretrained = args.pretrained if args.pretrained is not None else not sample
    data = ImageClassificationData.from_folders(
        train_folder=args.train_folder,
        val_folder=args.val_folder,
        test_folder=args.test_folder,
        val_split=args.val_split,
        skip_bad_files=args.skip_bad_files,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        seed=args.seed,
        image_size=args.image_size,
    )
    model = ImageClassifier(
        backbone=args.backbone,
        labels=data.labels,
        pretrained=pretrained,
        multi_label=args.multi_label,
        optimizer=args.optimizer,
        lr_scheduler=args.lr_scheduler,
        learning_rate=args.learning_rate,
    )
    output_dir = args.output_dir or os.path.join("runs", NAME)
    return train(NAME, model, data, args, output_dir, parse_finetune_strategy(args.finetune_strategy))
