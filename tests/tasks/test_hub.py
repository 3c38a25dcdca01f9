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

import pytest

# One process tries both tasks; the libraries are imported and a model of the same size is built before the clock
# starts, as on a busy machine that takes longer than any network wait.
SCRIPT = """
import sys, time
import timm
from transformers import AutoConfig, AutoModel, AutoTokenizer
from flashtrain.tasks import ImageClassifier, TextClassifier

def timed(call):
    start = time.monotonic()
    try:
        call()
    except Exception as error:
        return time.monotonic() - start, f"{type(error).__name__}: {str(error).splitlines()[0]}"
    raise SystemExit("no error")

build, _ = timed(lambda: ImageClassifier(backbone="resnet18", num_classes=2, pretrained=False) and 1 / 0)
image = timed(lambda: ImageClassifier(backbone="resnet18", num_classes=2))
text = timed(lambda: TextClassifier(backbone="some-org/some-model", num_classes=2))
print(f"{image[0] - build:.2f}|{image[1]}")
print(f"{text[0]:.2f}|{text[1]}")
"""


def run_python(tmp_path, **env: str) -> dict[str, tuple[float, str]]:
    """For "image" and "text": the seconds the failing call took (image: beyond building the model) and its error."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    environment.update(HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=os.pathsep.join(sys.path), **env)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()[-2:]
    return {task: (float(line.split("|")[0]), line.split("|", 1)[1]) for task, line in zip(("image", "text"), lines)}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.slow
def test_offline_mode_fails_at_once_with_advice(tmp_path):
    results = run_python(tmp_path, HF_HUB_OFFLINE="1")
    assert (
        "could not download weights for resnet18: the Hugging Face Hub is in offline mode (HF_HUB_OFFLINE=1)"
        in (results["image"][1])
    )
    assert (
        "locally (not a folder, not in the Hugging Face cache), and the Hugging Face Hub is in offline mode"
        in (results["text"][1])
    )
    assert results["image"][0] < 5 and results["text"][0] < 5  # no network wait


@pytest.mark.slow
def test_a_mirror_that_does_not_answer_fails_fast_naming_it(tmp_path):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    results = run_python(tmp_path, HF_ENDPOINT=endpoint)
    assert f"resnet18: no network (no answer from {endpoint})" in results["image"][1]
    assert (
        f"could not download it: no network, or no answer from the Hugging Face Hub at {endpoint}" in results["text"][1]
    )
    assert results["image"][0] < 5 and results["text"][0] < 5  # not the half-minute the old probe was written to avoid


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
def test_downloads_go_to_the_hf_endpoint_mirror(tmp_path):
    Recorder.paths = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        results = run_python(tmp_path, HF_ENDPOINT=endpoint)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    # The mirror was asked, for both tasks (the old probe of huggingface.co made the text path skip it).
    assert any("timm/resnet18" in path for path in Recorder.paths), Recorder.paths
    assert any("some-org/some-model" in path for path in Recorder.paths), Recorder.paths
    assert f"could not download weights for resnet18: {endpoint} does not have them" in results["image"][1]
    assert f"{endpoint} has no model of that name" in results["text"][1]


def test_a_failed_torchvision_download_is_explained(monkeypatch):
    import torchvision

    from flashtrain.tasks.image.backbones import build_backbone

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.models, "get_model", no_network)
    with pytest.raises(RuntimeError, match=r"could not download weights for torchvision/resnet18: no network \("):
        build_backbone("torchvision/resnet18", pretrained=True)
