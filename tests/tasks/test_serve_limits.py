"""The server's limits and access: values-only inputs, body/inputs/text/pixel/time limits, the API key, the
warning for a server reachable from other machines. Real uvicorn on 127.0.0.1, a real HTTP client."""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import zlib

import httpx
import pytest

from flashtrain.tasks.serve import create_app
from flashtrain.tasks.serve_limits import ServeLimits, loopback_warning
from tests.tasks import checkpoints
from tests.tasks.test_serve import free_port, running


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (a decompression bomb's header; its pixels never decoded)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def test_image_inputs_are_files_sent_as_base64_never_paths_on_the_server(task_checkpoints, tmp_path):
    image = tmp_path / "on-the-server.png"
    image.write_bytes(base64.b64decode(checkpoints.png_base64(0)))
    with running(create_app(task_checkpoints["image"])) as url:
        passwd = httpx.post(f"{url}/predict", json={"inputs": ["/etc/passwd"]}, timeout=10)
        server_file = httpx.post(f"{url}/predict", json={"inputs": [str(image)]}, timeout=10)
        sent = httpx.post(f"{url}/predict", json={"inputs": [checkpoints.png_base64(0)]}, timeout=10)
    assert passwd.status_code == 400 and "not valid base64" in passwd.json()["detail"]
    assert passwd.json() == server_file.json() or "not valid base64" in server_file.json()["detail"]
    assert sent.status_code == 200


def test_each_limit_is_a_413_with_one_sentence(task_checkpoints):
    limits = ServeLimits(max_request_mb=0.05, max_inputs=4, max_text_chars=100)
    with running(create_app(task_checkpoints["text"], limits=limits)) as url:
        post = lambda **kw: httpx.post(f"{url}/predict", timeout=10, **kw)  # noqa: E731
        body = post(json={"inputs": ["good film " * 10_000]})
        streamed = post(content=(b"x" * 10_000 for _ in range(10)), headers={"content-type": "application/json"})
        many = post(json={"inputs": ["good film"] * 5})
        long = post(json={"inputs": ["good film", "a" * 101]})
        fine = post(json={"inputs": ["good film"] * 4})
    assert body.status_code == 413 and "this server takes at most 0 MB (--max-request-mb)" in body.json()["detail"]
    assert streamed.status_code == 413, streamed.text
    assert many.status_code == 413 and many.json()["detail"] == (
        "the request has 5 inputs; this server takes at most 4 per request (--max-inputs; or send several requests)."
    )
    assert long.status_code == 413 and "input 1 has 101 characters" in long.json()["detail"]
    assert "(--max-text-chars;" in long.json()["detail"]
    assert fine.status_code == 200


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(task_checkpoints):
    with running(create_app(task_checkpoints["image"])) as url:
        big = base64.b64encode(png_claiming(12_000, 12_000)).decode()  # 144 MP: over our limit, under PIL's
        bomb = base64.b64encode(png_claiming(30_000, 30_000)).decode()  # 900 MP: PIL's bomb check
        answers = [httpx.post(f"{url}/predict", json={"inputs": [b]}, timeout=10) for b in (big, bomb)]
    assert answers[0].status_code == 413
    assert answers[0].json()["detail"] == (
        "input 0 is 12000x12000 (144 megapixels); this server takes images of at most 64 megapixels "
        "(--max-image-pixels)."
    )
    assert answers[1].status_code == 413 and "decompression bomb" in answers[1].json()["detail"]


def test_a_request_over_the_time_limit_is_422_naming_the_flag(task_checkpoints):
    with running(create_app(task_checkpoints["tabular"], limits=ServeLimits(timeout_s=1e-6))) as url:
        slow = httpx.post(f"{url}/predict", json={"inputs": checkpoints.PENGUIN_ROWS}, timeout=10)
    assert slow.status_code == 422
    assert slow.json()["detail"] == (
        "the request took longer than this server's time limit of 1e-06 s (--timeout-s, or "
        "ServeLimits(timeout_s=...)); send fewer inputs per request, or start the server with a larger limit."
    )


def test_api_key_guards_every_route_but_health(task_checkpoints, monkeypatch):
    key = "k" * 32
    body = {"inputs": checkpoints.PENGUIN_ROWS}
    with running(create_app(task_checkpoints["tabular"], api_key=key)) as url:
        health = httpx.get(f"{url}/health")
        anonymous = httpx.post(f"{url}/predict", json=body, timeout=10)
        wrong = httpx.post(f"{url}/predict", json=body, headers={"Authorization": "Bearer " + "x" * 32}, timeout=10)
        docs = httpx.get(f"{url}/openapi.json")
        bearer = httpx.post(f"{url}/predict", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        header = httpx.post(f"{url}/predict", json=body, headers={"X-API-Key": key}, timeout=10)
    assert health.status_code == 200
    assert anonymous.status_code == wrong.status_code == docs.status_code == 401
    assert "needs an API key" in anonymous.json()["detail"]
    assert bearer.status_code == header.status_code == 200
    monkeypatch.setenv("FLASHTRAIN_API_KEY", key)
    with running(create_app(task_checkpoints["tabular"])) as url:
        assert httpx.post(f"{url}/predict", json=body, timeout=10).status_code == 401
    monkeypatch.setenv("FLASHTRAIN_API_KEY", "short")
    with pytest.raises(ValueError, match="the API key is 5 characters; use at least 16"):
        create_app(task_checkpoints["tabular"])


def test_loopback_warning():
    assert loopback_warning("127.0.0.1", None) is None
    assert "Set --api-key" in loopback_warning("0.0.0.0", None)
    assert "Set --api-key" not in loopback_warning("0.0.0.0", "k" * 16)


@pytest.mark.slow
def test_cli_serve_on_every_interface_warns_and_needs_the_key(task_checkpoints):
    port = free_port()
    command = [sys.executable, "-m", "flashtrain.cli", "serve", "--checkpoint", task_checkpoints["tabular"]]
    command += ["--host", "0.0.0.0", "--port", str(port)]
    env = {**os.environ, "FLASHTRAIN_API_KEY": "k" * 16}
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "Uvicorn running" in line or len(lines) > 50:
                break
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"inputs": checkpoints.PENGUIN_ROWS}, timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert any(line.startswith("warning: serving on 0.0.0.0: any machine that can reach") for line in lines), lines
    assert answer.status_code == 401
