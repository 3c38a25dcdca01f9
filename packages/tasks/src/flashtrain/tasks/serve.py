"""Serve a task checkpoint over HTTP (FastAPI + uvicorn), with concurrent requests batched into one forward.

    POST /predict   {"inputs": [...], "output": "labels"}  ->  {"predictions": [...]}
    GET  /health    the task, the outputs it can give, its labels (or regression targets) and what an input is

Inputs are values only: images as base64-encoded files (never a path on the server's disk), texts as strings,
table rows as objects of column -> value. A request that is not valid JSON of that shape gets a 422, inputs the
task cannot read a 400, a request over a limit of :class:`~flashtrain.tasks.serve_limits.ServeLimits` a 413 (a 422
past the time limit), a missing API key a 401; each with a one-sentence ``detail``.
"""

# No `from __future__ import annotations` here: FastAPI reads the request model from the endpoint's annotation,
# and that class is made inside create_app (pydantic is imported only when serving).
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from flashtrain.tasks.flash_serve import FlashRequestFormat
from flashtrain.tasks.inference import ImagePredictor, Predictor, TabularPredictor, TextPredictor, predictor_for
from flashtrain.tasks.optional import require
from flashtrain.tasks.serve_limits import LimitExceeded, RequestGuard, ServeLimits, loopback_warning, resolve_api_key


@dataclass
@dataclass
class _Pending:
    inputs: list[Any]
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Collects the inputs of concurrent requests into one prepare + forward of at most ``max_batch_size`` inputs.

    Why: on a CPU or GPU a forward over 32 inputs costs little more than over one, and so does preparing them
    (one tokenizer call, one pass of the tabular preprocessing over a frame), so under load requests that arrive
    together are answered together. A request waits at most ``max_wait_ms`` for others to join; a lone request pays
    a few milliseconds at most. The work runs in a worker thread so that the event loop keeps accepting requests.
    When a batch has an input the task cannot read, each of its requests is run alone, so that only the bad one
    fails. (A small queue written here: the serving libraries' batchers bring their own server and process model.)
    """

    def __init__(self, predictor: Predictor, max_batch_size: int = 32, max_wait_ms: float = 5.0) -> None:
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size must be a positive int, got {max_batch_size!r}.")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms!r}.")
        self.predictor = predictor
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.forwards = 0  # how many forwards ran (the batching test and the benchmark read it)
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def submit(self, inputs: list[Any]) -> Any:
        """The model outputs for ``inputs`` (one request), computed in a batch with whatever else is waiting; a
        ValueError or TypeError when the task cannot read them."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not awaited")
        pending = _Pending(inputs, asyncio.get_running_loop().create_future())
        await self._queue.put(pending)
        return await pending.future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].inputs)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch_size:
                try:
                    nxt = self._queue.get_nowait() if self._queue.qsize() else None
                    if nxt is None:
                        remaining = deadline - loop.time()
                        if remaining <= 0:
                            break
                        nxt = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                batch.append(nxt)
                size += len(nxt.inputs)
            await self._forward(batch)

    def _outputs(self, inputs: list[Any], batch: list[_Pending]) -> Any:
        """Forwards of at most ``max_batch_size`` inputs (a request of 256 texts does not hold 256 at once in
        memory), stopping early once every request of the batch is gone (past its time limit)."""
        import torch

        parts = []
        for start in range(0, len(inputs), self.max_batch_size):
            if all(pending.future.done() for pending in batch):
                return None
            chunk = inputs[start : start + self.max_batch_size]
            parts.append(self.predictor.forward(self.predictor.prepare(chunk)))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    async def _forward(self, batch: list[_Pending]) -> None:
        inputs = [item for pending in batch for item in pending.inputs]
        try:
            outputs = await asyncio.to_thread(self._outputs, inputs, batch)
        except (ValueError, TypeError):
            if len(batch) > 1:  # someone sent an input the task cannot read: find whose, answer the others
                for pending in batch:
                    await self._forward([pending])
                return
            self._fail(batch, sys.exc_info()[1])
            return
        except Exception as error:  # one failed forward fails its requests, not the server
            self._fail(batch, error)
            return
        if outputs is None:
            return
        self.forwards += 1
        start = 0
        for pending in batch:
            end = start + len(pending.inputs)
            if not pending.future.done():
                pending.future.set_result(outputs[start:end])
            start = end

    @staticmethod
    def _fail(batch: list[_Pending], error: BaseException | None) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(error or RuntimeError("prediction failed"))


def create_app(
    model: Any,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
) -> Any:
    """A FastAPI app serving ``model``: a checkpoint path, a task model or a :class:`Predictor`.

    Args:
        model: What to serve.
        max_batch_size: Most samples in one forward.
        max_wait_ms: Longest a request waits for others to share its forward.
        limits: Request size and time limits (default :class:`ServeLimits`).
        api_key: When set (or ``$FLASHTRAIN_API_KEY``), every route but ``/health`` needs it, sent as
            ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
    """
    require("fastapi", "serve", "Serving")
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field

    limits = limits or ServeLimits()
    key = resolve_api_key(api_key)
    predictor = model if isinstance(model, Predictor) else predictor_for(model)
    batcher = Batcher(predictor, max_batch_size, max_wait_ms)

    class PredictRequest(BaseModel):
        inputs: list[Any] = Field(min_length=1)
        output: str | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title=f"flashtrain {predictor.task_name}", lifespan=lifespan)
    app.state.batcher = batcher
    app.add_middleware(FlashRequestFormat, task_name=predictor.task_name)  # Flash clients' JSON too (inner)
    app.add_middleware(RequestGuard, max_bytes=limits.max_request_bytes, api_key=key)

    @app.exception_handler(RequestValidationError)
    async def explain(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"{where}: {first.get('msg', 'invalid request')}. Send JSON "
                f'{{"inputs": [...], "output": one of {list(predictor.outputs)}}} with 1 to '
                f"{limits.max_inputs} inputs, each {predictor.input_help}."
            },
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", **predictor.describe()}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        output = request.output or predictor.default_output
        if isinstance(output, str) and output not in predictor.outputs:
            raise HTTPException(400, f"Unknown output {output!r}. Allowed: {', '.join(predictor.outputs)}.")
        try:
            inputs = await checked_inputs(request.inputs)
            outputs = await asyncio.wait_for(batcher.submit(inputs), limits.timeout_s)
        except LimitExceeded as error:
            raise HTTPException(error.status, str(error)) from None
        except (ValueError, TypeError) as error:  # inputs the task cannot read
            raise HTTPException(400, str(error).strip().splitlines()[0]) from None
        except asyncio.TimeoutError:
            raise HTTPException(422, limits.time_limit_message()) from None
        return {"predictions": predictor.format(outputs, output)}

    async def checked_inputs(inputs: list[Any]) -> list[Any]:
        """The request's inputs within the limits, as values only (images: the decoded base64 bytes)."""
        limits.check_count(inputs)
        if isinstance(predictor, ImagePredictor):  # base64 decoding and header reads off the event loop
            return await asyncio.to_thread(limits.image_bytes, inputs)
        if isinstance(predictor, TextPredictor):
            limits.check_texts(inputs)
        elif isinstance(predictor, TabularPredictor):
            limits.check_rows(inputs)
        return inputs

    return app


def serve(
    checkpoint: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
) -> None:
    """Serve ``checkpoint`` with uvicorn until interrupted (Ctrl-C or SIGTERM); a warning when ``host`` is not
    this machine's loopback address."""
    uvicorn = require("uvicorn", "serve", "Serving")
    app = create_app(checkpoint, max_batch_size, max_wait_ms, limits, api_key)
    warning = loopback_warning(host, resolve_api_key(api_key))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


def serve_task(model: Any, host: str, port: int, output: Any, options: dict[str, Any]) -> None:
    """``model.serve(...)`` (Flash's spelling): serve a task model in this process until interrupted, in both JSON
    formats (ours and Flash's, see :mod:`flashtrain.tasks.flash_serve`)."""
    refused = sorted(name for name in ("input_cls", "transform", "transform_kwargs") if options.get(name) is not None)
    if refused:
        raise ValueError(
            f"model.serve() takes no {', '.join(refused)}: the model serves with its own preprocessing (the "
            "evaluation transform, tokenizer or fitted table preprocessing it was trained with)."
        )
    unknown = sorted(set(options) - {"input_cls", "transform", "transform_kwargs", "sanity_check"})
    if unknown:
        raise TypeError(f"model.serve() got unexpected argument(s) {unknown}.")
    if output is not None:
        model.output = output  # checked there; the server's default output from now on
    uvicorn = require("uvicorn", "serve", "Serving")
    uvicorn.run(create_app(model), host=host, port=port, log_level="info")
