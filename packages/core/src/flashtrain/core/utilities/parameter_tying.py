"""Tied (shared) parameters: find which parameter names point at the same tensor, and tie them again.

Moving a module between devices or loading a state dict can break ties that were made by assignment
(``decoder.weight = encoder.weight``); these two functions record the ties and restore them (Lightning's names).
torch has no public helper for either, and each is a few lines over ``named_parameters``.
"""

from __future__ import annotations

from torch import nn


def find_shared_parameters(module: nn.Module) -> list[list[str]]:
    """Groups of parameter names that refer to one parameter, in registration order (empty when none are tied)."""
    names_of: dict[int, list[str]] = {}
    for name, parameter in module.named_parameters(remove_duplicate=False):
        names_of.setdefault(id(parameter), []).append(name)
    return [names for names in names_of.values() if len(names) > 1]


def set_shared_parameters(module: nn.Module, shared_params: list[list[str]]) -> nn.Module:
    """Tie each group of names to the parameter named first in it (what :func:`find_shared_parameters` returns)."""
    for names in shared_params:
        reference = module.get_parameter(names[0])
        for name in names[1:]:
            owner_name, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(owner_name), attribute, reference)
    return module


__all__ = ["find_shared_parameters", "set_shared_parameters"]
