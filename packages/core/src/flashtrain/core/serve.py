"""Check during ``fit`` that a module can be served: Lightning's ``lightning.pytorch.serve``.

A :class:`ServableModule` says how a request becomes ``serve_step`` inputs and how its outputs become a
response; :class:`ServableModuleValidator` serves a copy of the module over HTTP (FastAPI + uvicorn) when
training starts, sends the module's own example request, and fails the run if the answer is an error or differs
from the response the module expects. Written after Lightning's behaviour; the differences are deliberate:
the server runs in a thread of this process on a copy of the module (nothing is pickled or forked, so it works
with any start method), an error inside ``serve_step`` is reported with its message instead of a bare 500, and
``configure_response`` is optional (no expected response: only a successful answer is checked).

FastAPI and uvicorn are imported when a validator is built (``pip install flashtrain-core[serve]``).
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException


class ServableModule(ABC, torch.nn.Module):
    """Mix into a ``Module`` to describe how it is served: ``class MyModel(MyModule, ServableModule)``."""

    @abstractmethod
    def configure_payload(self) -> dict[str, Any]:
        """An example request, ``{"body": {input name: JSON value}}``, sent to the server to check it."""

    @abstractmethod
    def configure_serialization(self) -> tuple[dict[str, Callable], dict[str, Callable]]:
        """``(deserializers, serializers)``: request value -> ``serve_step`` argument, and output -> JSON value."""

    @abstractmethod
    def serve_step(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The prediction for one request, as a dict of outputs (run under ``torch.no_grad`` in eval mode)."""

    def configure_response(self) -> dict[str, Any] | None:
        """The response expected for ``configure_payload``'s request; None checks only that serving succeeds."""
        return None


@dataclass(frozen=True)
class ServedResponse:
    """What the server answered: the HTTP status and the body text (``json()`` decodes it)."""

    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


_SUPPORTED_SERVERS = ("fastapi",)


class ServableModuleValidator(Callback):
    """On ``on_train_start``, serve a copy of the module and check its answer to ``configure_payload()``.

    Args:
        optimization: How the served model is compiled; only None (eager) is available, as in Lightning.
        server: The web framework; only "fastapi", as in Lightning.
        host: Address the server listens on.
        port: Port the server listens on; 0 picks a free one.
        timeout: Seconds to wait for the server to start.
        exit_on_failure: Raise when serving fails (else only ``successful`` is False).
    """

    def __init__(
        self,
        optimization: str | None = None,
        server: str = "fastapi",
        host: str = "127.0.0.1",
        port: int = 8080,
        timeout: int = 20,
        exit_on_failure: bool = True,
    ) -> None:
        super().__init__()
        if optimization is not None:
            raise NotImplementedError(
                f"ServableModuleValidator(optimization={optimization!r}) is not available; pass optimization=None "
                "(the module is served eagerly)."
            )
        if server not in _SUPPORTED_SERVERS:
            raise NotImplementedError(
                f"ServableModuleValidator(server={server!r}) is not available; only server='fastapi' is supported."
            )
        for package in ("fastapi", "uvicorn"):
            try:
                __import__(package)
            except ImportError as error:
                raise ModuleNotFoundError(
                    f"ServableModuleValidator needs {package}: pip install 'flashtrain-core[serve]'"
                ) from error
        self.optimization = optimization
        self.server = server
        self.host = host
        self.port = port
        self.timeout = timeout
        self.exit_on_failure = exit_on_failure
        self.resp: ServedResponse | None = None

    @property
    def successful(self) -> bool | None:
        """Whether the module answered its example request (None before training started)."""
        return None if self.resp is None else self.resp.status_code == 200

    def state_dict(self) -> dict[str, Any]:
        return {"successful": self.successful, "optimization": self.optimization, "server": self.server}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        if type(trainer.strategy).__name__ == "FSDPStrategy":
            # a sharded module holds only this rank's part of the weights: a copy of it cannot answer alone
            raise MisconfigurationException(
                "ServableModuleValidator cannot serve a module sharded by strategy='fsdp'; validate serving in a "
                "run with strategy='ddp' or on one device."
            )
        if not isinstance(pl_module, ServableModule):
            raise TypeError(
                f"ServableModuleValidator needs a ServableModule; got {type(pl_module).__qualname__}. Add "
                "ServableModule to its bases and define configure_payload, configure_serialization and serve_step."
            )
        payload = pl_module.configure_payload()
        if not isinstance(payload, dict) or "body" not in payload:
            raise ValueError(
                f"configure_payload() must return a dict with a 'body' entry, e.g. {{'body': {{'x': [...]}}}}; "
                f"got {payload!r}."
            )
        # The server gets a copy (the training module stays in train mode); the memo drops the trainer from it.
        served = copy.deepcopy(pl_module, memo={id(trainer): None}).eval()
        self.resp = _serve_once(served, payload, self.host, self.port, self.timeout)
        expected = pl_module.configure_response()
        if self.resp.status_code != 200:
            if self.exit_on_failure:
                raise MisconfigurationException(
                    f"The model isn't servable: the server answered {self.resp.status_code}: {self.resp.text}"
                )
            return
        if expected is not None and self.resp.json() != expected:
            raise MisconfigurationException(
                f"The expected response {expected} doesn't match the generated one {self.resp.json()}."
            )


def _serve_once(
    module: ServableModule, payload: dict[str, Any], host: str, port: int, timeout: float
) -> ServedResponse:
    """Start a server for ``module``, post ``payload`` to ``/serve`` once, stop the server."""
    import uvicorn

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise OSError(
            f"ServableModuleValidator cannot listen on {host}:{port} ({error.strerror}); pass another port, or "
            "port=0 for a free one."
        ) from error
    bound_port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_build_app(module), log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The server didn't start within {timeout} seconds.")
            time.sleep(0.02)
        request = urllib.request.Request(
            f"http://{host}:{bound_port}/serve",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return ServedResponse(answer.status, answer.read().decode())
        except urllib.error.HTTPError as error:
            return ServedResponse(error.code, error.read().decode())
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        listener.close()


def _build_app(module: ServableModule) -> Any:
    """The FastAPI app: ``GET /ping``, and ``POST /serve`` taking ``{"body": {...}}``."""
    from fastapi import Body, FastAPI
    from fastapi.responses import JSONResponse

    deserializers, serializers = module.configure_serialization()
    app = FastAPI()

    @app.get("/ping")
    def ping() -> bool:
        return True

    @app.post("/serve")
    def serve(payload: dict = Body(...)) -> Any:  # noqa: B008 - FastAPI's way of declaring a JSON body
        try:
            body = dict(payload["body"])
            for key, deserialize in deserializers.items():
                body[key] = deserialize(body[key])
            with torch.no_grad():
                output = module.serve_step(**body)
            if not isinstance(output, dict):
                raise TypeError(f"serve_step must return a dict of outputs; got {type(output).__qualname__}")
            return {key: serializers[key](value) if key in serializers else value for key, value in output.items()}
        except Exception as error:  # reported to the validator, which names it in its error
            return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)

    return app


__all__ = ["ServableModule", "ServableModuleValidator", "ServedResponse"]
