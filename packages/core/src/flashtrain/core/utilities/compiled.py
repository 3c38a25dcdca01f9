"""``trainer.fit(torch.compile(model))``: train the Module inside, with its forward and steps compiled.

As Lightning does, the wrapper ``torch.compile`` returns is set aside: the trainer works on the Module itself
(its hooks, ``self.log``, checkpoints without ``_orig_mod.`` key prefixes), whose ``forward`` and step methods
are replaced on the instance by their compiled versions, with the settings the user compiled with.
"""

from __future__ import annotations

from typing import Any

_COMPILED_METHODS = ("forward", "training_step", "validation_step", "test_step", "predict_step")
_PREFIX = "_orig_mod."


def unwrap_compiled(model: Any, module_type: type) -> Any:
    """The ``module_type`` instance inside a ``torch.compile`` wrapper (methods compiled), else ``model``."""
    inner = getattr(model, "_orig_mod", None)  # torch's documented attribute of an OptimizedModule
    if not isinstance(inner, module_type) or isinstance(model, module_type):
        return model
    compile_with = getattr(model, "dynamo_ctx", None)  # the settings torch.compile(...) was called with
    if compile_with is None:
        import torch

        compile_with = torch.compile
    for name in _COMPILED_METHODS:
        method = getattr(inner, name, None)
        if callable(method) and name not in inner.__dict__:
            inner.__dict__[name] = compile_with(method)
    return inner


def strip_compile_prefix(state_dict: Any) -> Any:
    """A state dict saved from a compiled module (``_orig_mod.`` key prefixes) as the plain module's; anything that
    is not a dict (a sharded strategy's marker for weights it loads itself) is returned as it is."""
    if not isinstance(state_dict, dict) or not any(key.startswith(_PREFIX) for key in state_dict):
        return state_dict
    return {key.removeprefix(_PREFIX): value for key, value in state_dict.items()}
