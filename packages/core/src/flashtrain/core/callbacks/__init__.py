"""Built-in callbacks (imported on first use: ``import flashtrain.core`` loads only the ``Callback`` base)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.callbacks.base_finetuning import BaseFinetuning
    from flashtrain.core.callbacks.device_stats import DeviceStatsMonitor
    from flashtrain.core.callbacks.early_stopping import EarlyStopping
    from flashtrain.core.callbacks.finetuning import BackboneFinetuning, BackboneUnfreezing, finetuning_callback
    from flashtrain.core.callbacks.gradient_accumulation import GradientAccumulationScheduler
    from flashtrain.core.callbacks.lambda_function import LambdaCallback
    from flashtrain.core.callbacks.lr_monitor import LearningRateMonitor
    from flashtrain.core.callbacks.model_checkpoint import ModelCheckpoint
    from flashtrain.core.callbacks.model_summary import ModelSummary
    from flashtrain.core.callbacks.prediction_writer import BasePredictionWriter
    from flashtrain.core.callbacks.progress import ProgressBar
    from flashtrain.core.callbacks.progress import ProgressBar as TQDMProgressBar
    from flashtrain.core.callbacks.pruning import ModelPruning
    from flashtrain.core.callbacks.rich_model_summary import RichModelSummary
    from flashtrain.core.callbacks.rich_progress import RichProgressBar, RichProgressBarTheme
    from flashtrain.core.callbacks.spike import SpikeDetection
    from flashtrain.core.callbacks.throughput_monitor import ThroughputMonitor
    from flashtrain.core.callbacks.time_budget import TimeBudget
    from flashtrain.core.callbacks.timer import Timer
    from flashtrain.core.callbacks.tuning_callbacks import BatchSizeFinder, LearningRateFinder
    from flashtrain.core.callbacks.weight_averaging import (
        EMAWeightAveraging,
        StochasticWeightAveraging,
        WeightAveraging,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BackboneFinetuning": "flashtrain.core.callbacks.finetuning:BackboneFinetuning",
        "BackboneUnfreezing": "flashtrain.core.callbacks.finetuning:BackboneUnfreezing",
        "BaseFinetuning": "flashtrain.core.callbacks.base_finetuning:BaseFinetuning",
        "BasePredictionWriter": "flashtrain.core.callbacks.prediction_writer:BasePredictionWriter",
        "DeviceStatsMonitor": "flashtrain.core.callbacks.device_stats:DeviceStatsMonitor",
        "EMAWeightAveraging": "flashtrain.core.callbacks.weight_averaging:EMAWeightAveraging",
        "EarlyStopping": "flashtrain.core.callbacks.early_stopping:EarlyStopping",
        "GradientAccumulationScheduler": (
            "flashtrain.core.callbacks.gradient_accumulation:GradientAccumulationScheduler"
        ),
        "LambdaCallback": "flashtrain.core.callbacks.lambda_function:LambdaCallback",
        "LearningRateFinder": "flashtrain.core.callbacks.tuning_callbacks:LearningRateFinder",
        "BatchSizeFinder": "flashtrain.core.callbacks.tuning_callbacks:BatchSizeFinder",
        "LearningRateMonitor": "flashtrain.core.callbacks.lr_monitor:LearningRateMonitor",
        "ModelCheckpoint": "flashtrain.core.callbacks.model_checkpoint:ModelCheckpoint",
        "ModelPruning": "flashtrain.core.callbacks.pruning:ModelPruning",
        "ModelSummary": "flashtrain.core.callbacks.model_summary:ModelSummary",
        "ProgressBar": "flashtrain.core.callbacks.progress:ProgressBar",
        "SpikeDetection": "flashtrain.core.callbacks.spike:SpikeDetection",
        "RichModelSummary": "flashtrain.core.callbacks.rich_model_summary:RichModelSummary",
        "RichProgressBar": "flashtrain.core.callbacks.rich_progress:RichProgressBar",
        "RichProgressBarTheme": "flashtrain.core.callbacks.rich_progress:RichProgressBarTheme",
        "StochasticWeightAveraging": "flashtrain.core.callbacks.weight_averaging:StochasticWeightAveraging",
        "TQDMProgressBar": "flashtrain.core.callbacks.progress:ProgressBar",  # Lightning's name
        "TimeBudget": "flashtrain.core.callbacks.time_budget:TimeBudget",
        "ThroughputMonitor": "flashtrain.core.callbacks.throughput_monitor:ThroughputMonitor",
        "Timer": "flashtrain.core.callbacks.timer:Timer",
        "WeightAveraging": "flashtrain.core.callbacks.weight_averaging:WeightAveraging",
        "finetuning_callback": "flashtrain.core.callbacks.finetuning:finetuning_callback",
    },
)

__all__ = [
    "BackboneFinetuning",
    "BackboneUnfreezing",
    "BaseFinetuning",
    "BasePredictionWriter",
    "Callback",
    "DeviceStatsMonitor",
    "EMAWeightAveraging",
    "EarlyStopping",
    "GradientAccumulationScheduler",
    "LambdaCallback",
    "LearningRateFinder",
    "BatchSizeFinder",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelPruning",
    "ModelSummary",
    "ProgressBar",
    "RichModelSummary",
    "RichProgressBar",
    "RichProgressBarTheme",
    "SpikeDetection",
    "StochasticWeightAveraging",
    "TQDMProgressBar",
    "TimeBudget",
    "ThroughputMonitor",
    "Timer",
    "WeightAveraging",
    "finetuning_callback",
]
