"""Temperature scaling and tuned decision thresholds: fitted on validation logits, kept in the checkpoint, applied
the same way by predict, serve and the ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks.calibration import Calibration, choose_threshold, expected_calibration_error, fit_temperature


def test_fitted_temperature_undoes_an_overconfident_scale():
    generator = torch.Generator().manual_seed(0)
    honest = torch.randn(4000, 5, generator=generator) * 2
    targets = torch.multinomial(torch.softmax(honest, 1), 1, generator=generator).flatten()
    overconfident = honest * 3  # the probabilities the network says are far too sure
    temperature = fit_temperature(overconfident, targets, multi_label=False)
    assert 2.6 < temperature < 3.4
    before = expected_calibration_error(overconfident, targets, False)
    after = expected_calibration_error(overconfident / temperature, targets, False)
    assert after < 0.5 * before


def test_the_tuned_threshold_is_the_best_cut_for_its_score():
    from sklearn.metrics import balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    targets = (rng.random(600) < 0.08).astype(int)
    scores = np.clip(0.04 + 0.25 * targets + rng.normal(0, 0.12, 600), 0.001, 0.999)
    for criterion, score in (("f1", f1_score), ("balanced_accuracy", balanced_accuracy_score)):
        chosen = choose_threshold(torch.tensor(scores), torch.tensor(targets), criterion)
        best_anywhere = max(score(targets, scores >= cut) for cut in np.unique(scores))
        assert score(targets, scores >= chosen) == pytest.approx(best_anywhere)
    assert choose_threshold(torch.tensor(scores), torch.tensor(targets), "f1") < 0.5  # rare positives: a lower cut


def test_bad_settings_are_explained():
    with pytest.raises(ValueError, match=r"calibrate must be None or 'temperature', got 'platt'"):
        Calibration("platt", None, 2, False)
    with pytest.raises(
        ValueError, match=r"decision_threshold must be 'f1', 'balanced_accuracy' or a number in \(0, 1\)"
    ):
        Calibration(None, "precision", 2, False)
    with pytest.raises(ValueError, match=r"got 1.5"):
        Calibration(None, 1.5, 2, False)
    with pytest.raises(ValueError, match=r"applies to binary and multi-label classifiers; this one has 3 classes"):
        Calibration(None, "f1", 3, False)


def rare_positives(rows: int, seed: int):
    """A table with ~5% positives that the numbers predict only in part."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    signal = 1.6 * x[:, 0] + x[:, 1] - 0.5 * x[:, 2]
    positive = signal + rng.normal(0, 1.0, rows) > np.quantile(signal, 0.93)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["colour"] = rng.choice(["red", "blue"], rows)
    frame["target"] = np.where(positive, "yes", "no")
    return frame


def test_the_onnx_reading_applies_temperature_and_thresholds():
    import onnxruntime

    from flashtrain.tasks.export_preprocessing import Reading, classifier_output_model

    logits = np.random.default_rng(0).normal(0, 3, (64, 2)).astype(np.float32)
    for reading in (Reading(["no", "yes"], temperature=2.5, thresholds=[0.2]), Reading(["a", "b"])):
        model = classifier_output_model(reading, 18, 10)
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        labels, probabilities = session.run(["label", "probabilities"], {"post/logits_in": logits})
        expected = torch.softmax(torch.from_numpy(logits) / reading.temperature, 1).numpy()
        np.testing.assert_allclose(probabilities, expected, atol=1e-6)
        cut = reading.thresholds[0] if reading.thresholds else None
        chosen = expected[:, 1] >= cut if cut is not None else expected.argmax(1) == 1
        assert labels.tolist() == [reading.labels[int(c)] for c in chosen]
    multi = classifier_output_model(Reading(["x", "y", "z"], True, 1.0, [0.1, 0.5, 0.9]), 18, 10)
    session = onnxruntime.InferenceSession(multi.SerializeToString(), providers=["CPUExecutionProvider"])
    logits3 = np.random.default_rng(1).normal(0, 2, (32, 3)).astype(np.float32)
    (predicted,) = session.run(["predicted"], {"post/logits_in": logits3})
    expected_mask = torch.sigmoid(torch.from_numpy(logits3)).numpy() >= np.array([0.1, 0.5, 0.9])
    assert (predicted == expected_mask).all()


@pytest.mark.slow
def test_a_binary_table_keeps_its_threshold_and_temperature_in_the_checkpoint(tmp_path):
    import onnxruntime

    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.export import export
    from flashtrain.tasks.export_preprocessing import tabular_feed
    from flashtrain.tasks.inference import predictor_for

    seed_everything(0)
    data = TabularClassificationData.from_data_frame(
        ["colour"], ["a", "b", "c"], "target", train_data_frame=rare_positives(600, 0),
        val_data_frame=rare_positives(400, 1), batch_size=128,
    )  # fmt: skip
    model = TabularClassifier.from_data(data, calibrate="temperature", decision_threshold="f1")
    trainer = Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=data)
    calibration = model.calibration
    threshold, temperature = float(calibration.thresholds[0]), float(calibration.temperature)
    assert 0 < threshold < 0.5 and temperature != 1.0
    assert "decision threshold (f1)" in calibration.summary() and "validation ECE" in calibration.summary()
    trainer.save_checkpoint(str(tmp_path / "m.ckpt"))

    predictor = predictor_for(str(tmp_path / "m.ckpt"))
    assert float(predictor.model.calibration.thresholds[0]) == threshold
    rows = rare_positives(300, 2).drop(columns="target").to_dict("records")
    probabilities = np.array(predictor.predict(rows, "probabilities"))
    labels = predictor.predict(rows, "labels")
    assert labels == ["yes" if p >= threshold else "no" for p in probabilities[:, 1]]
    assert labels != ["yes" if p >= 0.5 else "no" for p in probabilities[:, 1]]  # the threshold changed answers
    logits = torch.tensor(predictor.predict(rows, "logits"))
    np.testing.assert_allclose(probabilities, torch.softmax(logits / temperature, 1).numpy(), atol=1e-6)

    result = export(str(tmp_path / "m.ckpt"), str(tmp_path / "onnx"))
    session = onnxruntime.InferenceSession(result.model_file, providers=["CPUExecutionProvider"])
    onnx_labels, onnx_probabilities = session.run(
        ["label", "probabilities"], tabular_feed(predictor.preprocessing, rows)
    )
    assert onnx_labels.tolist() == labels
    np.testing.assert_allclose(onnx_probabilities, probabilities, atol=1e-5)
