"""flashtrain.core.serve: ServableModule and ServableModuleValidator (Lightning's lightning.pytorch.serve)."""

from __future__ import annotations

import socket

import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from flashtrain.core import Module, Trainer  # noqa: E402
from flashtrain.core.exceptions import MisconfigurationException  # noqa: E402
from flashtrain.core.serve import ServableModule, ServableModuleValidator  # noqa: E402


class Doubler(Module, ServableModule):
    """Lightning's test shape: the payload is a list, the answer a list."""

    def __init__(self, expected=None, fail: bool = False) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.expected = expected
        self.fail = fail

    def configure_payload(self):
        return {"body": {"x": [1.0, 2.0, 3.0]}}

    def configure_serialization(self):
        return {"x": lambda values: torch.tensor(values)}, {"output": lambda tensor: tensor.tolist()}

    def serve_step(self, x):
        if self.fail:
            raise RuntimeError("the model cannot read this input")
        assert not self.training  # served in eval mode
        return {"output": x * 2}

    def configure_response(self):
        return self.expected


def test_validator_serves_the_payload_and_keeps_the_answer():
    validator = ServableModuleValidator(port=0)
    module = Doubler(expected={"output": [2.0, 4.0, 6.0]})
    validator.on_train_start(Trainer(accelerator="cpu", logger=False), module)  # Lightning's test calls it so
    assert validator.successful and validator.resp.json() == {"output": [2.0, 4.0, 6.0]}
    assert module.training  # the server had a copy in eval mode
    assert validator.state_dict() == {"successful": True, "optimization": None, "server": "fastapi"}


def test_a_different_answer_or_a_failing_serve_step_stops_the_run():
    validator = ServableModuleValidator(port=0)
    trainer = Trainer(accelerator="cpu", logger=False)
    with pytest.raises(MisconfigurationException, match=r"expected response \{'output': \[0\]\} doesn't match"):
        validator.on_train_start(trainer, Doubler(expected={"output": [0]}))
    with pytest.raises(MisconfigurationException, match="answered 500: .*the model cannot read this input"):
        validator.on_train_start(trainer, Doubler(fail=True))
    lenient = ServableModuleValidator(port=0, exit_on_failure=False)
    lenient.on_train_start(trainer, Doubler(fail=True))
    assert lenient.successful is False


def test_mistakes_are_named():
    trainer = Trainer(accelerator="cpu", logger=False)
    with pytest.raises(TypeError, match="needs a ServableModule; got Module"):
        ServableModuleValidator(port=0).on_train_start(trainer, Module())
    no_body = Doubler()
    no_body.configure_payload = lambda: {"x": [1.0]}
    with pytest.raises(ValueError, match="must return a dict with a 'body' entry"):
        ServableModuleValidator(port=0).on_train_start(trainer, no_body)
    with pytest.raises(NotImplementedError, match="optimization='onnx'.* is not available"):
        ServableModuleValidator(optimization="onnx")
    with pytest.raises(NotImplementedError, match="only server='fastapi' is supported"):
        ServableModuleValidator(server="torchserve")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*port=0 for a free one"):
            ServableModuleValidator(port=port).on_train_start(trainer, Doubler())


def test_a_servable_module_must_define_the_serving_methods():
    class Incomplete(Module, ServableModule):
        def configure_payload(self):
            return {"body": {}}

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
