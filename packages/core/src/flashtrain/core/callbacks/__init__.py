"""Built-in callbacks."""

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.callbacks.base_finetuning import BaseFinetuning
from flashtrain.core.callbacks.early_stopping import EarlyStopping
from flashtrain.core.callbacks.finetuning import BackboneFinetuning, BackboneUnfreezing, finetuning_callback
from flashtrain.core.callbacks.lr_monitor import LearningRateMonitor
from flashtrain.core.callbacks.model_checkpoint import ModelCheckpoint
from flashtrain.core.callbacks.model_summary import ModelSummary
from flashtrain.core.callbacks.progress import ProgressBar
from flashtrain.core.callbacks.time_budget import TimeBudget
from flashtrain.core.callbacks.timer import Timer
from flashtrain.core.callbacks.weight_averaging import EMAWeightAveraging, StochasticWeightAveraging, WeightAveraging

TQDMProgressBar = ProgressBar  # Lightning's name

__all__ = [
    "BackboneFinetuning",
    "BackboneUnfreezing",
    "BaseFinetuning",
    "Callback",
    "EMAWeightAveraging",
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelSummary",
    "ProgressBar",
    "StochasticWeightAveraging",
    "TQDMProgressBar",
    "TimeBudget",
    "Timer",
    "WeightAveraging",
    "finetuning_callback",
]
