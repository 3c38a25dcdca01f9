"""Tabular regression: a penguin's body mass (grams) from species, island, sex and three measurements (the
bundled Palmer penguins table). Targets are standardised for training; predictions come back in grams.

python examples/tabular_regression.py
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TabularRegressionData, TabularRegressor
from flashtrain.tasks.tabular import SAMPLE_TABLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="mlp", choices=["mlp", "ft_transformer"])
    parser.add_argument("--max-epochs", type=int, default=40)
    args = parser.parse_args()

    seed_everything(0)
    table = pd.read_csv(SAMPLE_TABLE).dropna(subset=["body_mass_g"])  # two penguins were not weighed
    test = table.iloc[::5]  # every fifth penguin is held out
    train = table.drop(index=test.index)
    dm = TabularRegressionData.from_data_frame(
        categorical_fields=["species", "island", "sex"],
        numerical_fields=["bill_length_mm", "bill_depth_mm", "flipper_length_mm"],
        target_fields="body_mass_g",
        train_data_frame=train,
        val_split=0.2,
        batch_size=32,
    )
    model = TabularRegressor.from_data(dm, backbone=args.backbone)
    trainer = Trainer(max_epochs=args.max_epochs, default_root_dir="runs/tabular_regression_example")
    trainer.fit(model, datamodule=dm)

    held_out = TabularRegressionData.from_data_frame(predict_data_frame=test, parameters=dm.parameters)
    grams = np.asarray(trainer.predict(model, datamodule=held_out, output="values"))
    error = grams - test["body_mass_g"].to_numpy()
    print(f"held-out RMSE: {np.sqrt(np.mean(error**2)):.0f} g (body mass spread: {test['body_mass_g'].std():.0f} g)")
    for (_, row), value in list(zip(test.iterrows(), grams))[:3]:
        print(f"{row['species']:>9} {row['sex']!s:>6}: predicted {value:.0f} g, weighed {row['body_mass_g']:.0f} g")


if __name__ == "__main__":
    main()
