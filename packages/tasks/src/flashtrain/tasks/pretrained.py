"""Hub-ready model folders: ``save_pretrained`` / ``from_pretrained`` / ``push`` on huggingface_hub.

A folder holds:

- ``model.safetensors``: the weights (safetensors: nothing in the folder is pickled);
- ``config.json``: the task, its class, the labels (or regression targets), the constructor's hyper-parameters
  (backbone name and config, the fitted tabular preprocessing, the image size/mean/std, calibration settings);
- ``tokenizer/`` for text models (the Hugging Face tokenizer folder);
- ``README.md``: a model card with YAML metadata (``library_name: flashtrain``, ``pipeline_tag``, ``model-index``
  with the metrics given), the run's config, seed, data fingerprint, versions, metrics and confusion matrix where
  known.

``from_pretrained`` takes a folder, a Hub repository id ``user/name`` or ``hf://user/name`` (downloaded with
``huggingface_hub.snapshot_download``, so ``HF_ENDPOINT``, the cache and ``HF_HUB_OFFLINE=1`` apply).
"""

from __future__ import annotations

import json
import os
from typing import Any

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
TOKENIZER_FOLDER = "tokenizer"
HF_PREFIX = "hf://"


def save_pretrained(model: Any, folder: str, card: dict[str, Any] | None = None) -> str:
    """Write ``model`` to ``folder`` (created) as described in the module docstring; returns the folder.

    Args:
        model: A flashtrain task model.
        folder: Where to write.
        card: What the model card should say beyond the model itself: ``metrics`` ({name: value}), ``config``
            (the run's resolved config, text), ``seed``, ``data`` (a fingerprint, e.g. rows and class counts),
            ``confusion_matrix`` (rows of counts, in label order).
    """
    from safetensors.torch import save_model

    from flashtrain.core.utilities.disk import writing

    task = getattr(model, "task_name", None)
    if _registered(task) is None:
        raise TypeError(f"save_pretrained needs a flashtrain task model; got {type(model).__name__}.")
    os.makedirs(folder, exist_ok=True)
    hyper_parameters = _plain(dict(model.hparams), "hyper-parameters")
    config = {
        "library_name": "flashtrain",
        "task": task,
        "model_class": f"{type(model).__module__}:{type(model).__qualname__}",
        "labels": [_plain(label, "labels") for label in getattr(model, "labels", [])],
        "target_names": list(getattr(model, "target_names", [])),
        "hyper_parameters": hyper_parameters,
        "versions": versions(),
    }
    config_path = os.path.join(folder, CONFIG_FILE)
    with writing(config_path), open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=1)
    with writing(os.path.join(folder, WEIGHTS_FILE)):
        save_model(model, os.path.join(folder, WEIGHTS_FILE))  # shared tensors are stored once (safetensors' rule)
    if hasattr(model, "tokenizer"):
        with writing(os.path.join(folder, TOKENIZER_FOLDER)):
            model.tokenizer.save_pretrained(os.path.join(folder, TOKENIZER_FOLDER))
    with writing(os.path.join(folder, CARD_FILE)):
        write_card(folder, config, card or {})
    return folder


def from_pretrained(name_or_folder: str, **overrides: Any) -> Any:
    """The model saved by :func:`save_pretrained` in a folder or a Hub repository (``user/name``, ``hf://user/name``),
    on the CPU, in eval mode. ``overrides`` replace stored hyper-parameters."""
    from safetensors.torch import load_file, load_model

    folder = resolve(name_or_folder)
    config_path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{name_or_folder} has no {CONFIG_FILE}: it is not a folder written by save_pretrained / flash-train push."
        )
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    if config.get("library_name") != "flashtrain" or _registered(config.get("task")) is None:
        raise ValueError(
            f"{config_path} was not written by flashtrain's save_pretrained (task {config.get('task')!r})."
        )
    model_class = task_class(config["task"])
    weights = os.path.join(folder, WEIGHTS_FILE)
    # Read as a checkpoint would be: a task may look at the weights to rebuild its architecture (tabular does).
    stored = {"hyper_parameters": config["hyper_parameters"], "state_dict": load_file(weights)}
    if os.path.isdir(os.path.join(folder, TOKENIZER_FOLDER)):
        overrides.setdefault("tokenizer", os.path.join(folder, TOKENIZER_FOLDER))
    hyper_parameters = model_class.hyperparameters_from_checkpoint(stored, folder, overrides)
    model = model_class(**hyper_parameters)
    model.on_load_checkpoint(stored)
    load_model(model, weights, strict=True)
    return model.eval()


def resolve(name_or_folder: str) -> str:
    """A local folder for ``name_or_folder``: itself when it is a folder, else the Hub snapshot of the repository."""
    name = name_or_folder.removeprefix(HF_PREFIX)
    if not name_or_folder.startswith(HF_PREFIX) and os.path.isdir(name_or_folder):
        return name_or_folder
    if name.count("/") != 1 or not all(name.split("/")):
        raise FileNotFoundError(
            f"{name_or_folder} is neither a folder nor a Hub repository id (user/name or hf://user/name)."
        )
    from huggingface_hub import snapshot_download

    from flashtrain.tasks.hub import hub_advice, hub_failure

    try:
        return str(snapshot_download(name))
    except Exception as error:
        reason = hub_failure(error)
        if reason is None:
            raise
        raise FileNotFoundError(hub_advice("flashtrain model", name, reason)) from error


def is_pretrained_reference(value: str) -> bool:
    """Whether ``value`` names a save_pretrained folder or ``hf://user/name`` (rather than a checkpoint file)."""
    return value.startswith(HF_PREFIX) or os.path.isfile(os.path.join(value, CONFIG_FILE))


def stored_task(name_or_folder: str) -> str | None:
    """The task named in the config.json of a save_pretrained folder or Hub repository (None when absent)."""
    path = os.path.join(resolve(name_or_folder), CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        task = json.load(handle).get("task")
    return task if isinstance(task, str) else None


def pipeline_tag(task: str) -> str:
    """The Hub's pipeline tag of a task: its name with dashes (image-classification, tabular-regression, ...)."""
    return task.replace("_", "-")


def _registered(task: Any) -> Any:
    from flashtrain.tasks import registry

    return registry.find(task)


def task_class(task: str) -> Any:
    from flashtrain.tasks import registry

    return registry.get(task).load("model")


def push(folder: str, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload a :func:`save_pretrained` folder to the Hub repository ``repo_id`` (created if missing); returns its
    URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="Upload flashtrain model")
    return str(url)


def versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in ("flashtrain-core", "flashtrain-tasks", "torch", "timm", "transformers", "safetensors"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_card(folder: str, config: dict[str, Any], card: dict[str, Any]) -> None:
    """README.md: YAML metadata from huggingface_hub's ModelCardData (model-index from ``card['metrics']``), then
    what the model is, how it was trained and how well it did."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    task = config["task"]
    name = os.path.basename(os.path.abspath(folder))
    metrics = card.get("metrics") or {}
    data = ModelCardData(
        library_name="flashtrain",
        pipeline_tag=pipeline_tag(task),
        tags=["flashtrain", task],
        model_name=name,
        eval_results=[
            EvalResult(
                task_type=pipeline_tag(task),
                dataset_type="validation",
                dataset_name="validation split",
                metric_type=metric,
                metric_value=float(value),
            )  # fmt: skip
            for metric, value in metrics.items()
        ]
        or None,
    )
    lines = [f"# {name}", "", f"A flashtrain `{task}` model ({config['model_class'].split(':')[-1]}).", ""]
    lines += ["```python", "from flashtrain.tasks.pretrained import from_pretrained", "",
              f'model = from_pretrained("{name}")  # a folder, "user/name" or "hf://user/name"', "```", ""]  # fmt: skip
    if config["labels"]:
        lines += [f"Labels: {', '.join(str(label) for label in config['labels'])}", ""]
    if config["target_names"]:
        lines += [f"Targets: {', '.join(config['target_names'])}", ""]
    if metrics:
        lines += ["## Validation metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {metric} | {float(value):.4f} |" for metric, value in metrics.items()] + [""]
    matrix = card.get("confusion_matrix")
    if matrix:
        labels = [str(label) for label in config["labels"]]
        lines += ["## Confusion matrix (validation; rows: actual, columns: predicted)", ""]
        lines += ["| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        lines += [f"| {labels[i]} | " + " | ".join(str(c) for c in row) + " |" for i, row in enumerate(matrix)] + [""]
    lines += ["## Training", ""]
    if card.get("seed") is not None:
        lines += [f"Seed: {card['seed']}", ""]
    if card.get("data"):
        lines += ["Data fingerprint:", "", "```json", json.dumps(card["data"], indent=1, default=str), "```", ""]
    shown = card.get("config") or json.dumps(config["hyper_parameters"], indent=1, default=str)
    lines += ["Configuration:", "", "```", str(shown).strip(), "```", ""]
    lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in config["versions"].items()), ""]
    ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + "\n".join(lines)).save(
        os.path.join(folder, CARD_FILE)
    )


def _plain(value: Any, what: str) -> Any:
    """``value`` as JSON data (tuples become lists); anything else is an error naming it."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"save_pretrained stores the model's {what} as JSON, and {error}. A model built with Python objects "
            "(a custom backbone, head, loss or metric) cannot be rebuilt from a folder; use a checkpoint."
        ) from None
