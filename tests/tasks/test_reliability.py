"""The reliability diagram of a calibrated classifier: its table reproduces the ECE without and with the temperature,
and ``interpretation=True`` (``--interpretation``) writes it beside the checkpoints as PNG and CSV."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from flashtrain.tasks.calibration import expected_calibration_error, reliability_table


def ece_of(rows, when):
    total = sum(row[f"count_{when}"] for row in rows)
    return sum(
        row[f"count_{when}"] / total * abs(row[f"accuracy_{when}"] - row[f"confidence_{when}"])
        for row in rows
        if row[f"count_{when}"]
    )


@pytest.mark.parametrize("multi_label", [False, True])
def test_the_table_gives_the_ece_before_and_after_the_temperature(multi_label):
    generator = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(500, 4, generator=generator)  # over-confident
    if multi_label:
        targets = (torch.rand(500, 4, generator=generator) < torch.sigmoid(logits / 3)).long()
    else:
        targets = torch.distributions.Categorical(logits=logits / 3).sample()
    rows = reliability_table(logits, targets, multi_label, temperature=3.0)
    assert len(rows) == 15 and rows[0]["lower"] == 0 and rows[-1]["upper"] == 1
    pairs = logits.numel() if multi_label else len(logits)
    assert sum(row["count_before"] for row in rows) == sum(row["count_after"] for row in rows) == pairs
    assert ece_of(rows, "before") == pytest.approx(expected_calibration_error(logits, targets, multi_label), abs=1e-6)
    assert ece_of(rows, "after") == pytest.approx(
        expected_calibration_error(logits / 3, targets, multi_label), abs=1e-6
    )
    assert ece_of(rows, "after") < ece_of(rows, "before") / 2  # the right temperature halves it at least


@pytest.mark.slow
def test_interpretation_writes_the_reliability_diagram_of_a_calibrated_model(tmp_path):
    from flashtrain.core import Trainer
    from flashtrain.core.callbacks import ModelCheckpoint
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    images = torch.randint(0, 255, (16, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    targets = [0, 1, 2, 3] * 4
    data = ImageClassificationData.from_tensors(
        train_data=images, train_targets=targets, val_data=images, val_targets=targets, batch_size=8, image_size=16
    )
    model = ImageClassifier("test_resnet", labels=data.labels, pretrained=False, interpretation=True,
                            calibrate="temperature")  # fmt: skip
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"))
    trainer = Trainer(max_epochs=1, default_root_dir=str(tmp_path), callbacks=[checkpoint], enable_progress_bar=False)
    trainer.fit(model, datamodule=data)
    picture = tmp_path / "ckpt" / "reliability_diagram.png"
    assert picture.read_bytes()[:4] == b"\x89PNG"
    with open(tmp_path / "ckpt" / "reliability.csv", newline="") as handle:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    assert sum(row["count_before"] for row in rows) == len(targets)
    # The same validation logits the temperature was fitted on: the table's ECE is the run summary's.
    report = model.calibration.report
    assert ece_of(rows, "before") == pytest.approx(report["ece_before"], abs=1e-5)
    assert ece_of(rows, "after") == pytest.approx(report["ece_after"], abs=1e-5)
    assert not math.isnan(report["temperature"])

    plain = ImageClassifier("test_resnet", labels=data.labels, pretrained=False, interpretation=True)
    other = ModelCheckpoint(dirpath=str(tmp_path / "plain"))
    Trainer(max_epochs=1, default_root_dir=str(tmp_path), callbacks=[other], enable_progress_bar=False).fit(
        plain, datamodule=data
    )
    assert (tmp_path / "plain" / "confusion_matrix.png").is_file()
    assert not (tmp_path / "plain" / "reliability_diagram.png").exists()  # no temperature, no diagram
