"""A module rebuilt from a checkpoint already in memory: what ``Module.load_from_checkpoint`` does after reading
the file, public so that a caller who has read the checkpoint once (to see which task it holds, say) does not read
it a second time.

    checkpoint = load_checkpoint(path)
    model = module_from_checkpoint(registry.get(checkpoint["task"]).load("model"), checkpoint, source=path)
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

_T = TypeVar("_T")


def module_from_checkpoint(
    module_class: type[_T],
    checkpoint: dict[str, Any],
    source: str = "the checkpoint",
    map_location: Any = None,
    strict: bool | None = None,
    **overrides: Any,
) -> _T:
    """``module_class`` rebuilt from ``checkpoint`` (a dict as :func:`~flashtrain.core.checkpoint.load_checkpoint`
    returns it): the saved hyper-parameters (``overrides`` win, through the class's
    ``hyperparameters_from_checkpoint``), ``on_load_checkpoint``, the weights; in eval mode.

    Args:
        module_class: A :class:`~flashtrain.core.Module` subclass.
        checkpoint: The loaded checkpoint; it is read, not changed.
        source: Where it came from, for error messages (the path).
        map_location: A device (or its name) to move the module to; a dict or function ``map_location`` is
            ``torch.load``'s business and was applied when the checkpoint was read.
        strict: Whether the weights must match the module's parameters exactly; None: the module's
            ``strict_loading`` says (a checkpoint with no weights at all loads none, with a warning).
    """
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise TypeError(
            f"module_from_checkpoint needs a checkpoint dict with a 'state_dict' (as load_checkpoint returns it); got "
            f"{type(checkpoint).__name__}. For a file, call {module_class.__name__}.load_from_checkpoint(path)."
        )
    from flashtrain.core.hparams import build_from_hyperparameters

    cls: Any = module_class
    hyper_parameters = cls.hyperparameters_from_checkpoint(checkpoint, source, overrides)
    try:
        module = build_from_hyperparameters(cls, hyper_parameters)
    except TypeError as error:
        raise TypeError(
            f"Could not rebuild {cls.__name__} from {source}: {error}. Saved hyper-parameters: "
            f"{sorted(checkpoint.get('hyper_parameters', {}))}; pass the missing ones as keyword arguments."
        ) from error
    strict = module.loading_strictness(strict) if hasattr(module, "loading_strictness") else strict is not False
    module.on_load_checkpoint(checkpoint)
    from flashtrain.core.utilities.compiled import strip_compile_prefix

    if checkpoint["state_dict"]:
        module.load_state_dict(strip_compile_prefix(checkpoint["state_dict"]), strict=strict)
    else:  # as Lightning: nothing to load (a checkpoint written before the weights existed, or edited)
        warnings.warn(f"The state dict in {source!r} contains no parameters.", stacklevel=3)
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        module.to(map_location)
    module.eval()
    return module
