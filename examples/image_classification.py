"""Image classification in a dozen lines: the bundled digits (or your folders), a timm backbone, predictions.

python examples/image_classification.py                       # bundled sample data, offline
python examples/image_classification.py --train-folder data/train --val-folder data/val --pretrained
"""

from __future__ import annotations

import argparse

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.image import sample_data_folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-folder")
    parser.add_argument("--val-folder")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--pretrained", action="store_true", help="download (or use cached) pretrained weights")
    parser.add_argument("--max-epochs", type=int, default=10)
    args = parser.parse_args()

    seed_everything(0)
    train_folder, val_folder = args.train_folder, args.val_folder
    image_size = None
    if train_folder is None:
        (train_folder, val_folder), image_size = sample_data_folders(), 32  # 8x8 digits, upscaled
    data = ImageClassificationData.from_folders(
        train_folder=train_folder, val_folder=val_folder, batch_size=64, image_size=image_size, num_workers=2
    )
    model = ImageClassifier(backbone=args.backbone, labels=data.labels, pretrained=args.pretrained)
    trainer = Trainer(max_epochs=args.max_epochs, default_root_dir="runs/image_example")
    trainer.finetune(model, datamodule=data, strategy="freeze" if args.pretrained else "no_freeze")
    print(f"validation accuracy: {float(trainer.callback_metrics['val_acc']):.4f}")

    some_images = data.datasets["val"].files[:5]
    predictions = trainer.predict(
        model, datamodule=ImageClassificationData.from_files(predict_files=some_images), output="labels"
    )
    for path, label in zip(some_images, predictions):
        print(f"{path}: {label}")


if __name__ == "__main__":
    main()
