"""What the server accepts: size limits checked before work is done, values-only inputs, and an optional API key.

Each exceeded limit is answered with one sentence: 413 (too large: body, inputs per request, text length, image
pixels), 400/422 (an input that is not a value the task takes), 401 (no or wrong API key), 422 (over the time
limit: the work this request asks for is more than the server takes on). Each sentence names the limit's flag.
The body limit and the key are checked in a small ASGI middleware, before FastAPI reads the body: a client that
announces 1 GB is answered at once, and one that streams without announcing is cut off at the limit.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

API_KEY_ENV = "FLASHTRAIN_API_KEY"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OPEN_ROUTES = ("/health",)  # answered without the API key: load balancers probe it


class LimitExceeded(ValueError):
    """A request over one of the :class:`ServeLimits` (answered with ``status``)."""

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServeLimits:
    """Per-request limits of the server.

    Args:
        max_request_mb: Largest request body. 64 MB holds 32 photos of 1.5 MB each, base64-encoded (x 4/3).
        max_inputs: Most inputs in one request (8 forwards of the default batch of 32).
        max_text_chars: Longest text. A classifier reads at most ``max_length`` tokens (128 by default, about
            1,000 characters); a longer text costs tokenizing time and memory for nothing.
        max_image_pixels: Most pixels (width x height, read from the file's header before decoding) in one
            image: above any phone camera's 50 MP, far below a decompression bomb's gigapixels.
        timeout_s: Longest a request may take, waiting included.
    """

    max_request_mb: float = 64.0
    max_inputs: int = 256
    max_text_chars: int = 20_000
    max_image_pixels: int = 64_000_000
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_request_mb", "max_inputs", "max_text_chars", "max_image_pixels", "timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}.")

    def time_limit_message(self) -> str:
        """The one sentence of a request over ``timeout_s`` (answered 422: the work asked for is over the limit)."""
        return (
            f"the request took longer than this server's time limit of {self.timeout_s:g} s (--timeout-s, or "
            "ServeLimits(timeout_s=...)); send fewer inputs per request, or start the server with a larger limit."
        )

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    def check_count(self, inputs: list[Any]) -> None:
        if len(inputs) > self.max_inputs:
            raise LimitExceeded(
                f"the request has {len(inputs)} inputs; this server takes at most {self.max_inputs} per request "
                "(--max-inputs; or send several requests)."
            )

    def check_texts(self, inputs: list[Any]) -> None:
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise LimitExceeded(f"input {index} is a {type(text).__name__}; expected a non-empty string.", 400)
            if len(text) > self.max_text_chars:
                raise LimitExceeded(
                    f"input {index} has {len(text)} characters; this server takes texts of at most "
                    f"{self.max_text_chars} (--max-text-chars; the model reads only the first few hundred tokens)."
                )

    def image_bytes(self, inputs: list[Any]) -> list[bytes]:
        """The image files of a request: base64 strings only (never a path on the server's disk), each at most
        ``max_image_pixels`` by its header, checked before anything is decoded."""
        from PIL import Image, UnidentifiedImageError

        files = []
        for index, item in enumerate(inputs):
            if not isinstance(item, str):
                raise LimitExceeded(
                    f"input {index} is a {type(item).__name__}; expected an image file as a base64 string.", 400
                )
            try:
                data = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                raise LimitExceeded(
                    f"input {index} is not valid base64; send each image file base64-encoded (this server reads no "
                    "file paths).",
                    400,
                ) from None
            try:
                with Image.open(io.BytesIO(data)) as image:  # reads the header only
                    width, height = image.size
            except Image.DecompressionBombError:  # PIL's own check, at twice Image.MAX_IMAGE_PIXELS
                raise LimitExceeded(
                    f"input {index} has more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels (a "
                    f"decompression bomb?); this server takes images of at most {self.max_image_pixels / 1e6:.0f} "
                    "megapixels (--max-image-pixels)."
                ) from None
            except (UnidentifiedImageError, OSError, SyntaxError):
                raise LimitExceeded(f"input {index} is not a readable image file.", 400) from None
            if width * height > self.max_image_pixels:
                raise LimitExceeded(
                    f"input {index} is {width}x{height} ({width * height / 1e6:.0f} megapixels); this server "
                    f"takes images of at most {self.max_image_pixels / 1e6:.0f} megapixels (--max-image-pixels)."
                )
            files.append(data)
        return files

    @staticmethod
    def check_rows(inputs: list[Any]) -> None:
        for index, row in enumerate(inputs):
            if isinstance(row, dict):
                nested = [name for name, value in row.items() if isinstance(value, (dict, list))]
                if nested:
                    raise LimitExceeded(f"input {index}: column(s) {nested[:3]} hold objects; expected values.", 422)


def resolve_api_key(api_key: str | None) -> str | None:
    """The key every route but /health requires: the argument, else ``$FLASHTRAIN_API_KEY``, else none."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key is not None and len(key) < 16:
        raise ValueError(f"the API key is {len(key)} characters; use at least 16 (e.g. `openssl rand -hex 16`).")
    return key or None


def loopback_warning(host: str, api_key: str | None) -> str | None:
    """A warning for a server reachable from other machines, or None when it listens on this machine only."""
    if host in LOOPBACK_HOSTS:
        return None
    advice = "" if api_key else " Set --api-key (or $FLASHTRAIN_API_KEY) so that only your clients can use it;"
    return (
        f"warning: serving on {host}: any machine that can reach this port can send requests.{advice} the server "
        "speaks plain HTTP, so put a TLS proxy in front of it for traffic outside a trusted network."
    )


class RequestGuard:
    """ASGI middleware: the API key (every route but /health) and the request body limit, before the app reads."""

    def __init__(self, app: Any, max_bytes: int, api_key: str | None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.api_key = api_key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        if self.api_key is not None and scope["path"] not in OPEN_ROUTES and not self._authorised(headers):
            await _answer(send, 401, "this server needs an API key: send the header 'Authorization: Bearer <key>'.")
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await _answer(send, 413, self._too_large(int(length)))
            return
        # Read (at most the limit of) the body here and answer 413 ourselves: an exception raised from `receive`
        # is only a 413 when FastAPI's endpoint is the reader; an inner middleware that reads the body first
        # (FlashRequestFormat does) would let it escape as a 500.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending the whole body
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:  # a body sent without (or beyond) its announced length
                await _answer(send, 413, self._too_large(len(body)))
                return
            if not message.get("more_body"):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _authorised(self, headers: dict[str, str]) -> bool:
        assert self.api_key is not None
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        return secrets.compare_digest(given.encode(), self.api_key.encode())

    def _too_large(self, size: int) -> str:
        return (
            f"the request body is {size / 2**20:.1f} MB or more; this server takes at most "
            f"{self.max_bytes / 2**20:.0f} MB (--max-request-mb)."
        )


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives the body already read, then waits on the client's (for its disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
