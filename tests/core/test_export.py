"""to_torchscript / to_onnx: exported models give the module's outputs; mode restored; clear errors."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core.export import to_onnx, to_torchscript
from tests.core.helpers import Net


def test_torchscript_script_and_trace_match_the_module_and_restore_train_mode(tmp_path):
    torch.manual_seed(0)
    net = Net()
    net.train()
    x = torch.randn(3, 8)
    scripted = to_torchscript(net, tmp_path / "net.pt")
    assert net.training
    with torch.no_grad():
        expected = net.eval()(x)
    net.train()
    torch.testing.assert_close(torch.jit.load(tmp_path / "net.pt")(x), expected)
    traced = to_torchscript(net, method="trace", example_inputs=x)
    torch.testing.assert_close(traced(x), expected)
    torch.testing.assert_close(scripted(x), expected)


def test_torchscript_refuses_unknown_method_and_trace_without_input():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="only supports 'script' or 'trace'"):
        to_torchscript(Net(), method="jit")
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(ValueError, match="requires either `example_inputs` or `model.example_input_array`"),
    ):
        to_torchscript(Net(), method="trace")


def test_onnx_export_runs_in_onnxruntime_with_the_same_outputs(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = Net()
    net.example_input_array = torch.randn(2, 8)
    to_onnx(net, tmp_path / "net.onnx", dynamo=False)
    session = ort.InferenceSession(str(tmp_path / "net.onnx"))
    x = torch.randn(2, 8)
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), net.eval()(x), rtol=1e-4, atol=1e-5)


def test_onnx_refuses_without_an_input(tmp_path):
    with pytest.raises(ValueError, match="neither `input_sample` nor `model.example_input_array`.*Net.example_input"):
        to_onnx(Net(), tmp_path / "x.onnx")


def test_torchscript_warns_it_is_deprecated_as_lightning_does_and_still_exports_to_a_url(tmp_path):
    pytest.importorskip("fsspec")
    from flashtrain.core.exceptions import LightningDeprecationWarning

    net = Net()
    with pytest.warns(LightningDeprecationWarning, match="deprecated in v2.7 .*torch.export.export"):
        scripted = to_torchscript(net, f"file://{tmp_path}/net.pt")
    x = torch.randn(2, 8)
    torch.testing.assert_close(torch.jit.load(str(tmp_path / "net.pt"))(x), scripted(x))


def test_onnx_export_writes_to_a_stream_that_onnxruntime_runs():
    import io

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    stream = io.BytesIO()
    net = Net()
    net.train()
    to_onnx(net, stream, torch.randn(2, 8), dynamo=False)
    assert net.training
    session = ort.InferenceSession(stream.getvalue())
    x = torch.randn(2, 8)
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), net.eval()(x), rtol=1e-4, atol=1e-5)


def test_tensorrt_export_names_the_missing_package_and_needs_a_cuda_device(monkeypatch):
    import importlib.util
    import sys
    import types

    from flashtrain.core.exceptions import MisconfigurationException
    from tests.core.helpers import RegressionModule

    model = RegressionModule()
    if importlib.util.find_spec("torch_tensorrt") is None:
        with pytest.raises(ModuleNotFoundError, match=r"`RegressionModule.to_tensorrt` requires `torch_tensorrt`"):
            model.to_tensorrt("model.trt")
    fake = types.ModuleType("torch_tensorrt")  # found by the import check; never reached on a CPU
    fake.__spec__ = importlib.util.spec_from_loader("torch_tensorrt", loader=None)
    monkeypatch.setitem(sys.modules, "torch_tensorrt", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        MisconfigurationException, match="TensorRT only supports CUDA devices. The current device is cpu"
    ):
        model.to_tensorrt("model.trt", torch.randn(1, 8))
    with pytest.raises(ValueError, match="IR mode 'ts' only supports output format 'torchscript'"):
        model.to_tensorrt("model.trt", torch.randn(1, 8), ir="ts")
    assert model.training and model.device.type == "cpu"
