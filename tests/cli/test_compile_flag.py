"""``--compile`` is a flag of every task command: the model compiles its backbone when fit starts, the run summary
says so, and the first (compiling) step is reported apart from the others."""

from __future__ import annotations

import pytest
import torch

from flashtrain.cli.main import build_parser
from tests.cli.test_cli import flash_train


@pytest.mark.parametrize(
    "command", ["image_classification", "text_classification", "tabular_classification", "tabular_regression"]
)
def test_every_task_command_takes_compile(command):
    parser = build_parser()
    assert parser.parse_args([command, "--compile"]).compile is True
    assert parser.parse_args([command]).compile is False


def test_a_tabular_run_compiles_its_backbone_and_reports_the_compiling_step(tmp_path, monkeypatch):
    compiled: list[str] = []
    # Recorded, not compiled: this tests the wiring (each task compiling for real: tests/tasks/test_compile.py)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    result = flash_train(
        "tabular_classification", "--max-epochs", "1", "--compile", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(compiled) == 1  # the backbone, once
    assert "compile on" in result.stdout and "compile: first step" in result.stdout
    plain = flash_train("tabular_classification", "--max-epochs", "1", "--output-dir", "out2", cwd=tmp_path)
    assert "compile off" in plain.stdout and len(compiled) == 1
