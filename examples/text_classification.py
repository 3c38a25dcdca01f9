"""Text classification: fine-tune a Hugging Face encoder on a CSV of texts and labels, then predict.

python examples/text_classification.py --backbone prajjwal1/bert-tiny --train-file train.csv --val-file val.csv
python examples/text_classification.py --backbone ./all-MiniLM-L6-v2     # a local model folder, offline

Without --train-file it trains on a dozen made-up movie reviews (enough to see it run, not to learn much).
"""

from __future__ import annotations

import argparse

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TextClassificationData, TextClassifier

REVIEWS = [
    ("A wonderful film with a moving story.", "positive"),
    ("Great acting and a clever plot.", "positive"),
    ("I loved every minute of it.", "positive"),
    ("Beautifully shot, and the music is superb.", "positive"),
    ("A delight from start to finish.", "positive"),
    ("Funny, warm and very well made.", "positive"),
    ("Boring, far too long and badly acted.", "negative"),
    ("The plot makes no sense at all.", "negative"),
    ("I walked out after half an hour.", "negative"),
    ("Dull characters and a terrible script.", "negative"),
    ("A waste of a good cast.", "negative"),
    ("Slow, predictable and forgettable.", "negative"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="prajjwal1/bert-tiny", help="Hugging Face name or local folder")
    parser.add_argument("--train-file")
    parser.add_argument("--val-file")
    parser.add_argument("--input-field", default="text")
    parser.add_argument("--target-field", default="label")
    parser.add_argument("--max-epochs", type=int, default=10)
    args = parser.parse_args()

    seed_everything(0)
    if args.train_file:
        dm = TextClassificationData.from_csv(
            args.input_field, args.target_field, train_file=args.train_file, val_file=args.val_file, batch_size=16
        )
    else:
        texts, labels = zip(*REVIEWS)
        dm = TextClassificationData.from_lists(list(texts), list(labels), val_split=0.25, batch_size=4)
    model = TextClassifier(backbone=args.backbone, labels=dm.labels, learning_rate=1e-2)
    trainer = Trainer(max_epochs=args.max_epochs, default_root_dir="runs/text_classification_example")
    trainer.finetune(model, datamodule=dm, strategy="freeze")  # train the head on the pretrained features
    print(f"validation accuracy: {float(trainer.callback_metrics['val_acc']):.4f}")

    new = ["An absolute joy to watch.", "Tedious and far too long."]
    predictions = trainer.predict(model, datamodule=TextClassificationData.from_lists(predict_data=new), output="top_k")
    for text, top in zip(new, predictions):
        print(f"{text!r}: {top[0][0]} ({top[0][1]:.2f})")


if __name__ == "__main__":
    main()
