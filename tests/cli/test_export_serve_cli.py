"""flash-train export and serve, run for real (serve in a subprocess): files written and checked, a served checkpoint
answering a real HTTP request on 127.0.0.1, and one-line errors (exit 2) for mistakes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.cli.test_cli import flash_train
from tests.tasks import checkpoints
from tests.tasks.test_serve import free_port


@pytest.fixture(scope="module")
def tabular_ckpt(tmp_path_factory) -> str:
    return checkpoints.tabular_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.mark.slow
def test_export_writes_a_checked_onnx_folder(tabular_ckpt, tmp_path):
    result = flash_train("export", "--checkpoint", tabular_ckpt, "--format", "onnx", "--out", "exported", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "checked against the checkpoint: largest difference" in result.stdout
    assert (tmp_path / "exported" / "model.onnx").is_file()
    described = json.loads((tmp_path / "exported" / "preprocessing.json").read_text())
    assert described["task"] == "tabular_classification" and described["format"] == "onnx"
    assert "the preprocessing is inside the graph" in result.stdout and described["preprocessing"]["inside"]
    plain = flash_train("export", "--checkpoint", tabular_ckpt, "--no-preprocessing", "--out", "plain", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr[-2000:]
    described = json.loads((tmp_path / "plain" / "preprocessing.json").read_text())
    assert [spec["name"] for spec in described["inputs"]] == ["categorical", "numerical"]


def test_export_and_serve_mistakes_are_one_line_with_exit_2(tmp_path):
    for command in ("export", "serve"):
        result = flash_train(command, "--checkpoint", "missing.ckpt", cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == "flash-train: error: --checkpoint missing.ckpt: no such file"
    bad_format = flash_train("export", "--checkpoint", "x.ckpt", "--format", "tflite", cwd=tmp_path)
    assert bad_format.returncode == 2 and "invalid choice: 'tflite'" in bad_format.stderr


@pytest.mark.slow
def test_serve_answers_http_requests_until_stopped(tabular_ckpt, tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "flashtrain.cli.main", "serve", "--checkpoint", tabular_ckpt, "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        answer = httpx.post(f"{url}/predict", json={"inputs": checkpoints.PENGUIN_ROWS}, timeout=30)
        bad = httpx.post(f"{url}/predict", json={"inputs": [{"island": "Dream"}]}, timeout=30)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    assert health.json()["task"] == "tabular_classification"
    assert answer.status_code == 200
    assert all(label in {"Adelie", "Chinstrap", "Gentoo"} for label in answer.json()["predictions"])
    assert bad.status_code == 400 and "has no column(s)" in bad.json()["detail"]
    assert server.returncode == 0
