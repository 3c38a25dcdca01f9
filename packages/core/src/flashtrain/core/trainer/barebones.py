"""``Trainer(barebones=True)``: every feature that costs speed off, to measure the Trainer's own overhead (Lightning).

The features a user might ask for alongside it are refused with Lightning's messages rather than silently dropped:
a run that asked for checkpoints and got none is a silent wrong result."""

from __future__ import annotations

from typing import Any

from flashtrain.core.utilities.rank_zero import rank_zero_info

# (flag, whether the value asks for the feature, what the message says it costs), in Lightning's order.
_OPT_OUTS = (
    ("enable_checkpointing", bool, "Checkpointing can impact raw speed"),
    ("logger", lambda value: value is not None and value is not False, "Logging can impact raw speed"),
    ("enable_progress_bar", bool, "The progress bar can impact raw speed"),
    ("log_every_n_steps", lambda value: value is not None and value != 0, "Logging can impact raw speed"),
    ("enable_model_summary", bool, "Model summary can impact raw speed"),
    ("num_sanity_val_steps", lambda value: value is not None and value != 0, "Sanity checking can impact raw speed"),
)
_OPT_INS = (
    (
        "fast_dev_run",
        lambda value: value is not False and value != 0,
        "Development run is not meant for raw speed evaluation",
    ),
    ("detect_anomaly", bool, "Anomaly detection can impact raw speed"),
    ("profiler", lambda value: value is not None, "Profiling can impact raw speed"),
)
OFF = {
    "enable_checkpointing": False,
    "logger": False,
    "enable_progress_bar": False,
    "log_every_n_steps": 0,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}

_DEACTIVATED = (
    " - Checkpointing: `Trainer(enable_checkpointing=True)`",
    " - Progress bar: `Trainer(enable_progress_bar=True)`",
    " - Model summary: `Trainer(enable_model_summary=True)`",
    " - Logging: `Trainer(logger=True)`, `Trainer(log_every_n_steps>0)`, `LightningModule.log(...)`,"
    " `LightningModule.log_dict(...)`",
    " - Sanity checking: `Trainer(num_sanity_val_steps>0)`",
    " - Development run: `Trainer(fast_dev_run=True)`",
    " - Anomaly detection: `Trainer(detect_anomaly=True)`",
    " - Profiling: `Trainer(profiler=...)`",
)


def barebones_flags(**flags: Any) -> tuple[Any, ...]:
    """The values of the speed-costing flags in a barebones run (in ``OFF``'s order); a ValueError naming any of
    ``flags`` (the Trainer arguments as the user passed them) that asks for a feature barebones turns off."""
    for name, asks_for, cost in _OPT_OUTS + _OPT_INS:
        if asks_for(flags[name]):
            raise ValueError(
                f"`Trainer(barebones=True, {name}={flags[name]!r})` was passed. {cost} so it is disabled in"
                " barebones mode."
            )
    rank_zero_info(
        "You are running in `Trainer(barebones=True)` mode. All features that may impact raw speed have been disabled"
        " to facilitate analyzing the Trainer overhead. Specifically, the following features are deactivated:\n"
        + "\n".join(_DEACTIVATED)
    )
    return tuple(OFF.values())
