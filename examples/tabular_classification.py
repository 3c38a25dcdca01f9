"""Tabular classification: penguin species from island, sex and body measurements (the bundled Palmer penguins
table, with its missing values), then predictions for new rows from nothing but the best checkpoint.

python examples/tabular_classification.py                      # bundled table, offline
python examples/tabular_classification.py --backbone ft_transformer
"""

from __future__ import annotations

import argparse

import pandas as pd

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TabularClassificationData, TabularClassifier
from flashtrain.tasks.tabular import SAMPLE_TABLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="mlp", choices=["mlp", "ft_transformer"])
    parser.add_argument("--max-epochs", type=int, default=20)
    args = parser.parse_args()

    seed_everything(0)
    dm = TabularClassificationData.from_csv(
        categorical_fields=["island", "sex"],
        numerical_fields=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        target_fields="species",
        train_file=SAMPLE_TABLE,
        val_split=0.2,
        batch_size=32,
    )
    model = TabularClassifier.from_data(dm, backbone=args.backbone)
    trainer = Trainer(max_epochs=args.max_epochs, default_root_dir="runs/tabular_classification_example")
    trainer.fit(model, datamodule=dm)
    print(f"validation accuracy: {float(trainer.callback_metrics['val_acc']):.4f}")

    # New rows: an island the model never saw and missing values are fine (unknown / missing buckets).
    new = pd.DataFrame(
        {
            "island": ["Biscoe", "Atlantis"],
            "sex": ["male", None],
            "bill_length_mm": [50.0, None],
            "bill_depth_mm": [15.5, 18.0],
            "flipper_length_mm": [225.0, 190.0],
            "body_mass_g": [5500.0, 3700.0],
        }
    )
    best = TabularClassifier.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)
    data = TabularClassificationData.from_data_frame(predict_data_frame=new, parameters=best.hparams["parameters"])
    for row, top in zip(new.to_dict("records"), trainer.predict(best, datamodule=data, output="top_k")):
        print(f"{row['island']:>9} {row['flipper_length_mm']:.0f} mm flipper: {top[0][0]} ({top[0][1]:.2f})")


if __name__ == "__main__":
    main()
