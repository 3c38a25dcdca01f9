"""Image backbones from timm and torchvision, by name.

A plain name (``"resnet18"``) is a timm model; ``"torchvision/resnet18"`` picks torchvision's. Each backbone is
built without its classifier and reports its feature width and the preprocessing its weights expect.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from dataclasses import dataclass
from typing import Any, cast

import torch

from flashtrain.tasks.hub import hub_endpoint, hub_failure, hub_offline, hub_reachable
from flashtrain.tasks.image.transforms import IMAGENET_MEAN, IMAGENET_STD, ImageConfig

TORCHVISION_PREFIX = "torchvision/"
TIMM_PREFIX = "timm/"


@dataclass
class Backbone:
    module: torch.nn.Module
    num_features: int
    image_config: ImageConfig


def _torchvision_names() -> list[str]:
    import torchvision

    return [TORCHVISION_PREFIX + name for name in torchvision.models.list_models(module=torchvision.models)]


def available_backbones(filter: str | None = None) -> list[str]:
    """Backbone names containing ``filter`` (case-insensitive): timm names, then torchvision/... names."""
    import timm

    names = list(timm.list_models()) + _torchvision_names()
    if filter:
        names = [name for name in names if filter.lower() in name.lower()]
    return names


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, available_backbones(), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(
        f"Unknown backbone {name!r}.{hint} List them with available_backbones('{name[:6]}') or "
        f"`flash-train backbones image_classification --filter {name[:6]}`."
    )


def _offline_error(name: str, error: Exception, reason: str | None) -> RuntimeError:
    if reason == "torchvision":
        why = "no network (torchvision downloads its weights from download.pytorch.org)"
    elif reason == "offline":
        why = "the Hugging Face Hub is in offline mode (HF_HUB_OFFLINE=1)"
    elif reason == "not_found":
        why = f"{hub_endpoint()} does not have them"
    else:
        why = f"no network (no answer from {hub_endpoint()})"
    return RuntimeError(
        f"could not download weights for {name}: {why}, and they are not in the local cache "
        f"({type(error).__name__}). Pass pretrained=False (--no-pretrained) to train from scratch, or a local "
        "weights file as pretrained='path.pth'."
    )


def build_backbone(name: str, pretrained: bool | str = True, backbone_kwargs: dict[str, Any] | None = None) -> Backbone:
    """The named backbone without classifier; ``pretrained`` is True (download or cache), False, or a weights file;
    ``backbone_kwargs`` go to ``timm.create_model`` / ``torchvision.models.get_model``."""
    if isinstance(pretrained, str) and not os.path.isfile(pretrained):
        raise FileNotFoundError(f"pretrained={pretrained!r}: no weights file there. Pass a file path, True or False.")
    if backbone_kwargs is not None and not isinstance(backbone_kwargs, dict):
        raise TypeError(f"backbone_kwargs must be a dict, got {type(backbone_kwargs).__name__}.")
    reserved = sorted({"num_classes", "pretrained", "weights"} & set(backbone_kwargs or {}))
    if reserved:
        raise ValueError(f"backbone_kwargs may not set {reserved}: use the ImageClassifier arguments for those.")
    if name.startswith(TORCHVISION_PREFIX):
        return _torchvision_backbone(name[len(TORCHVISION_PREFIX) :], pretrained, backbone_kwargs or {})
    return _timm_backbone(
        name[len(TIMM_PREFIX) :] if name.startswith(TIMM_PREFIX) else name, pretrained, backbone_kwargs or {}
    )


def _timm_backbone(name: str, pretrained: bool | str, extra: dict[str, Any]) -> Backbone:
    import timm

    if not timm.is_model(name):
        raise _unknown(name)
    kwargs: dict[str, Any] = {"num_classes": 0, **extra, "pretrained": pretrained is True}  # a file: see below
    # timm downloads through huggingface_hub, which honours HF_ENDPOINT (mirrors), proxies and HF_HUB_OFFLINE.
    unreachable = pretrained is True and not hub_offline() and not hub_reachable()
    offline: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if unreachable:  # the Hub client would retry for most of a minute; offline mode uses the cache or fails now
        from unittest import mock

        import huggingface_hub.constants

        offline = mock.patch.object(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    try:
        with offline:
            model = timm.create_model(name, **kwargs)
    except TypeError as error:
        raise TypeError(f"backbone_kwargs for {name}: {error}") from None
    except (OSError, RuntimeError, ValueError) as error:
        if pretrained is True:
            reason = "unreachable" if unreachable else hub_failure(error)
            if reason in ("unreachable", None) and not unreachable:
                reason = "not_found"  # the endpoint answered, but not with the weights
            raise _offline_error(name, error, reason) from None
        raise
    if isinstance(pretrained, str):
        load_weights_file(model, pretrained, name)
    config = timm.data.resolve_data_config({}, model=model)
    height, width = (int(v) for v in config["input_size"][-2:])
    size: int | tuple[int, int] = height if height == width else (height, width)
    # The pooled output's width: ``head_hidden_size`` where a conv head follows the pooling (MobileNetV3, LCNet,
    # GhostNet: 1280 after a 256-wide trunk), else ``num_features`` (every timm model has it).
    features = cast(int, getattr(model, "head_hidden_size", None) or model.num_features)
    return Backbone(model, features, ImageConfig(size, tuple(config["mean"]), tuple(config["std"])))


def _torchvision_backbone(name: str, pretrained: bool | str, extra: dict[str, Any]) -> Backbone:
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise _unknown(TORCHVISION_PREFIX + name)
    try:
        model = torchvision.models.get_model(name, weights="DEFAULT" if pretrained is True else None, **extra)
    except TypeError as error:
        raise TypeError(f"backbone_kwargs for torchvision/{name}: {error}") from None
    except OSError as error:  # URLError: no network and nothing in torch's hub cache
        raise _offline_error(TORCHVISION_PREFIX + name, error, "torchvision") from None
    if isinstance(pretrained, str):
        load_weights_file(model, pretrained, TORCHVISION_PREFIX + name)
    num_features = _strip_classifier(model, name)
    return Backbone(model, num_features, ImageConfig(224, IMAGENET_MEAN, IMAGENET_STD))


def load_weights_file(model: torch.nn.Module, path: str, name: str) -> None:
    """Load a weights file into ``model``, refusing one that does not fit it.

    Every tensor of the backbone must be in the file with its shape (a classifier the backbone has no use for may
    be extra). Loading with ``strict=False`` alone would accept the weights of another architecture, leave the
    model random and say nothing.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means "not a weights file we can read"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"pretrained={path!r} is not a readable weights file: {first}") from None
    for key in ("state_dict", "model", "model_state_dict"):  # Lightning, timm and common training-script layouts
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"pretrained={path!r} does not hold a state_dict (a dict of parameter name -> tensor).")
    state = {key.removeprefix("module."): value for key, value in state.items()}  # saved from DataParallel/DDP
    own = model.state_dict()
    fitting = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    unfit = [key for key in own if key not in fitting]
    if unfit:
        raise ValueError(
            f"pretrained={path!r} does not fit the {name} backbone: {len(unfit)} of its {len(own)} tensors are "
            f"missing from the file or have another shape (e.g. {unfit[:3]}). Is it the weights of another "
            f"architecture? Pass a weights file of {name}, another backbone, or pretrained=False."
        )
    model.load_state_dict(fitting, strict=False)


def _strip_classifier(model: torch.nn.Module, name: str) -> int:
    """Replace the final Linear layer (fc, classifier[-1], heads.head) by Identity; return its input width."""
    for parent_name in ("fc", "classifier", "heads", "head"):
        parent = getattr(model, parent_name, None)
        if isinstance(parent, torch.nn.Linear):
            setattr(model, parent_name, torch.nn.Identity())
            return parent.in_features
        if isinstance(parent, torch.nn.Sequential):
            for index in range(len(parent) - 1, -1, -1):
                layer = parent[index]
                if isinstance(layer, torch.nn.Linear):
                    parent[index] = torch.nn.Identity()
                    return layer.in_features
    raise ValueError(f"torchvision/{name} has no final Linear classifier to replace; use a timm backbone instead.")
