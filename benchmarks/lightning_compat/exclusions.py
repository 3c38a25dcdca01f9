"""Lightning tests the harness does not count: each exercises a Lightning internal, or hardware this machine lacks.

Two ways a test is left out, both with a reason that the report prints next to it:

* :func:`exclusion_reason` applies a rule to the test's source (and to the module-level helpers it names): it
  patches a Lightning module path or a private attribute, reads a private (``_name``) attribute it did not set
  itself, uses a private name or a name from a Lightning-internal module, walks Lightning's private loop objects
  (``trainer.fit_loop`` and friends are ``_FitLoop``... instances), or requests one of Lightning's fixtures that
  mock accelerator availability through its private modules (CUDA/MPS/TPU hardware we lack).
* :data:`EXCLUDED` names the few tests the rule cannot see (a private read hidden in a fixture, say).

Hardware conditions themselves (``RunIf(min_cuda_gpus=...)``, ``mps``, ``tpu``, ``deepspeed``, ``standalone``...)
are judged by ``stage/runif.py`` and reported as *skipped*, not counted. Keys of :data:`EXCLUDED` are pytest ids
relative to ``tests/tests_pytorch`` (a bare function name covers all its parameters). A test that fails on a
public behaviour is never excluded: it is counted, and either fixed or listed in ``docs/lightning-differences.md``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
from typing import Any

# Lightning modules that hold internals only (their classes are ``_Private`` or undocumented machinery).
PRIVATE_MODULES = (
    "lightning.pytorch.loops",
    "lightning.pytorch.trainer.connectors",
    "lightning.pytorch.trainer.configuration_validator",
    "lightning.pytorch.overrides",
    "lightning.pytorch.strategies.launchers",
    "lightning.pytorch.utilities.migration",
    "lightning.pytorch.utilities.signature_utils",
    "lightning.pytorch.utilities.testing",
    "lightning.fabric.strategies.launchers",
    "lightning.fabric.utilities.distributed",
)
# Attributes of the Trainer whose values are Lightning's private loop objects (``_FitLoop``, ``_EvaluationLoop``...).
PRIVATE_LOOP_ATTRIBUTES = {"fit_loop", "validate_loop", "test_loop", "predict_loop", "epoch_loop", "val_loop"}
# Lightning's conftest fixtures that monkeypatch accelerator availability through private modules.
HARDWARE_MOCK_FIXTURES = {
    "cuda_count_0",
    "cuda_count_1",
    "cuda_count_2",
    "cuda_count_4",
    "mps_count_0",
    "mps_count_1",
    "xla_available",
    "tpu_available",
}
# Lightning's conftest functions that do the same, called from a test body.
HARDWARE_MOCK_FUNCTIONS = {"mock_cuda_count", "mock_mps_count", "mock_xla_available", "mock_tpu_available"}
# Lightning's environment flags (``_RICH_AVAILABLE``, ``_TORCH_GREATER_EQUAL_2_6``, ``_IS_WINDOWS``): the alias
# answers them from this machine, so a test reading one is counted.
ENVIRONMENT_FLAG = re.compile(r"^_(?:[A-Z0-9]+_)*(?:AVAILABLE|GREATER_EQUAL_[0-9_]+|EQUAL_[0-9_]+)$|^_IS_WINDOWS$")
# Private names of Python and torch (not Lightning's) that tests may touch.
_NOT_LIGHTNING = {
    "_asdict",
    "_replace",
    "_fields",
    "_modules",
    "_parameters",
    "_buffers",
    "_getframe",
    "_mock_children",
}
_PATCHERS = {"patch", "object", "setattr", "setitem", "delattr", "patch.object", "patch.dict"}


def _is_public_method_path(path: str) -> bool:
    """``lightning.pytorch.loggers.TensorBoardLogger.log_metrics``: a public method of a public class, patched on the
    class itself, so the patch reaches the flashtrain class the alias maps it to (public behaviour). Replacing a
    module-level name (``lightning.pytorch.callbacks.ModelCheckpoint``) depends on where Lightning's own code looks
    names up, an internal, and stays excluded."""
    parts = path.split(".")
    if len(parts) < 4 or any(part.startswith("_") for part in parts) or _is_private_module(path):
        return False
    return parts[-2][:1].isupper() and parts[-1][:1].islower()


def _is_private_module(module: str) -> bool:
    if not module.startswith("lightning"):
        return False
    return any(part.startswith("_") for part in module.split(".")) or module.startswith(PRIVATE_MODULES)


@functools.cache
def _module_facts(path: str) -> tuple[dict[str, str], dict[str, ast.AST]]:
    """For a test file: each imported name -> its Lightning module; each module-level def/class -> its node."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    imported: dict[str, str] = {}
    defined: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lightning"):
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined[node.name] = node
    return imported, defined


def _call_name(node: ast.Call) -> str:
    parts = []
    target: Any = node.func
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
    return ".".join(reversed(parts))


def _reason_in(tree: ast.AST, imported: dict[str, str]) -> str | None:
    assigned = {
        node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
    }
    assigned |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in HARDWARE_MOCK_FUNCTIONS:
                return f"mocks accelerator hardware through Lightning's private modules (`{name}`)"
            last = name.rsplit(".", 1)[-1]
            if last in {"patch", "setattr", "object", "delattr"} and (
                "mock" in name or "patch" in name or "monkeypatch" in name
            ):
                args = node.args
                if (
                    args
                    and isinstance(args[0], ast.Constant)
                    and str(args[0].value).startswith("lightning")
                    and not _is_public_method_path(str(args[0].value))
                ):
                    return f"patches Lightning's module path `{args[0].value}`"
                if len(args) > 1 and isinstance(args[1], ast.Constant) and str(args[1].value).startswith("_"):
                    return f"patches the private `{args[1].value}`"
                if (
                    args
                    and isinstance(args[0], ast.Name)
                    and _is_private_module(imported.get(args[0].id, "x").split(":")[0])
                ):
                    return f"patches Lightning's internal module `{imported[args[0].id]}`"
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            attr = node.attr
            if attr in PRIVATE_LOOP_ATTRIBUTES:
                return f"reads `.{attr}`, one of Lightning's private loop objects"
            if (
                attr.startswith("_")
                and not attr.startswith("__")
                and attr not in assigned
                and attr not in _NOT_LIGHTNING
                and not (isinstance(node.value, ast.Name) and node.value.id in {"torch", "sys", "os", "np"})
            ):
                return f"reads the private attribute `.{attr}`"
        elif isinstance(node, ast.Name) and node.id in imported:
            module, _, name = imported[node.id].partition(":")
            if ENVIRONMENT_FLAG.match(name):
                continue  # an import-availability or version flag: a fact about the machine, not an internal
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):  # __version__ is public
                return f"uses Lightning's private `{module}.{name}`"
            if _is_private_module(module):
                return f"uses `{name}` from Lightning's internal module `{module}`"
    return None


def exclusion_reason(test_id: str, item: Any) -> str | None:
    """Why this collected test is not counted (``None``: it is counted)."""
    for key, reason in EXCLUDED.items():
        if test_id == key or test_id.startswith(key + "["):
            return reason
    mocked = HARDWARE_MOCK_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if mocked:
        return f"mocks accelerator hardware through Lightning's private modules (fixture `{sorted(mocked)[0]}`)"
    function = getattr(item, "function", None)
    if function is None:
        return None
    function = inspect.unwrap(function)  # a test under @mock.patch(...): its own source and file, not mock's
    try:
        source = textwrap.dedent(inspect.getsource(function))
        path = inspect.getsourcefile(function)
    except (OSError, TypeError):
        return None
    imported, defined = _module_facts(path) if path else ({}, {})
    tree = ast.parse(source)
    reason = _reason_in(tree, imported)
    if reason:
        return reason
    # one level down: the module-level helper classes and functions the test names
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for name in sorted(used & defined.keys()):
        reason = _reason_in(defined[name], imported)
        if reason:
            return f"{reason} (in its helper `{name}`)"
    return None


_ES = "callbacks/test_early_stopping.py::"
_TRAIN_LOG = "trainer/logging_/test_train_loop_logging.py::"
_EVAL_LOG = "trainer/logging_/test_eval_loop_logging.py::"
_MANUAL = "trainer/optimization/test_manual_optimization.py::"
_HOOKS = "models/test_hooks.py::"
_SWA = "callbacks/test_stochastic_weight_avg.py::"
_SWA_HELPER = (
    "its helper SwaTestCallback (through train_with_swa / _swa_resume_training_from_checkpoint, two levels down, "
    "beyond the rule's reach) asserts on the private trainer.fit_loop._skip_backward and the callback's private "
    "_swa_scheduler / _max_epochs"
)
_HPC = (
    "its helper tests_pytorch.helpers.pipelines.run_model_test (with_hpc=True, the default) saves and restores "
    "through the private checkpoint connector of the trainer (hpc_save_path, restore)"
)

EXCLUDED: dict[str, str] = {
    "callbacks/test_weight_averaging.py::test_ema_resume_ddp": (
        "its helper EMATestCallback (through _train_and_resume, two levels down, beyond the rule's reach) reads the "
        "callback's private `._average_model` and Lightning's private loop object `trainer.fit_loop.restarting`"
    ),
    _ES + "test_early_stopping_no_extraneous_invocations": (
        "counts calls of the private EarlyStopping._run_early_stopping_check through a Mock"
    ),
    _ES + "test_min_epochs_min_steps_global_step": "patches the private EarlyStopping._evaluate_stopping_criteria",
    _ES + "test_check_on_train_epoch_end_smart_handling": (
        "patches the private EarlyStopping._evaluate_stopping_criteria to see which hook ran the check"
    ),
    _ES + "test_early_stopping_squeezes": (
        "patches the private _evaluate_stopping_criteria and calls the private _run_early_stopping_check"
    ),
    _ES + "test_early_stopping_log_info": (
        "calls the private EarlyStopping._log_info and patches Lightning's module logger"
    ),
    _TRAIN_LOG + "test_on_epoch_logging_with_sum_and_on_batch_start": (
        "reads the private _results collection of the trainer and its entries' .value"
    ),
    _TRAIN_LOG + "test_unsqueezed_tensor_logging": "sets the private LightningModule._current_fx_name",
    _EVAL_LOG + "test_log_works_in_test_callback": "reads the private _results.dataloader_idx of the trainer",
    _EVAL_LOG + "test_multiple_dataloaders_reset": (
        "reads the private _results entries of the trainer' cumulated_batch_size"
    ),
    _EVAL_LOG + "test_native_print_results": "calls the private _EvaluationLoop._print_results",
    _EVAL_LOG + "test_native_print_results_encodings": "calls the private _EvaluationLoop._print_results",
    _EVAL_LOG + "test_rich_print_results": "calls the private _EvaluationLoop._print_results (rich)",
    _HOOKS + "test_load_from_checkpoint_hook_calls": "calls the private _data_connector.attach_data of the trainer",
    "trainer/connectors/test_accelerator_connector.py::test_sync_batchnorm_set_in_custom_strategy": (
        "asserts on the strategy's private `._layer_sync` (the test sets it itself, so the automatic rule misses it)"
    ),
    "models/test_cpu.py::test_early_stopping_cpu_model": _HPC,
    "models/test_cpu.py::test_multi_cpu_model_ddp": _HPC,
    "models/test_cpu.py::test_cpu_model": _HPC,
    "models/test_cpu.py::test_all_features_cpu_model": _HPC,
    "models/test_onnx.py::test_model_saves_on_multi_gpu": _HPC,
    _SWA + "test_swa_callback": _SWA_HELPER,
    _SWA + "test_swa_callback_ddp_cpu": _SWA_HELPER,
    _SWA + "test_swa_callback_scheduler_step": _SWA_HELPER,
    _SWA + "test_swa_resume_training_from_checkpoint": _SWA_HELPER,
    _SWA + "test_swa_resume_training_from_checkpoint_custom_scheduler": _SWA_HELPER,
    _SWA + "test_swa_resume_training_from_checkpoint_ddp": _SWA_HELPER,
    **{
        f"loggers/test_all.py::test_logger_initialization[{name}]": (
            "its helper LazyInitExperimentCheck (through _test_logger_initialization, two levels down) asserts on "
            "the loggers' private _experiment / MLFlowLogger._mlflow_client in setup"
        )
        for name in ("CSVLogger", "MLFlowLogger", "TensorBoardLogger", "WandbLogger")
    },
    "callbacks/progress/test_rich_progress_bar.py::test_rich_progress_bar_update_counts": (
        "replaces the private RichProgressBar._update_metrics with a Mock and asserts on its call count"
    ),
    "loops/test_fetchers.py::test_fetching_is_profiled": (
        "reads profiler action names built from Lightning's private loop classes ('[_EvaluationLoop].val_next')"
    ),
    "utilities/test_all_gather_grad.py::test_all_gather_ddp_spawn": (
        "launches processes through Lightning's private _MultiProcessingLauncher (helper spawn_launch of "
        "core/test_results.py)"
    ),
    "tuner/test_lr_finder.py::test_trainer_reset_correctly": (
        "reads the private loop object `trainer.fit_loop.max_steps` through a string (getattr_recursive)"
    ),
    "tuner/test_scale_batch_size.py::test_tuner_with_evaluation_methods": (
        "reads the private loop object `trainer.<fn>_loop.batch_progress` through getattr with a built name"
    ),
}
