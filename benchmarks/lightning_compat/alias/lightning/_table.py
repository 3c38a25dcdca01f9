"""The mapping: each public Lightning module and name, and the flashtrain object a porting user gets for it.

A spec is ``"module.path:Name"`` (imported on first use), or :data:`INTERNAL` for a Lightning-private name
that some test file imports at its top (the tests using it are in the exclusion list; the name only has to
import). Names absent from flashtrain stay in the table: using them raises ``ImportError`` naming what is
missing, so the harness counts the gap instead of hiding it.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

INTERNAL = "<lightning-internal>"

_CORE = "flashtrain.core"
_CB = "flashtrain.core.callbacks"
_ADAPT = "lightning._adapters"

_TOP = {
    "LightningModule": f"{_CORE}:LightningModule",
    "LightningDataModule": f"{_CORE}:LightningDataModule",
    "Trainer": f"{_CORE}:Trainer",
    "Callback": f"{_CORE}:Callback",
    "seed_everything": f"{_CORE}:seed_everything",
}

MODULES: dict[str, dict[str, str]] = {
    "lightning": dict(_TOP),
    "lightning.pytorch": {
        **_TOP,
        "__version__": f"{_ADAPT}:LIGHTNING_VERSION",
        "cli_lightning_logo": f"{_ADAPT}:cli_lightning_logo",
    },
    "lightning.pytorch.cli": {
        "LightningCLI": f"{_CORE}.cli:LightningCLI",
        "LightningArgumentParser": f"{_CORE}.cli:LightningArgumentParser",
        "SaveConfigCallback": f"{_CORE}.cli:SaveConfigCallback",
        "ReduceLROnPlateau": f"{_CORE}.cli:ReduceLROnPlateau",
        "instantiate_class": f"{_CORE}.cli:instantiate_class",
    },
    "lightning.pytorch.callbacks": {
        "Callback": f"{_CB}:Callback",
        "EarlyStopping": f"{_CB}:EarlyStopping",
        "LearningRateMonitor": f"{_CB}:LearningRateMonitor",
        "ModelCheckpoint": f"{_CB}:ModelCheckpoint",
        "ModelSummary": f"{_CB}:ModelSummary",
        "TQDMProgressBar": f"{_CB}:TQDMProgressBar",
        "ThroughputMonitor": f"{_CB}:ThroughputMonitor",
        "ProgressBar": f"{_CB}:ProgressBar",
        "Timer": f"{_CB}:Timer",
        "BackboneFinetuning": f"{_CB}:BackboneFinetuning",
        "BaseFinetuning": f"{_CB}:BaseFinetuning",
        "LambdaCallback": f"{_CB}:LambdaCallback",
        "WeightAveraging": f"{_CB}:WeightAveraging",
        "EMAWeightAveraging": f"{_CB}:EMAWeightAveraging",
        "StochasticWeightAveraging": f"{_CB}:StochasticWeightAveraging",
        "ModelPruning": f"{_CB}:ModelPruning",
        "GradientAccumulationScheduler": f"{_CB}:GradientAccumulationScheduler",
        "BasePredictionWriter": f"{_CB}:BasePredictionWriter",
        "RichProgressBar": f"{_CB}:RichProgressBar",
        "RichModelSummary": f"{_CB}:RichModelSummary",
        "DeviceStatsMonitor": f"{_CB}:DeviceStatsMonitor",
        "LearningRateFinder": f"{_CB}:LearningRateFinder",
        "BatchSizeFinder": f"{_CB}:BatchSizeFinder",
    },
    "lightning.pytorch.callbacks.lr_finder": {"LearningRateFinder": f"{_CB}:LearningRateFinder"},
    "lightning.pytorch.callbacks.batch_size_finder": {"BatchSizeFinder": f"{_CB}:BatchSizeFinder"},
    "lightning.pytorch.callbacks.progress.rich_progress": {
        "RichProgressBar": f"{_CB}:RichProgressBar",
        "RichProgressBarTheme": f"{_CB}:RichProgressBarTheme",
        # rich's own class, which Lightning's module imports (its CustomProgress subclasses it): tests patch
        # ``Progress.update`` / ``.stop`` / ``.reset`` there, and the patch reaches every rich Progress.
        "Progress": "rich.progress:Progress",
    },
    "lightning.pytorch.callbacks.rich_model_summary": {"RichModelSummary": f"{_CB}:RichModelSummary"},
    "lightning.pytorch.callbacks.device_stats_monitor": {"DeviceStatsMonitor": f"{_CB}:DeviceStatsMonitor"},
    "lightning.pytorch.callbacks.spike": {"SpikeDetection": f"{_CB}:SpikeDetection"},
    "lightning.pytorch.callbacks.prediction_writer": {"BasePredictionWriter": f"{_CB}:BasePredictionWriter"},
    "lightning.pytorch.callbacks.gradient_accumulation_scheduler": {
        "GradientAccumulationScheduler": f"{_CB}:GradientAccumulationScheduler"
    },
    "lightning.pytorch.callbacks.pruning": {"ModelPruning": f"{_CB}:ModelPruning"},
    "lightning.pytorch.callbacks.callback": {"Callback": f"{_CB}:Callback"},
    "lightning.pytorch.callbacks.lambda_function": {"LambdaCallback": f"{_CB}:LambdaCallback"},
    "lightning.pytorch.callbacks.weight_averaging": {
        "WeightAveraging": f"{_CB}:WeightAveraging",
        "EMAWeightAveraging": f"{_CB}:EMAWeightAveraging",
    },
    "lightning.pytorch.callbacks.stochastic_weight_avg": {
        "StochasticWeightAveraging": f"{_CB}:StochasticWeightAveraging"
    },
    "lightning.pytorch.callbacks.early_stopping": {
        "EarlyStopping": f"{_CB}.early_stopping:EarlyStopping",
        "EarlyStoppingReason": f"{_CB}.early_stopping:EarlyStoppingReason",
        "log": f"{_CB}.early_stopping:log",
    },
    "lightning.pytorch.callbacks.lr_monitor": {"LearningRateMonitor": f"{_CB}:LearningRateMonitor"},
    "lightning.pytorch.callbacks.model_checkpoint": {"ModelCheckpoint": f"{_CB}:ModelCheckpoint"},
    "lightning.pytorch.callbacks.finetuning": {
        "BackboneFinetuning": f"{_CB}:BackboneFinetuning",
        "BaseFinetuning": f"{_CB}:BaseFinetuning",
    },
    "lightning.pytorch.callbacks.progress": {
        "TQDMProgressBar": f"{_CB}:TQDMProgressBar",
        "ProgressBar": f"{_CB}:ProgressBar",
        "RichProgressBar": f"{_CB}:RichProgressBar",
    },
    "lightning.pytorch.callbacks.progress.tqdm_progress": {
        "TQDMProgressBar": f"{_CB}:TQDMProgressBar",
        "Tqdm": f"{_CB}.tqdm_bar:Tqdm",
    },
    "lightning.pytorch.callbacks.timer": {"Timer": f"{_CB}:Timer"},
    "lightning.pytorch.callbacks.throughput_monitor": {"ThroughputMonitor": f"{_CB}:ThroughputMonitor"},
    "lightning.fabric.utilities.throughput": {
        "Throughput": f"{_CORE}.utilities.throughput:Throughput",
        "measure_flops": f"{_CORE}.utilities.throughput:measure_flops",
    },
    "lightning.pytorch.core": {
        "LightningModule": f"{_CORE}:LightningModule",
        "LightningDataModule": f"{_CORE}:LightningDataModule",
    },
    "lightning.pytorch.core.mixins": {"HyperparametersMixin": f"{_CORE}.hparams:HyperparametersMixin"},
    "lightning.pytorch.core.mixins.hparams_mixin": {"HyperparametersMixin": f"{_CORE}.hparams:HyperparametersMixin"},
    "lightning.pytorch.utilities.parsing": {
        "AttributeDict": f"{_CORE}.hparams:AttributeDict",
        **{
            name: f"{_CORE}.utilities.parsing:{name}"
            for name in (
                "is_picklable",
                "clean_namespace",
                "parse_class_init_keys",
                "collect_init_args",
                "lightning_hasattr",
                "lightning_getattr",
                "lightning_setattr",
            )
        },
    },
    "lightning.pytorch.core.saving": {
        "save_hparams_to_yaml": f"{_CORE}.hparams:save_hparams_to_yaml",
        "load_hparams_from_yaml": f"{_CORE}.hparams:load_hparams_from_yaml",
        "save_hparams_to_tags_csv": f"{_CORE}.hparams_tags:save_hparams_to_tags_csv",
        "load_hparams_from_tags_csv": f"{_CORE}.hparams_tags:load_hparams_from_tags_csv",
    },
    "lightning.pytorch.core.module": {"LightningModule": f"{_CORE}:LightningModule"},
    "lightning.pytorch.core.datamodule": {"LightningDataModule": f"{_CORE}:LightningDataModule"},
    "lightning.pytorch.core.optimizer": {"LightningOptimizer": f"{_CORE}.trainer.optimizers:ManagedOptimizer"},
    "lightning.pytorch.demos": {},
    "lightning.pytorch.loggers": {
        "Logger": f"{_CORE}.loggers:Logger",
        "CSVLogger": f"{_CORE}.loggers:CSVLogger",
        "TensorBoardLogger": f"{_CORE}.loggers:TensorBoardLogger",
        "MLFlowLogger": f"{_CORE}.loggers:MLFlowLogger",
        "WandbLogger": f"{_CORE}.loggers:WandbLogger",
    },
    "lightning.pytorch.loggers.logger": {
        "Logger": f"{_CORE}.loggers:Logger",
        "DummyLogger": f"{_CORE}.loggers:DummyLogger",
        "DummyExperiment": f"{_CORE}.loggers.base:DummyExperiment",
    },
    "lightning.pytorch.loggers.mlflow": {"MLFlowLogger": f"{_CORE}.loggers:MLFlowLogger"},
    "lightning.pytorch.loggers.wandb": {"WandbLogger": f"{_CORE}.loggers:WandbLogger"},
    "lightning.pytorch.loggers.tensorboard": {"TensorBoardLogger": f"{_CORE}.loggers:TensorBoardLogger"},
    "lightning.pytorch.loggers.csv_logs": {
        "CSVLogger": f"{_CORE}.loggers:CSVLogger",
        "ExperimentWriter": f"{_CORE}.loggers.csv_logs:ExperimentWriter",
    },
    "lightning.pytorch.loops": {"_EvaluationLoop": INTERNAL},
    "lightning.pytorch.loops.evaluation_loop": {},
    "lightning.pytorch.profilers": {
        "SimpleProfiler": f"{_CORE}.profilers:SimpleProfiler",
        "AdvancedProfiler": f"{_CORE}.profilers:AdvancedProfiler",
        "PyTorchProfiler": f"{_CORE}.profilers:PyTorchProfiler",
        "PassThroughProfiler": f"{_CORE}.profilers:PassThroughProfiler",
        "Profiler": f"{_CORE}.profilers:Profiler",
    },
    "lightning.pytorch.profilers.pytorch": {
        "PyTorchProfiler": f"{_CORE}.profilers:PyTorchProfiler",
        "RegisterRecordFunction": f"{_CORE}.profilers:RegisterRecordFunction",
    },
    "lightning.pytorch.profilers.simple": {"SimpleProfiler": f"{_CORE}.profilers:SimpleProfiler"},
    "lightning.pytorch.profilers.advanced": {"AdvancedProfiler": f"{_CORE}.profilers:AdvancedProfiler"},
    "lightning.pytorch.profilers.base": {"PassThroughProfiler": f"{_CORE}.profilers:PassThroughProfiler"},
    "lightning.pytorch.profilers.profiler": {"Profiler": f"{_CORE}.profilers:Profiler"},
    "lightning.pytorch.tuner": {"Tuner": f"{_CORE}.tuner:Tuner"},
    "lightning.pytorch.tuner.tuning": {"Tuner": f"{_CORE}.tuner:Tuner"},
    "lightning.pytorch.accelerators": {
        "Accelerator": f"{_CORE}.accelerators:Accelerator",
        "CPUAccelerator": f"{_CORE}.accelerators:CPUAccelerator",
        "CUDAAccelerator": f"{_CORE}.accelerators:CUDAAccelerator",
        "MPSAccelerator": f"{_CORE}.accelerators:MPSAccelerator",
        "XLAAccelerator": f"{_CORE}.accelerators:XLAAccelerator",
    },
    "lightning.pytorch.accelerators.xla": {"XLAAccelerator": f"{_CORE}.accelerators:XLAAccelerator"},
    "lightning.pytorch.strategies.strategy": {"Strategy": f"{_CORE}.strategies:Strategy"},
    "lightning.pytorch.accelerators.cuda": {"CUDAAccelerator": f"{_CORE}.accelerators:CUDAAccelerator"},
    "lightning.pytorch.accelerators.mps": {"MPSAccelerator": f"{_CORE}.accelerators:MPSAccelerator"},
    "lightning.pytorch.accelerators.cpu": {"CPUAccelerator": f"{_CORE}.accelerators:CPUAccelerator"},
    "lightning.pytorch.strategies": {
        "Strategy": f"{_CORE}.strategies:Strategy",
        "DDPStrategy": f"{_CORE}.strategies:DDPStrategy",
        "FSDPStrategy": f"{_CORE}.strategies:FSDPStrategy",
        "ParallelStrategy": f"{_CORE}.strategies:ParallelStrategy",
        "SingleDeviceStrategy": f"{_CORE}.strategies:SingleDeviceStrategy",
        "XLAStrategy": f"{_CORE}.strategies:XLAStrategy",
    },
    "lightning.pytorch.strategies.parallel": {"ParallelStrategy": f"{_CORE}.strategies:ParallelStrategy"},
    "lightning.pytorch.serve": {
        "ServableModule": f"{_CORE}.serve:ServableModule",
        "ServableModuleValidator": f"{_CORE}.serve:ServableModuleValidator",
    },
    "lightning.pytorch.serve.servable_module": {"ServableModule": f"{_CORE}.serve:ServableModule"},
    "lightning.pytorch.serve.servable_module_validator": {
        "ServableModule": f"{_CORE}.serve:ServableModule",
        "ServableModuleValidator": f"{_CORE}.serve:ServableModuleValidator",
    },
    "lightning.pytorch.trainer": {"Trainer": f"{_CORE}:Trainer"},
    "lightning.pytorch.trainer.trainer": {"Trainer": f"{_CORE}:Trainer"},
    "lightning.pytorch.trainer.states": {
        "RunningStage": f"{_CORE}.trainer.state:RunningStage",
        "TrainerFn": f"{_CORE}.trainer.state:TrainerFn",
        "TrainerStatus": f"{_CORE}.trainer.state:TrainerStatus",
        "TrainerState": f"{_CORE}.trainer.state:TrainerState",
    },
    "lightning.pytorch.utilities": {
        "grad_norm": f"{_CORE}.utilities.grads:grad_norm",
        "AttributeDict": f"{_CORE}.hparams:AttributeDict",
        "CombinedLoader": f"{_CORE}.utilities.combined_loader:CombinedLoader",
        "rank_zero_only": f"{_CORE}.utilities.rank_zero:rank_zero_only",
        "rank_zero_info": f"{_CORE}.utilities.rank_zero:rank_zero_info",
        "rank_zero_warn": f"{_CORE}.utilities.rank_zero:rank_zero_warn",
        "find_shared_parameters": f"{_CORE}.utilities.parameter_tying:find_shared_parameters",
        "set_shared_parameters": f"{_CORE}.utilities.parameter_tying:set_shared_parameters",
        "GradClipAlgorithmType": f"{_CORE}.utilities.enums:GradClipAlgorithmType",
        "is_picklable": f"{_CORE}.utilities.parsing:is_picklable",
        "disable_possible_user_warnings": f"{_CORE}.exceptions:disable_possible_user_warnings",
        "measure_flops": f"{_CORE}.utilities.throughput:measure_flops",
    },
    "lightning.pytorch.utilities.parameter_tying": {
        "find_shared_parameters": f"{_CORE}.utilities.parameter_tying:find_shared_parameters",
        "set_shared_parameters": f"{_CORE}.utilities.parameter_tying:set_shared_parameters",
    },
    "lightning.pytorch.utilities.enums": {"GradClipAlgorithmType": f"{_CORE}.utilities.enums:GradClipAlgorithmType"},
    "lightning.pytorch.utilities.memory": {"recursive_detach": f"{_CORE}.utilities.memory:recursive_detach"},
    "lightning.pytorch.utilities.seed": {"isolate_rng": f"{_CORE}.seed:isolate_rng"},
    "lightning.pytorch.utilities.data": {
        "extract_batch_size": f"{_CORE}.utilities.data:extract_batch_size",
        "has_len_all_ranks": f"{_CORE}.utilities.data:has_len_all_ranks",
        "warning_cache": f"{_CORE}.utilities.data:warning_cache",
        "has_iterable_dataset": f"{_CORE}.utilities.data:has_iterable_dataset",
    },
    "lightning.pytorch.utilities.rank_zero": {
        "WarningCache": f"{_CORE}.utilities.rank_zero:WarningCache",
        "rank_zero_only": f"{_CORE}.utilities.rank_zero:rank_zero_only",
        "rank_zero_info": f"{_CORE}.utilities.rank_zero:rank_zero_info",
        "rank_zero_warn": f"{_CORE}.utilities.rank_zero:rank_zero_warn",
    },
    "lightning.pytorch.utilities.combined_loader": {
        "CombinedLoader": f"{_CORE}.utilities.combined_loader:CombinedLoader"
    },
    "lightning.pytorch.utilities.model_summary": {
        "ModelSummary": f"{_CORE}.utilities.model_summary:ModelSummary",
        "summarize": f"{_CORE}.utilities.model_summary:summarize",
        "get_human_readable_count": f"{_CORE}.utilities.model_summary:get_human_readable_count",
    },
    "lightning.pytorch.utilities.model_summary.model_summary": {
        name: f"{_CORE}.utilities.model_summary:{name}"
        for name in (
            "ModelSummary",
            "LayerSummary",
            "summarize",
            "get_human_readable_count",
            "UNKNOWN_SIZE",
            "LEFTOVER_PARAMS_NAME",
            "NOT_APPLICABLE",
        )
    },
    "lightning.pytorch.utilities.warnings": {"PossibleUserWarning": f"{_CORE}.exceptions:PossibleUserWarning"},
    "lightning.fabric.utilities.warnings": {
        "PossibleUserWarning": f"{_CORE}.exceptions:PossibleUserWarning",
        "disable_possible_user_warnings": f"{_CORE}.exceptions:disable_possible_user_warnings",
    },
    "lightning.fabric.utilities.cloud_io": {"get_filesystem": f"{_ADAPT}:get_filesystem"},
    "lightning.fabric.utilities.rank_zero": {
        "LightningDeprecationWarning": f"{_CORE}.exceptions:LightningDeprecationWarning"
    },
    "lightning.pytorch.utilities.exceptions": {
        "MisconfigurationException": f"{_CORE}.exceptions:MisconfigurationException",
        "SIGTERMException": f"{_CORE}.exceptions:SIGTERMException",
    },
    "lightning.pytorch.utilities.imports": {
        "_RICH_AVAILABLE": f"{_ADAPT}:RICH_AVAILABLE",
        "_TORCHMETRICS_GREATER_EQUAL_0_11": f"{_ADAPT}:TRUE",
        "_TORCHVISION_AVAILABLE": f"{_ADAPT}:TORCHVISION_AVAILABLE",
    },
    "lightning.pytorch.utilities.model_helpers": {
        "is_overridden": f"{_ADAPT}:is_overridden",
        "get_torchvision_model": f"{_ADAPT}:get_torchvision_model",
    },
    "lightning.pytorch.utilities.types": {
        "STEP_OUTPUT": f"{_ADAPT}:STEP_OUTPUT",
        "LRSchedulerConfig": f"{_CORE}.trainer.optimizers:LRSchedulerConfig",
    },
    "lightning.fabric": {"seed_everything": f"{_CORE}:seed_everything"},
    "lightning.fabric.utilities.data": {"has_iterable_dataset": f"{_CORE}.utilities.data:has_iterable_dataset"},
    "lightning.fabric.plugins.environments": {
        name: f"{_CORE}.plugins:{name}"
        for name in (
            "ClusterEnvironment",
            "KubeflowEnvironment",
            "LightningEnvironment",
            "SLURMEnvironment",
            "TorchElasticEnvironment",
        )
    },
    "lightning.pytorch.plugins.environments": {
        name: f"{_CORE}.plugins:{name}"
        for name in (
            "ClusterEnvironment",
            "KubeflowEnvironment",
            "LightningEnvironment",
            "SLURMEnvironment",
            "TorchElasticEnvironment",
        )
    },
    "lightning.pytorch.plugins": {
        name: f"{_CORE}.plugins:{name}"
        for name in (
            "CheckpointIO",
            "TorchCheckpointIO",
            "Precision",
            "DoublePrecision",
            "MixedPrecision",
            "ClusterEnvironment",
            "KubeflowEnvironment",
            "LightningEnvironment",
            "SLURMEnvironment",
            "TorchElasticEnvironment",
            "LayerSync",
            "TorchSyncBatchNorm",
        )
    },
    "lightning.pytorch.plugins.layer_sync": {
        name: f"{_CORE}.plugins:{name}" for name in ("LayerSync", "TorchSyncBatchNorm")
    },
    **{
        f"lightning.fabric.plugins.environments.{module}": {name: f"{_CORE}.plugins:{name}"}
        for module, name in (
            ("slurm", "SLURMEnvironment"),
            ("lightning", "LightningEnvironment"),
            ("torchelastic", "TorchElasticEnvironment"),
            ("kubeflow", "KubeflowEnvironment"),
            ("cluster_environment", "ClusterEnvironment"),
        )
    },
    "lightning.fabric.plugins.io.torch_io": {"TorchCheckpointIO": f"{_CORE}.plugins:TorchCheckpointIO"},
    "lightning.pytorch.plugins.io": {
        "CheckpointIO": f"{_CORE}.plugins:CheckpointIO",
        "TorchCheckpointIO": f"{_CORE}.plugins:TorchCheckpointIO",
    },
    "lightning.fabric.plugins": {
        "CheckpointIO": f"{_CORE}.plugins:CheckpointIO",
        "TorchCheckpointIO": f"{_CORE}.plugins:TorchCheckpointIO",
    },
    "lightning.pytorch.plugins.precision": {
        "Precision": f"{_CORE}.plugins:Precision",
        "DoublePrecision": f"{_CORE}.plugins:DoublePrecision",
        "MixedPrecision": f"{_CORE}.plugins:MixedPrecision",
    },
    "lightning.fabric.utilities.seed": {"seed_everything": f"{_CORE}:seed_everything"},
    "lightning.fabric.utilities": {
        "disable_possible_user_warnings": f"{_CORE}.exceptions:disable_possible_user_warnings"
    },
    "lightning.fabric.utilities.exceptions": {
        "MisconfigurationException": f"{_CORE}.exceptions:MisconfigurationException"
    },
    "lightning.fabric.utilities.spike": {"TrainingSpikeException": f"{_CB}.spike:TrainingSpikeException"},
    "lightning.fabric.utilities.imports": {"_IS_WINDOWS": f"{_ADAPT}:IS_WINDOWS"},
}

# Lightning's demo files, read from the checkout; lightning.pytorch.demos re-exports these names.
DEMOS = {
    "lightning.pytorch.demos.boring_classes",
    "lightning.pytorch.demos.transformer",
    "lightning.pytorch.demos.mnist_datamodule",
    "lightning.pytorch.demos.lstm",
}
DEMOS_EXPORTS = {
    "Transformer": "lightning.pytorch.demos.transformer",
    "WikiText2": "lightning.pytorch.demos.transformer",
    "LightningTransformer": "lightning.pytorch.demos.transformer",
    "BoringModel": "lightning.pytorch.demos.boring_classes",
    "BoringDataModule": "lightning.pytorch.demos.boring_classes",
    "DemoModel": "lightning.pytorch.demos.boring_classes",
    "ManualOptimBoringModel": "lightning.pytorch.demos.boring_classes",
}


def is_internal_module(module: str) -> bool:
    """A Lightning module holding internals only: a ``_private`` part, or one of exclusions.PRIVATE_MODULES."""
    from exclusions import PRIVATE_MODULES

    return any(part.startswith("_") for part in module.split(".")) or module.startswith(PRIVATE_MODULES)


class _InternalMeta(type):
    def __iter__(cls) -> Any:  # a private constant used as a parametrize list: no cases (the test is excluded)
        return iter(())

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # Used while a test file is imported (a private decorator on a helper class): a placeholder that fails on
        # use, so the file's public tests still run (the tests using the internal are excluded).
        if any(frame.function == "<module>" for frame in inspect.stack()[1:3]):
            return _Unusable(f"{cls.__qualname__} is a Lightning internal with no flashtrain equivalent")
        return super().__call__(*args, **kwargs)


def _internal(qualified: str) -> type:
    class LightningInternal(metaclass=_InternalMeta):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError(f"{qualified} is a Lightning internal with no flashtrain equivalent")

    LightningInternal.__qualname__ = LightningInternal.__name__ = qualified.rsplit(".", 1)[-1]
    return LightningInternal


class _MissingMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        raise ImportError(cls._message)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):  # Python's and mock's probes (``_is_coroutine``...) see a plain missing attribute
            raise AttributeError(name)
        raise ImportError(cls._message)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # Called while a test file is collected (a parametrize list builds one): a placeholder that fails on use,
        # so the tests that need the name fail and the file's other tests still run.
        if any(frame.function == "<module>" for frame in inspect.stack()[1:3]):
            return _Unusable(cls._message)
        raise ImportError(cls._message)


class _Unusable:
    """An instance of a name flashtrain lacks, made at import time: every use raises the gap's ImportError."""

    def __init__(self, message: str) -> None:
        object.__setattr__(self, "_message", message)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pytest's and Python's probes (``__name__``...) see a plain missing attribute
            raise AttributeError(name)
        raise ImportError(object.__getattribute__(self, "_message"))

    def __repr__(self) -> str:
        return f"<missing: {object.__getattribute__(self, '_message')}>"


def missing(qualified: str, spec: str) -> type:
    """A stand-in that imports, and fails with ``ImportError`` naming the gap as soon as a test uses it.

    So a test file that imports one missing name at its top still runs its other tests, and every test
    that needs the name fails with the same countable cause.
    """
    message = f"flashtrain has no equivalent of {qualified} (looked for {spec})"
    return _MissingMeta(qualified.rsplit(".", 1)[-1], (), {"_message": message})


def resolve(spec: str, qualified: str) -> Any:
    """The object a spec names; a stand-in that fails on use (naming the gap) when flashtrain lacks it."""
    if spec == INTERNAL:
        return _internal(qualified)
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError):
        return missing(qualified, spec)
