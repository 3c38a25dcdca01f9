"""The data check on the bundled digits (issue 26): injected cross-split duplicates and flipped labels are found.

    OMP_NUM_THREADS=1 python benchmarks/data_check.py

1. A copy of the digits sample (train/val folders) gets 30 validation images copied into train (exact duplicates
   across splits) and 10 more copied with their brightness raised by 3% (near duplicates, new bytes); 3% of the
   training images are moved to a wrong class folder (flipped labels). ``check_images`` must find the 30 exact ones
   (precision and recall against the injected pairs). The near ones are not searched: 8x8 digits are under the
   32 px a side the perceptual hash needs (there it flagged two writers' same digit as copies), so 0 is expected.
2. Label issues: out-of-fold probabilities for the training images (5 folds), ranked by ``label_issues``;
   precision at k = the number flipped. The probabilities come from scikit-learn's logistic regression on the
   pixels: the machine this was written on was too busy to train the image task five times within the time.
3. A group split (groups of 5 consecutive images) puts no group on both sides.
4. The cost of the check against one training epoch (CPU seconds) on each bundled sample.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from PIL import Image, ImageEnhance

    from flashtrain.tasks.data_check import check_images, group_split, image_folder_items, label_issues
    from flashtrain.tasks.image import sample_data_folders

    rng = np.random.default_rng(0)
    train_folder, val_folder = sample_data_folders()
    with tempfile.TemporaryDirectory() as root:
        train, val = Path(root) / "train", Path(root) / "val"
        shutil.copytree(train_folder, train)
        shutil.copytree(val_folder, val)
        val_files, _ = image_folder_items(val)
        chosen = rng.choice(len(val_files), 40, replace=False)
        injected_exact = set()
        for number, index in enumerate(chosen):
            source = val_files[index]
            target = train / source.parent.name / f"copy_{number}.png"
            if number < 30:
                shutil.copy(source, target)
                injected_exact.add((str(source.relative_to(root)), str(target.relative_to(root))))
            else:
                with Image.open(source) as image:
                    ImageEnhance.Brightness(image.convert("RGB")).enhance(1.03).save(target)
        train_files, train_labels = image_folder_items(train)
        originals = [i for i, p in enumerate(train_files) if not p.name.startswith("copy_")]
        flipped = rng.choice(originals, int(0.03 * len(originals)), replace=False)
        classes = sorted(set(train_labels))
        flipped_names = set()
        for index in flipped:
            path = train_files[index]
            wrong = str(rng.choice([c for c in classes if c != path.parent.name]))
            path.rename(train / wrong / path.name)
            flipped_names.add((path.name, wrong))

        files, labels = {}, {}
        for split, folder in (("train", train), ("val", val)):
            files[split], labels[split] = image_folder_items(folder)
        start = time.process_time()
        report = check_images(files, labels)
        check_seconds = time.process_time() - start
        found_exact = {
            tuple(sorted(str(files[s][i].relative_to(root)) for s, i in finding.items))
            for finding in report.of_kind("duplicate_file")
        }
        injected = {tuple(sorted(pair)) for pair in injected_exact}
        true = len(found_exact & injected)
        print(f"exact duplicates: found {len(found_exact)}, injected {len(injected)}, "
              f"precision {true / max(1, len(found_exact)):.3f}, recall {true / len(injected):.3f}")  # fmt: skip
        near = report.of_kind("near_duplicate")
        near_injected = sum(
            any(files[s][i].name.startswith("copy_") and int(files[s][i].stem.split("_")[1]) >= 30
                for s, i in finding.items) for finding in near
        )  # fmt: skip
        print(f"near duplicates: {len(near)} pairs flagged, {near_injected} of them the 10 injected brightened copies")
        print(f"check_images on {sum(len(v) for v in files.values())} images: {check_seconds:.2f} CPU s")
        conflicts = report.of_kind("conflicting_labels")
        print(f"conflicting labels: {len(conflicts)} (the exact copies keep their class: expected 0)")

        # label issues from out-of-fold probabilities
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict

        pixels = np.stack(
            [np.asarray(Image.open(p).convert("L"), dtype=np.float32).ravel() / 255 for p in files["train"]]
        )
        given = np.asarray([classes.index(label) for label in labels["train"]])
        probabilities = cross_val_predict(
            LogisticRegression(max_iter=2000), pixels, given, cv=5, method="predict_proba"
        )
        ranked = label_issues(probabilities, given)
        k = len(flipped)
        top = {(files["train"][i].name, files["train"][i].parent.name) for i in ranked[:k]}
        print(f"label issues: {len(ranked)} flagged; precision at k={k}: {len(top & flipped_names) / k:.3f}")

        groups = np.arange(len(given)) // 5
        train_rows, val_rows = group_split(groups, given, 0.2, seed=0)
        shared = set(groups[train_rows]) & set(groups[val_rows])
        print(f"group split: {len(train_rows)} / {len(val_rows)} rows, groups on both sides: {len(shared)}")
    cost_of_one_epoch(check_seconds)


def cost_of_one_epoch(image_check_seconds: float) -> None:
    """CPU seconds of one training epoch on each bundled sample (3 steps timed, times the epoch's steps)."""
    import pandas as pd

    from flashtrain.core import Trainer
    from flashtrain.tasks import ImageClassificationData, ImageClassifier, TabularClassificationData, TabularClassifier
    from flashtrain.tasks.data_check import check_tables
    from flashtrain.tasks.image import sample_data_folders
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    train_folder, val_folder = sample_data_folders()
    image_data = ImageClassificationData.from_folders(
        train_folder=train_folder, val_folder=val_folder, batch_size=64, image_size=32
    )
    table = pd.read_csv(SAMPLE_TABLE)
    table_data = TabularClassificationData.from_data_frame(
        ["island", "sex"], ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"], "species",
        train_data_frame=table, val_split=0.2, batch_size=32,
    )  # fmt: skip
    start = time.process_time()
    check_tables({"train": table}, "species")
    table_check = time.process_time() - start
    for name, data, model, check in (
        ("image", image_data, ImageClassifier(backbone="resnet18", labels=image_data.labels, pretrained=False),
         image_check_seconds),
        ("tabular", table_data, TabularClassifier.from_data(table_data), table_check),
    ):  # fmt: skip
        steps = len(data.train_dataloader())
        trainer = Trainer(
            max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        start = time.process_time()
        trainer.fit(model, datamodule=data)
        epoch = (time.process_time() - start) / 3 * steps
        print(f"{name}: check {check:.2f} CPU s, one epoch ~{epoch:.1f} CPU s ({steps} steps): {check / epoch:.1%}")


if __name__ == "__main__":
    main()
