"""The prediction server for real: uvicorn on 127.0.0.1 in a thread, a real HTTP client (httpx), one checkpoint of
each task; batching of concurrent requests; 4xx answers for bad requests. Every server is shut down."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import httpx
import pytest
import torch

from flashtrain.tasks.inference import predictor_for
from flashtrain.tasks.serve import Batcher, create_app
from tests.tasks import checkpoints


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(app, timeout: float = 30.0):
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a thread; yields the base URL; always stops it."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def made(task_checkpoints):
    return task_checkpoints


INPUTS = {
    "image": [checkpoints.png_base64(seed) for seed in range(3)],
    "text": ["good film", "a really awful and boring movie", "lovely story"],
    "tabular": checkpoints.PENGUIN_ROWS,
    "regression": checkpoints.PENGUIN_ROWS,
}


@pytest.mark.parametrize("which", ["image", "text", "tabular", "regression"])
def test_each_task_answers_json_like_its_checkpoint_predicts(made, which):
    predictor = predictor_for(made[which])
    output = "values" if which == "regression" else "probabilities"
    expected = predictor.predict(INPUTS[which], output)
    with running(create_app(made[which])) as url:
        health = httpx.get(f"{url}/health", timeout=10).json()
        answer = httpx.post(f"{url}/predict", json={"inputs": INPUTS[which], "output": output}, timeout=30)
        default = httpx.post(f"{url}/predict", json={"inputs": INPUTS[which][:1]}, timeout=30)
    assert health["status"] == "ok" and health["task"] == predictor.task_name
    assert answer.status_code == 200, answer.text
    torch.testing.assert_close(torch.tensor(answer.json()["predictions"]), torch.tensor(expected), atol=1e-5, rtol=0)
    assert default.status_code == 200
    if which == "regression":
        assert isinstance(default.json()["predictions"][0], float)
        assert health["labels"] == ["body_mass_g"]
    else:
        assert default.json()["predictions"][0] in health["labels"]


def test_bad_requests_get_a_4xx_that_says_what_was_wrong(made):
    with running(create_app(made["tabular"])) as url:
        post = lambda body, **kw: httpx.post(f"{url}/predict", timeout=10, **({"json": body} if kw == {} else kw))  # noqa: E731
        not_json = httpx.post(f"{url}/predict", content=b"{not json", headers={"content-type": "application/json"})
        no_inputs = post({"rows": []})
        empty = post({"inputs": []})
        not_rows = post({"inputs": ["a string"]})
        missing_column = post({"inputs": [{"island": "Dream"}]})
        bad_number = post({"inputs": [{**checkpoints.PENGUIN_ROWS[0], "bill_length_mm": "long"}]})
        bad_output = post({"inputs": checkpoints.PENGUIN_ROWS, "output": "values"})
        still_fine = post({"inputs": checkpoints.PENGUIN_ROWS})
    assert not_json.status_code == 422 and "Send JSON" in not_json.json()["detail"]
    assert no_inputs.status_code == 422 and no_inputs.json()["detail"].startswith("inputs: Field required")
    assert empty.status_code == 422 and "at least 1 item" in empty.json()["detail"]
    assert not_rows.status_code == 400
    assert not_rows.json()["detail"] == "input 0 is a str; expected a row as an object of column name -> value."
    assert missing_column.status_code == 400 and "has no column(s)" in missing_column.json()["detail"]
    assert "'sex'" in missing_column.json()["detail"]
    assert bad_number.status_code == 400 and "'bill_length_mm' has a value that is not a number" in bad_number.text
    assert bad_output.status_code == 400
    allowed = "labels, probabilities, logits, top_k, classes, preds"
    assert bad_output.json()["detail"] == f"Unknown output 'values'. Allowed: {allowed}."
    assert still_fine.status_code == 200 and len(still_fine.json()["predictions"]) == 3


def test_bad_images_and_texts_are_400(made):
    with running(create_app(made["image"])) as url:
        not_base64 = httpx.post(f"{url}/predict", json={"inputs": ["%%%"]}, timeout=10)
        not_an_image = httpx.post(f"{url}/predict", json={"inputs": ["aGVsbG8="]}, timeout=10)  # b"hello"
    assert not_base64.status_code == 400 and "input 0 is not valid base64" in not_base64.json()["detail"]
    assert not_an_image.status_code == 400 and "input 0 is not a readable image" in not_an_image.json()["detail"]
    with running(create_app(made["text"])) as url:
        empty_text = httpx.post(f"{url}/predict", json={"inputs": ["fine", "  "]}, timeout=10)
    assert empty_text.status_code == 400
    assert empty_text.json()["detail"] == "input 1 is '  '; expected a non-empty string."


def test_concurrent_requests_share_forwards_and_each_gets_its_own_answer(made):
    predictor = predictor_for(made["text"])
    texts = [f"good film {i}" if i % 2 else f"awful plot {i}" for i in range(24)]
    alone = predictor.predict(texts, "logits")
    app = create_app(predictor, max_batch_size=32, max_wait_ms=50)

    async def many(url: str) -> list:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post("/predict", json={"inputs": [text], "output": "logits"}) for text in texts)
            )
        return [answer.json()["predictions"][0] for answer in answers]

    with running(app) as url:
        together = asyncio.run(many(url))
    # Padding to a batch's longest text must not change any answer.
    torch.testing.assert_close(torch.tensor(together), torch.tensor(alone), atol=1e-5, rtol=0)
    assert app.state.batcher.forwards < len(texts) / 2  # requests were answered in shared forwards


def test_batcher_splits_a_batch_back_per_request():
    class Doubling:
        def prepare(self, inputs):
            if "bad" in inputs:
                raise ValueError(f"input {inputs.index('bad')} is bad")
            return inputs

        def forward(self, samples):
            return torch.tensor(samples) * 2

    async def scenario() -> tuple[list, int]:
        batcher = Batcher(Doubling(), max_batch_size=8, max_wait_ms=20)  # type: ignore[arg-type]
        await batcher.start()
        try:
            results = await asyncio.gather(*(batcher.submit([i, 10 * i]) for i in range(6)))
            forwards = batcher.forwards
            mixed = await asyncio.gather(
                batcher.submit([1]), batcher.submit([2, "bad"]), batcher.submit([3]), return_exceptions=True
            )
        finally:
            await batcher.stop()
        return [r.tolist() for r in results], forwards, mixed

    results, forwards, mixed = asyncio.run(scenario())
    assert results == [[2 * i, 20 * i] for i in range(6)]
    assert forwards == 2  # 12 inputs, at most 8 per forward
    # A bad input fails its own request only, with the position inside that request.
    assert mixed[0].tolist() == [2] and mixed[2].tolist() == [6]
    assert isinstance(mixed[1], ValueError) and str(mixed[1]) == "input 1 is bad"
    with pytest.raises(ValueError, match="max_batch_size must be a positive int, got 0"):
        Batcher(None, max_batch_size=0)  # type: ignore[arg-type]
