"""What the data check costs against one training epoch, on each bundled sample (issue 26: at most 20%).

    OMP_NUM_THREADS=1 nice python benchmarks/check_cost.py

Two checks per sample, in CPU seconds of this process (num_workers=0, so that all the work is counted here):
- "pass": what the CLI runs before fit on the data flags (the sample's files: image folders, the text/table file);
- "data.check()": the Python opt-in on the data module, after its validation split (so cross-split checks,
  near-duplicate images and texts run on train vs val).
One epoch: a warm-up fit of 2 steps (torch's lazy compiler import, first allocations), then a fit of up to 10
steps timed and scaled to the epoch's steps, with the model the CLI trains on that sample.
"""

from __future__ import annotations

import time
import warnings


def cpu(function, *args):
    start = time.process_time()
    result = function(*args)
    return time.process_time() - start, result


def epoch_seconds(make_model, data) -> tuple[float, int]:
    from flashtrain.core import Trainer

    steps = len(data.train_dataloader())
    timed = min(steps, 10)
    for limit in (2, timed):
        trainer = Trainer(
            max_epochs=1, limit_train_batches=limit, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        model = make_model()
        seconds, _ = cpu(trainer.fit, model, data)
    return seconds / timed * steps, steps


def main() -> None:
    import pandas as pd

    from flashtrain.tasks import (
        ImageClassificationData,
        ImageClassifier,
        TabularClassificationData,
        TabularClassifier,
        TextClassificationData,
        TextClassifier,
    )
    from flashtrain.tasks import data_check as dc
    from flashtrain.tasks.image import sample_data_folders
    from flashtrain.tasks.tabular import SAMPLE_TABLE as PENGUINS
    from flashtrain.tasks.text import SAMPLE_BACKBONE
    from flashtrain.tasks.text import SAMPLE_TABLE as REVIEWS

    warnings.simplefilter("ignore")
    rows = []

    train_folder, val_folder = sample_data_folders()

    def image_pass():
        listed, labels = {}, {}
        for split, folder in (("train", train_folder), ("val", val_folder)):
            listed[split], labels[split] = dc.image_folder_items(folder)
        return dc.check_images(listed, labels)

    image = ImageClassificationData.from_folders(
        train_folder=train_folder, val_folder=val_folder, batch_size=64, image_size=32, num_workers=0
    )
    image_model = lambda: ImageClassifier(backbone="resnet18", labels=image.labels, pretrained=False)  # noqa: E731
    rows.append(("image (digits, 1437+360 files)", image_pass, image, image_model))

    reviews = pd.read_csv(REVIEWS)
    text = TextClassificationData.from_data_frame("review", "sentiment", train_data_frame=reviews, val_split=0.2)
    text_model = lambda: TextClassifier(backbone=SAMPLE_BACKBONE, pretrained=False, labels=text.labels)  # noqa: E731
    text_pass = lambda: dc.check_texts({"train": reviews["review"].astype(str).tolist()},  # noqa: E731
                                       {"train": reviews["sentiment"].tolist()})  # fmt: skip
    rows.append((f"text (reviews, {len(reviews)} rows)", text_pass, text, text_model))

    penguins = pd.read_csv(PENGUINS).dropna(subset=["species"])
    table = TabularClassificationData.from_data_frame(
        ["island", "sex"], ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"], "species",
        train_data_frame=penguins, val_split=0.2,
    )  # fmt: skip
    table_model = lambda: TabularClassifier.from_data(table)  # noqa: E731
    table_pass = lambda: dc.check_tables({"train": penguins}, "species")  # noqa: E731
    rows.append((f"tabular (penguins, {len(penguins)} rows)", table_pass, table, table_model))

    header = f"{'pass s':>8} {'check() s':>10} {'epoch s':>9} {'steps':>6} {'pass/epoch':>11} {'check()/epoch':>14}"
    print(f"{'sample':34} {header}")
    for name, run_pass, data, make_model in rows:
        pass_seconds, _ = cpu(run_pass)
        check_seconds, report = cpu(data.check)
        epoch, steps = epoch_seconds(make_model, data)
        print(f"{name:34} {pass_seconds:8.2f} {check_seconds:10.2f} {epoch:9.2f} {steps:6d} "
              f"{pass_seconds / epoch:11.1%} {check_seconds / epoch:14.1%}")  # fmt: skip
        for finding in report.problems[:3]:
            print(f"    data.check() found: {finding.message}")


if __name__ == "__main__":
    main()
