"""flash-train tabular_classification / tabular_regression / predict --file, run for real through its main."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from tests.cli.test_cli import flash_train

NEW_PENGUINS = pd.DataFrame(
    {
        "island": ["Biscoe", "Atlantis", "Dream"],  # Atlantis: never seen in training
        "sex": ["male", None, "female"],
        "bill_length_mm": [50.0, None, 46.0],
        "bill_depth_mm": [15.5, 18.0, 17.5],
        "flipper_length_mm": [225.0, 190.0, 195.0],
        "body_mass_g": [5500.0, 3700.0, None],
        "species": ["Gentoo", "Adelie", "Chinstrap"],
    }
)


def test_sample_table_trains_offline_and_its_checkpoint_predicts_a_new_file(tmp_path):
    result = flash_train("tabular_classification", "--output-dir", "out", cwd=tmp_path)  # the default 30 epochs
    assert result.returncode == 0, result.stderr[-2000:]
    accuracy = float(result.stdout.split("final validation accuracy: ")[1].split()[0])
    assert accuracy >= 0.9  # penguin species from island, sex and four measurements
    # The validation rows the trained model doubts, in the run folder, with the line that points to them.
    issues = pd.read_csv(tmp_path / "out" / "logs" / "version_0" / "label_issues.csv")
    assert list(issues.columns[:6]) == ["rank", "split", "index", "item", "given_label", "suggested_label"]
    assert f"validation items may be mislabelled, most doubtful first: {tmp_path / 'out'}" in result.stdout
    assert (issues["given_label"] != issues["suggested_label"]).all()
    checkpoint = tmp_path / "out" / "logs" / "version_0" / "checkpoints" / "best.ckpt"
    NEW_PENGUINS.drop(columns=["species"]).to_csv(tmp_path / "new.csv", index=False)
    predicted = flash_train(
        "predict", "--checkpoint", str(checkpoint), "--file", "new.csv", "--out", "p.csv", cwd=tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == [*NEW_PENGUINS.columns[:-1], "prediction"] and len(table) == 3
    assert table["prediction"][0] == "Gentoo" and set(table["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    probabilities = flash_train(
        "predict", "--checkpoint", str(checkpoint), "--file", "new.csv", "--output", "probabilities", cwd=tmp_path
    )
    header = probabilities.stdout.splitlines()[0].split(",")
    assert header[-3:] == ["probability_Adelie", "probability_Chinstrap", "probability_Gentoo"]


def test_regression_on_a_user_file_predicts_in_original_units(tmp_path):
    rows = 120
    frame = pd.DataFrame({"x1": [i / rows for i in range(rows)], "x2": [(i % 7) / 7 for i in range(rows)]})
    frame["y"] = 1000.0 + 500.0 * frame["x1"] - 200.0 * frame["x2"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = flash_train(
        "tabular_regression", "--train-file", "t.csv", "--numerical-fields", "x1,x2", "--target-field", "y",
        "--val-split", "0.2", "--learning-rate", "0.01", "--output-dir", "out", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final validation RMSE:" in result.stdout
    assert "batch size 8, sized for 96 training rows (--batch-size sets it)" in result.stdout  # the default's choice
    checkpoint = tmp_path / "out" / "logs" / "version_0" / "checkpoints" / "best.ckpt"
    frame.drop(columns=["y"]).iloc[:20].to_parquet(tmp_path / "new.parquet")
    predicted = flash_train(
        "predict", "--checkpoint", str(checkpoint), "--file", "new.parquet", "--out", "p.json", cwd=tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    table = pd.read_json(tmp_path / "p.json")
    error = (table["prediction"] - frame["y"].iloc[:20]).abs()
    assert error.median() < 40.0, error  # targets span 800..1500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--categorical-fields", "island", "--numerical-fields", "age", "--target-field", "species"],
            "has no column(s) ['age']; its columns are ['island', 'sex'",
        ),
        (
            ["--numerical-fields", "flipper_length_mm", "--target-field", "one"],
            "target column 'one' has a single class ('x')",
        ),
        (
            ["--numerical-fields", "bill", "--target-field", "species"],
            "numerical column 'bill' has a value that is not a number: 'long' in row 2 (line 4 of the file)",
        ),
        (["--numerical-fields", "flipper_length_mm"], "--target-field is required"),
    ],
)
def test_bad_tables_are_one_line_and_exit_status_2(tmp_path, args, message):
    frame = NEW_PENGUINS.assign(one="x", bill=["40", "41.5", "long"])
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = flash_train("tabular_classification", "--train-file", "t.csv", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in lines[0]


def test_empty_file_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    result = flash_train(
        "tabular_regression",
        "--train-file",
        "empty.csv",
        "--numerical-fields",
        "a",
        "--target-field",
        "b",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and result.stderr.strip() == (
        "flash-train: error: --train-file='empty.csv' is empty: expected a header row and data rows."
    )


@pytest.mark.slow
def test_a_time_budget_plans_the_run_and_records_the_plan_in_config_yaml(tmp_path):
    import torch
    import yaml

    rows = 200
    frame = pd.DataFrame({"x1": [i / rows for i in range(rows)], "x2": [(i % 7) / 7 for i in range(rows)]})
    frame["y"] = 3.0 * frame["x1"] - frame["x2"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    common = ("tabular_regression", "--train-file", "t.csv", "--numerical-fields", "x1,x2", "--target-field", "y")
    # The first optimizer step of a process imports torch's compiler (seconds on a busy machine, more than this
    # short budget): paid before the timed run, as a longer budget would absorb it.
    parameter = torch.nn.Parameter(torch.zeros(1))
    parameter.grad = torch.zeros(1)
    torch.optim.AdamW([parameter]).step()
    result = flash_train(
        *common, "--val-split", "0.2", "--lr-scheduler", "cosine", "--time-budget", "10s", "--output-dir", "out",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "time budget 10s, plan:" in result.stdout
    config = yaml.safe_load((tmp_path / "out" / "logs" / "version_0" / "config.yaml").read_text())
    assert config["time_budget"] == "10s"
    plan = config["time_budget_plan"]
    assert plan["planned_steps"] > 0 and plan["seconds_per_step"] > 0 and plan["schedule_follows"] is True
    assert plan["after_fit_passes"] == 1.0  # label_issues.csv's pass over the validation rows is inside the budget
    bad = flash_train(*common, "--time-budget", "ten minutes", cwd=tmp_path)
    assert bad.returncode == 2 and "'ten minutes' is not a duration" in bad.stderr


@pytest.mark.slow
def test_the_time_budget_counts_from_the_command_start_not_from_fit(tmp_path, monkeypatch):
    import time

    import yaml

    from flashtrain.cli import command_clock

    # As if the command's imports and data loading had taken 8 s of its 10 s: fit gets what is left.
    monkeypatch.setattr(command_clock, "time", SimpleNamespace(monotonic=lambda: time.monotonic() - 8.0))
    frame = pd.DataFrame({"x": [i / 100 for i in range(100)]})
    frame["y"] = 2.0 * frame["x"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = flash_train(
        "tabular_regression", "--train-file", "t.csv", "--numerical-fields", "x", "--target-field", "y",
        "--time-budget", "10s", "--output-dir", "out", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    plan = yaml.safe_load((tmp_path / "out" / "logs" / "version_0" / "config.yaml").read_text())["time_budget_plan"]
    assert plan["seconds_before_fit"] >= 8.0 and plan["stopped_at_seconds"] >= 8.0
    # Said either in the plan ("..., 9.1s spent before fit": a quiet machine leaves time for a short plan) or when
    # it stops on time ("8.4s of the budget were spent before fit": a busy one spends the rest before fit).
    assert "s spent before fit" in result.stdout or "s of the budget were spent before fit" in result.stdout
    assert command_clock.started() is None  # the command is over: nothing else counts from its start


def test_check_finds_a_leak_and_strict_refuses_it(tmp_path):
    frame = pd.DataFrame({"x": [i % 7 for i in range(60)], "y": [i % 2 for i in range(60)]})
    frame.iloc[:40].to_csv(tmp_path / "train.csv", index=False)
    pd.concat([frame.iloc[40:], frame.iloc[:2]]).to_csv(tmp_path / "val.csv", index=False)
    args = ("check", "--train-file", "train.csv", "--val-file", "val.csv", "--target-field", "y")
    result = flash_train(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PROBLEM: the same row in ['train', 'val']" in result.stdout
    strict = flash_train(*args, "--strict", cwd=tmp_path)
    assert strict.returncode == 2 and "check --strict:" in strict.stderr and "problem(s) found" in strict.stderr
    missing = flash_train("check", "--train-file", "train.csv", "--target-field", "label", cwd=tmp_path)
    assert missing.returncode == 2 and "has no column 'label'" in missing.stderr


def test_training_checks_the_data_first_and_strict_refuses_a_leak(tmp_path):
    frame = pd.DataFrame({"x": [i / 60 for i in range(60)], "y": [i % 2 for i in range(60)]})
    frame.iloc[:40].to_csv(tmp_path / "train.csv", index=False)
    pd.concat([frame.iloc[40:], frame.iloc[:2]]).to_csv(tmp_path / "val.csv", index=False)
    result = flash_train(
        "tabular_classification", "--train-file", "train.csv", "--val-file", "val.csv", "--numerical-fields", "x",
        "--target-field", "y", "--strict", "--output-dir", "out", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]  # one line: the refusal names the first problem
    assert "--strict: the data check found 2 problem(s): the same row in ['train', 'val']: train[0], val[20]" in line
    assert not list(tmp_path.rglob("*.ckpt"))  # refused before training
