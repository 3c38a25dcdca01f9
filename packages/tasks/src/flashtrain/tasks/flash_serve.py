"""Lightning Flash's serving spellings next to ours: ``model.serve()`` and Flash's request/response JSON.

Flash clients post ``{"session": "UUID", "payload": {"inputs": {"data": X}}}`` to ``/predict`` and read
``{"session": "UUID", "result": {"outputs": ...}}``. X is one base64 image, one text, or (tabular) a CSV text of
rows. :class:`FlashRequestFormat` (an ASGI middleware on every app of :func:`flashtrain.tasks.serve.create_app`)
turns such a request into ours (``{"inputs": [...]}``) and our answer into Flash's, so the same server answers
both; requests in our format pass through untouched, and errors keep our ``{"detail": ...}`` body and status.
"""

from __future__ import annotations

import io
import json
from typing import Any


def flash_inputs(task_name: str, data: Any) -> list[Any]:
    """Our ``inputs`` for Flash's ``payload.inputs.data``: one image or text, or a CSV text's rows (tabular)."""
    if task_name.startswith("tabular"):
        import pandas as pd

        if not isinstance(data, str):
            raise ValueError("payload.inputs.data must be CSV text (e.g. df.to_csv()) for a tabular model.")
        frame = pd.read_csv(io.StringIO(data))
        frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed: ")])  # to_csv()'s index
        return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
    return [data]


class FlashRequestFormat:
    """ASGI middleware: Flash-format POST /predict requests answered in Flash's format (see the module doc)."""

    def __init__(self, app: Any, task_name: str) -> None:
        self.app = app
        self.task_name = task_name

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/predict":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = _flash_request(body)
        if request is None:  # our format (or not JSON): unchanged
            await self.app(scope, _replay(body), send)
            return
        session, data = request
        try:
            ours = json.dumps({"inputs": flash_inputs(self.task_name, data)}).encode()
        except ValueError as error:
            await _send_json(send, 400, {"detail": str(error).splitlines()[0]})
            return
        many = self.task_name.startswith("tabular")
        await self.app(_with_length(scope, len(ours)), _replay(ours), _FlashResponse(send, session, many))


def _flash_request(body: bytes) -> tuple[Any, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or "payload" not in parsed:
        return None
    payload = parsed["payload"]
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, dict) or "data" not in inputs:
        return parsed.get("session"), None
    return parsed.get("session"), inputs["data"]


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_length(scope: dict, length: int) -> dict:
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
    return {**scope, "headers": headers + [(b"content-length", str(length).encode())]}


async def _send_json(send: Any, status: int, content: Any) -> None:
    body = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _FlashResponse:
    """Collects our response and sends Flash's ``{"session", "result": {"outputs"}}`` in its place (errors as
    they are)."""

    def __init__(self, send: Any, session: Any, many: bool) -> None:
        self.send, self.session, self.many = send, session, many
        self.status = 200
        self.body = b""

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        self.body += message.get("body", b"")
        if message.get("more_body"):
            return
        content = json.loads(self.body or b"null")
        if self.status == 200 and isinstance(content, dict) and "predictions" in content:
            predictions = content["predictions"]
            outputs = predictions if self.many or len(predictions) != 1 else predictions[0]
            content = {"session": self.session, "result": {"outputs": outputs}}
        await _send_json(self.send, self.status, content)
