"""Command-line cases of issue 24, run through the whole tool (parsing, running, error reporting)."""

from __future__ import annotations

import pandas as pd
import pytest

from flashtrain.tasks.tabular import SAMPLE_TABLE
from tests.cli.test_cli import flash_train
from tests.cli.test_training import run_folder


@pytest.mark.slow
def test_resume_on_other_data_warns_and_strict_resume_refuses(tmp_path):
    first = flash_train("tabular_classification", "--max-epochs", "1", "--output-dir", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    pd.read_csv(SAMPLE_TABLE).sample(250, random_state=0).to_csv(tmp_path / "fewer.csv", index=False)
    resume = ["tabular_classification", "--resume", str(run_folder(tmp_path / "run")), "--train-file", "fewer.csv"]
    resume += ["--max-epochs", "2"]
    refused = flash_train(*resume, "--strict-resume", cwd=tmp_path)  # first: the warned run moves the checkpoint on
    assert refused.returncode == 2 and "refused (strict_resume / --strict-resume)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    warned = flash_train(*resume, cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert "the checkpoint was trained on other data than this run's: 275 training samples then, 201 now" in (
        warned.stderr
    ), warned.stderr[-2000:]
