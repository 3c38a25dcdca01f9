"""``ModelPruning``: prune weights during training with ``torch.nn.utils.prune`` (Lightning 2's callback)."""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.utilities.rank_zero import global_rank

log = logging.getLogger(__name__)

# The pruning routines torch ships, by the names users pass: the function (one tensor at a time) and the
# method class (what global pruning takes).
_FUNCTION_NAMES = ("ln_structured", "l1_unstructured", "random_structured", "random_unstructured")
_METHOD_CLASSES = {
    "ln_structured": "LnStructured",
    "l1_unstructured": "L1Unstructured",
    "random_structured": "RandomStructured",
    "random_unstructured": "RandomUnstructured",
}

Amount = int | float
ParameterList = Sequence[tuple[Any, str]]


def _is_method_class(value: Any) -> bool:
    from torch.nn.utils import prune

    return inspect.isclass(value) and issubclass(value, prune.BasePruningMethod)


class ModelPruning(Callback):
    """Prune the model's parameters at the end of training epochs, with torch's pruning utilities.

    Args:
        pruning_fn: A name in ``("ln_structured", "l1_unstructured", "random_structured", "random_unstructured")``
            or a ``torch.nn.utils.prune.BasePruningMethod`` subclass (the class, with global pruning).
        parameters_to_prune: ``(module, parameter_name)`` pairs; empty: every ``parameter_names`` parameter of
            every leaf module.
        parameter_names: Which parameters to prune when ``parameters_to_prune`` is empty: ``"weight"``/``"bias"``.
        use_global_unstructured: Rank all the parameters together (``prune.global_unstructured``) rather than
            each tensor on its own.
        amount: Fraction (float) or count (int) to prune, or a function ``epoch -> amount``.
        apply_pruning: Whether to prune, or a function ``epoch -> bool``.
        make_pruning_permanent: Fold the masks into the weights when training ends and in every saved checkpoint
            (training continues with its masks).
        use_lottery_ticket_hypothesis: After pruning, reset the surviving weights to their initial values
            (bool, or a function ``epoch -> bool``).
        resample_parameters: With the lottery ticket reset, draw fresh initial values instead.
        pruning_dim: Dimension for structured pruning.
        pruning_norm: Norm for ``ln_structured``.
        verbose: 0 quiet, 1 logs the overall sparsity after each pruning, 2 also each tensor's.
        prune_on_train_epoch_end: Prune at the end of the training epoch; False: at the end of validation.

    Raises:
        MisconfigurationException: A bad argument (Lightning's messages).
    """

    PARAMETER_NAMES = ("weight", "bias")

    def __init__(
        self,
        pruning_fn: Callable[..., Any] | str,
        parameters_to_prune: ParameterList | None = (),
        parameter_names: list[str] | None = None,
        use_global_unstructured: bool = True,
        amount: Amount | Callable[[int], Amount] = 0.5,
        apply_pruning: bool | Callable[[int], bool] = True,
        make_pruning_permanent: bool = True,
        use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True,
        resample_parameters: bool = False,
        pruning_dim: int | None = None,
        pruning_norm: int | None = None,
        verbose: int = 0,
        prune_on_train_epoch_end: bool = True,
    ) -> None:
        self.parameter_names = list(parameter_names or self.PARAMETER_NAMES)
        for name in self.parameter_names:
            if name not in self.PARAMETER_NAMES:
                raise MisconfigurationException(
                    f"The provided `parameter_names` name: {name} isn't in {self.PARAMETER_NAMES}"
                )
        self.use_global_unstructured = use_global_unstructured
        self.method_name = ""
        self.method_kwargs: dict[str, Any] = {}  # what a named method needs besides the amount (dim, n)
        method: Any = pruning_fn  # a torch.nn.utils.prune.BasePruningMethod subclass once resolved
        if isinstance(pruning_fn, str):
            method = self._named_method(pruning_fn.lower(), pruning_dim, pruning_norm)
        elif _is_method_class(pruning_fn):
            if not use_global_unstructured:
                raise MisconfigurationException(
                    "PyTorch `BasePruningMethod` is currently only supported with `use_global_unstructured=True`."
                )
        else:
            raise MisconfigurationException(
                f"`pruning_fn` is expected to be a str in {list(_FUNCTION_NAMES)} or a PyTorch `BasePruningMethod`."
                f" Found: {pruning_fn}. HINT: if passing a `BasePruningMethod`, pass the class, not an instance"
            )
        if use_global_unstructured and getattr(method, "PRUNING_TYPE", None) != "unstructured":
            raise MisconfigurationException(
                'Only the "unstructured" PRUNING_TYPE is supported with `use_global_unstructured=True`.'
                f" Found method {method} of type {getattr(method, 'PRUNING_TYPE', None)}."
            )
        if not (isinstance(amount, (int, float)) or callable(amount)):
            raise MisconfigurationException(
                "`amount` should be provided and be either an int, a float or Callable function."
            )
        if verbose not in (0, 1, 2):
            raise MisconfigurationException("`verbose` must be any of (0, 1, 2)")
        self.pruning_fn: Any = method
        self.method_name = self.method_name or method.__name__
        self.parameters_to_prune: ParameterList = parameters_to_prune or ()
        self.amount = amount
        self.apply_pruning_when = apply_pruning
        self.make_permanent = make_pruning_permanent
        self.use_lottery_ticket_hypothesis = use_lottery_ticket_hypothesis
        self.resample_parameters = resample_parameters
        self.prune_on_train_epoch_end = prune_on_train_epoch_end
        self.verbose = verbose
        # The lottery ticket reset's reference: a copy of each pruned module as it was before training.
        self.initial_modules: dict[int, Any] = {}

    def _named_method(self, name: str, dim: int | None, norm: int | None) -> Any:
        from torch.nn.utils import prune

        if name not in _FUNCTION_NAMES:
            raise MisconfigurationException(
                f"The provided `pruning_fn` {name} isn't available in PyTorch's built-in functions: "
                f"{list(_FUNCTION_NAMES)} "
            )
        if name.endswith("_structured"):
            if dim is None:
                raise MisconfigurationException(
                    "When requesting `structured` pruning, the `pruning_dim` should be provided."
                )
            if name == "ln_structured":
                if norm is None:
                    raise MisconfigurationException(
                        "When requesting `ln_structured` pruning, the `pruning_norm` should be provided."
                    )
                self.method_kwargs["n"] = norm
            self.method_kwargs["dim"] = dim
        if not self.use_global_unstructured:
            self.method_name = name  # each tensor pruned by torch's function of this name
        return getattr(prune, _METHOD_CLASSES[name])

    def filter_parameters_to_prune(self, parameters_to_prune: ParameterList = ()) -> ParameterList:
        """Override to choose which of the ``(module, name)`` pairs to prune."""
        return parameters_to_prune

    @staticmethod
    def sanitize_parameters_to_prune(
        pl_module: Any, parameters_to_prune: ParameterList | None = (), parameter_names: Sequence[str] = ()
    ) -> ParameterList:
        """The ``(module, name)`` pairs to prune: the given ones, checked, or every named parameter of the leaves.

        Raises:
            MisconfigurationException: A pair names a module outside the model or a missing parameter, or the
                value is not a list of pairs.
        """
        import torch

        from flashtrain.core.module import Module

        names = parameter_names or ModelPruning.PARAMETER_NAMES
        containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict, Module)
        leaves = [m for m in pl_module.modules() if not isinstance(m, containers)]
        if not parameters_to_prune:
            return [
                (module, name)
                for name in names
                for module in leaves
                if isinstance(getattr(module, name, None), torch.nn.Parameter)
            ]
        pairs_ok = isinstance(parameters_to_prune, (list, tuple)) and all(
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and isinstance(pair[0], torch.nn.Module)
            and isinstance(pair[1], str)
            for pair in parameters_to_prune
        )
        if not pairs_ok:
            raise MisconfigurationException(
                "The provided `parameters_to_prune` should either be list of tuple"
                " with 2 elements: (nn.Module, parameter_name_to_prune) or None"
            )
        missing_modules = [m for m, _ in parameters_to_prune if not any(m is leaf for leaf in leaves)]
        missing_names = [n for m, n in parameters_to_prune if any(m is leaf for leaf in leaves) and not hasattr(m, n)]
        if missing_modules or missing_names:
            raise MisconfigurationException(
                "Some provided `parameters_to_prune` don't exist in the model."
                f" Found missing modules: {missing_modules} and missing parameters: {missing_names}"
            )
        return list(parameters_to_prune)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        pairs = self.sanitize_parameters_to_prune(pl_module, self.parameters_to_prune, self.parameter_names)
        self.parameters_to_prune = self.filter_parameters_to_prune(pairs)
        if self.use_lottery_ticket_hypothesis:
            self.initial_modules = {}
            for module, _ in self.parameters_to_prune:
                self.initial_modules.setdefault(id(module), copy.deepcopy(module))

    def apply_pruning(self, amount: Amount) -> None:
        """Prune ``parameters_to_prune`` by ``amount`` (logging the sparsity when ``verbose``)."""
        from torch.nn.utils import prune

        before = [_zeros_and_size(m, n) for m, n in self.parameters_to_prune] if self.verbose else []
        if self.use_global_unstructured:
            kwargs = {**self.method_kwargs, "amount": amount}
            accepted = set(inspect.signature(self.pruning_fn).parameters) - {"self"}
            kwargs = {key: value for key, value in kwargs.items() if key in accepted}
            prune.global_unstructured(self.parameters_to_prune, pruning_method=self.pruning_fn, **kwargs)
        else:
            for module, name in self.parameters_to_prune:
                self.pruning_fn.apply(module, name, amount=amount, **self.method_kwargs)
        if self.verbose and global_rank() == 0:
            after = [_zeros_and_size(m, n) for m, n in self.parameters_to_prune]
            self._log_sparsity(before, after, amount)

    def _log_sparsity(self, before: list[tuple[int, int]], after: list[tuple[int, int]], amount: Amount) -> None:
        total = sum(size for _, size in after)
        zeros_before, zeros_after = sum(z for z, _ in before), sum(z for z, _ in after)
        log.info(
            f"Applied `{self.method_name}`. Pruned: {zeros_before}/{total} ({zeros_before / total:.2%}) ->"
            f" {zeros_after}/{total} ({zeros_after / total:.2%})"
        )
        if self.verbose == 2:
            for (module, name), (z0, size0), (z1, size1) in zip(self.parameters_to_prune, before, after):
                log.info(
                    f"Applied `{self.method_name}` to `{module!r}.{name}` with amount={amount}. Pruned:"
                    f" {z0} ({z0 / size0:.2%}) -> {z1} ({z1 / size1:.2%})"
                )

    def apply_lottery_ticket_hypothesis(self) -> None:
        """Reset the unpruned weights to their values before training (or fresh ones with ``resample_parameters``)."""
        fresh: dict[int, Any] = {}
        for module, name in self.parameters_to_prune:
            reference = self.initial_modules[id(module)]
            if self.resample_parameters and callable(getattr(reference, "reset_parameters", None)):
                if id(module) not in fresh:
                    fresh[id(module)] = copy.deepcopy(reference)
                    fresh[id(module)].reset_parameters()
                reference = fresh[id(module)]
            # A pruned tensor keeps its trainable values in `<name>_orig` (the mask multiplies them in forward).
            target = getattr(module, f"{name}_orig", None)
            target = getattr(module, name) if target is None else target
            source = getattr(reference, name)
            if target is not None and source is not None:
                target.data = source.data.to(target.device)

    def make_pruning_permanent(self, module: Any) -> None:
        """Fold every pruning mask under ``module`` into its tensor and drop the reparametrization."""
        from torch.nn.utils import prune

        for submodule in module.modules():
            pruned = [
                name[: -len("_mask")] for name, _ in submodule.named_buffers(recurse=False) if name.endswith("_mask")
            ]
            for name in pruned:
                if prune.is_pruned(submodule) and hasattr(submodule, f"{name}_orig"):
                    prune.remove(submodule, name)

    def _run(self, epoch: int) -> None:
        prune_now = self.apply_pruning_when(epoch) if callable(self.apply_pruning_when) else self.apply_pruning_when
        amount = self.amount(epoch) if callable(self.amount) else self.amount
        if not prune_now or not amount:
            return
        self.apply_pruning(amount)
        lottery = self.use_lottery_ticket_hypothesis
        if lottery(epoch) if callable(lottery) else lottery:
            self.apply_lottery_ticket_hypothesis()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.prune_on_train_epoch_end:
            self._run(pl_module.current_epoch)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking and not self.prune_on_train_epoch_end:
            self._run(pl_module.current_epoch)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.make_permanent:
            self.make_pruning_permanent(pl_module)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if not self.make_permanent:
            return
        # The saved weights are the pruned ones; the model being trained keeps its masks and continues.
        state = dict(checkpoint["state_dict"])
        for key in [k[: -len("_mask")] for k in state if k.endswith("_mask")]:
            original, mask = state.pop(f"{key}_orig"), state.pop(f"{key}_mask")
            state[key] = mask.to(original.dtype) * original
        checkpoint["state_dict"] = state


def _zeros_and_size(module: Any, name: str) -> tuple[int, int]:
    mask = getattr(module, f"{name}_mask", None)
    if mask is None:
        return 0, 1
    return int((mask == 0).sum().item()), mask.numel()
