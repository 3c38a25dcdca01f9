"""Stands in for Lightning's ``tests_pytorch/helpers/runif.py`` (which reads Lightning internals).

``RunIf(**conditions)`` skips a test unless this machine meets every condition. Conditions this harness
cannot judge skip the test, with the condition named, rather than run it on the wrong hardware.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from packaging.version import Version


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _reasons(conditions: dict) -> list[str]:
    reasons = []
    torch_version = Version(torch.__version__.split("+")[0])
    for key, value in conditions.items():
        if key == "min_cuda_gpus" and torch.cuda.device_count() < value:
            reasons.append(f"{value} CUDA GPUs")
        elif key == "mps" and value != bool(torch.backends.mps.is_available()):
            reasons.append("MPS" if value else "no MPS")
        elif key == "min_torch" and torch_version < Version(value):
            reasons.append(f"torch >= {value}")
        elif key == "max_torch" and torch_version >= Version(value):
            reasons.append(f"torch < {value}")
        elif key == "skip_windows" and value and sys.platform == "win32":
            reasons.append("not Windows")
        elif key in ("sklearn", "rich", "deepspeed", "onnx", "bitsandbytes", "omegaconf") and value:
            module = {"sklearn": "sklearn"}.get(key, key)
            if not _installed(module):
                reasons.append(key)
        elif key in ("standalone", "tpu", "bf16_cuda", "dynamo") and value:
            reasons.append(f"{key} (not judged by this harness)")
        elif key not in ("min_cuda_gpus", "mps", "min_torch", "max_torch", "skip_windows", "sklearn", "rich"):
            reasons.append(f"{key}={value!r} (not judged by this harness)")
    return reasons


def RunIf(**conditions):  # noqa: N802 - Lightning's name
    reasons = _reasons(conditions)
    return pytest.mark.skipif(len(reasons) > 0, reason=f"Requires: [{' + '.join(reasons)}]")


_xfail_gloo_windows = pytest.mark.xfail(RuntimeError, strict=True, condition=False, reason="gloo on Windows")
