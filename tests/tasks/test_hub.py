"""Hugging Face downloads follow huggingface_hub's own settings: HF_HUB_OFFLINE fails at once with advice, an
HF_ENDPOINT mirror is really asked (a recording server on 127.0.0.1 sees the request), and a mirror that does not
answer fails within seconds with a message naming it. Each case runs in a fresh process, as the settings are read
when huggingface_hub is imported."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

TEXT = "from flashtrain.tasks import TextClassifier\nTextClassifier(backbone='some-org/some-model', num_classes=2)\n"
IMAGE = "from flashtrain.tasks import ImageClassifier\nImageClassifier(backbone='resnet18', num_classes=2)\n"


def run_python(code: str, tmp_path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    environment.update(HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=os.pathsep.join(sys.path), **env)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    return done, time.monotonic() - start


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.slow
@pytest.mark.parametrize("code", [TEXT, IMAGE], ids=["text", "image"])
def test_offline_mode_fails_at_once_with_advice(code, tmp_path):
    done, seconds = run_python(code, tmp_path, HF_HUB_OFFLINE="1")
    assert done.returncode != 0
    assert "offline mode (HF_HUB_OFFLINE=1)" in done.stderr.strip().splitlines()[-1]
    assert seconds < 30  # the import of transformers/timm is most of it; no network wait


@pytest.mark.slow
@pytest.mark.parametrize("code", [TEXT, IMAGE], ids=["text", "image"])
def test_a_mirror_that_does_not_answer_fails_fast_naming_it(code, tmp_path):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    done, seconds = run_python(code, tmp_path, HF_ENDPOINT=endpoint)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and endpoint in last, last
    assert "no answer from" in last
    assert seconds < 30  # not the half-minute of retries the old probe was written to avoid


class Recorder(http.server.BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._not_found()

    def do_HEAD(self) -> None:  # noqa: N802
        self._not_found()

    def _not_found(self) -> None:
        Recorder.paths.append(self.path)
        self.send_response(404)
        self.send_header("X-Error-Code", "RepositoryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
@pytest.mark.parametrize("code,repo", [(TEXT, "some-org/some-model"), (IMAGE, "timm/resnet18")], ids=["text", "image"])
def test_downloads_go_to_the_hf_endpoint_mirror(code, repo, tmp_path):
    Recorder.paths = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        done, _ = run_python(code, tmp_path, HF_ENDPOINT=endpoint)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert any(repo in path for path in Recorder.paths), Recorder.paths  # the mirror was asked, not huggingface.co
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and endpoint in last, last
