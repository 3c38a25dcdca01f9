"""Hugging Face encoders as text backbones: loading (local first, never a long wait offline) and pooling.

A backbone is a model name on the Hugging Face Hub or a local model directory. Loading tries the directory or
the local cache first; only if that fails does it go to the Hub (huggingface_hub's endpoint, so ``HF_ENDPOINT``
mirrors and proxies work), and a failure says why: offline mode, no answer from the endpoint, or no such model.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn

from flashtrain.tasks.hub import hub_advice, hub_failure, hub_offline, hub_reachable

POOLINGS = ("auto", "cls", "mean", "last")
# Decoder-only families read their summary from the last real token, not the first.
_DECODER_FAMILIES = {"gpt2", "gpt_neo", "gptj", "gpt_neox", "llama", "mistral", "mixtral", "qwen2", "qwen3", "phi",
                     "phi3", "opt", "bloom", "falcon", "gemma", "gemma2", "olmo", "smollm3"}  # fmt: skip


def from_pretrained(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(name)``: the directory or local cache first, then the Hub (``HF_ENDPOINT`` when set)
    unless huggingface_hub is offline; a failed download is one sentence saying why (see ``flashtrain.tasks.hub``)."""
    if os.path.isdir(name):
        try:
            return loader.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as error:
            raise ValueError(f"could not load the {what} from the folder {name!r}: {_first_line(error)}") from None
    try:
        return loader.from_pretrained(name, local_files_only=True, **kwargs)
    except (OSError, ValueError):
        pass
    if hub_offline():
        raise ValueError(hub_advice(what, name, "offline"))
    if not hub_reachable():
        raise ValueError(hub_advice(what, name, "unreachable"))
    try:
        return loader.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as error:
        reason = hub_failure(error)
        if reason == "unreachable":
            reason = "not_found"  # the endpoint answered the probe, so it answered but had no such files
        if reason is None:
            raise ValueError(f"could not load the {what} {name!r}: {_first_line(error)}") from None
        raise ValueError(hub_advice(what, name, reason)) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# What a tokenizer is read from (transformers' slow and fast tokenizers); a folder with none of these makes
# AutoTokenizer build an empty vocabulary of special tokens only, where every word becomes [UNK].
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model",
                   "sentencepiece.bpe.model", "vocab.model", "spm.model", "bpe.codes")  # fmt: skip
# A tokenizer with fewer tokens than this fraction of the model's embedding rows was not made for the model.
MIN_VOCABULARY_FRACTION = 0.5


def load_tokenizer(name: str, config: Any = None) -> Any:
    """The tokenizer of a model name or folder; with ``config`` (the model's), one whose vocabulary does not fit
    the model's embedding table is refused: a wrong or missing tokenizer trains on [UNK]s without an error."""
    from transformers import AutoTokenizer

    if os.path.isdir(name) and not any(os.path.isfile(os.path.join(name, file)) for file in TOKENIZER_FILES):
        raise ValueError(
            f"the model folder {name!r} has no tokenizer files (none of {', '.join(TOKENIZER_FILES[:6])}, ...): "
            "without them every word would be [UNK]. Copy the tokenizer files that came with the model into the "
            "folder (tokenizer.save_pretrained(folder)), or pass tokenizer='<name or folder>'."
        )
    tokenizer = from_pretrained(AutoTokenizer, name, "tokenizer")
    _check_vocabulary(tokenizer, config, name)
    tokenizer.padding_side = "right"  # "last" pooling and dynamic padding count on right padding
    if tokenizer.pad_token is None:  # GPT-style tokenizers have none
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def _check_vocabulary(tokenizer: Any, config: Any, name: str) -> None:
    rows = getattr(config, "vocab_size", None) if config is not None else None
    if not isinstance(rows, int) or rows <= 0:
        return
    size = len(tokenizer)
    if size < MIN_VOCABULARY_FRACTION * rows:
        raise ValueError(
            f"the tokenizer of {name!r} has {size} tokens, but the model's embedding table has {rows} rows: it is not "
            "the model's tokenizer (missing or wrong tokenizer files; every other word would be [UNK]). Put the "
            "model's own tokenizer files in the folder, or pass tokenizer='<name or folder>'."
        )
    if size > rows:
        raise ValueError(
            f"the tokenizer of {name!r} has {size} tokens, more than the {rows} rows of the model's embedding table: "
            "token ids past the table would fail. Use the tokenizer made for this model."
        )


def tokenizer_files(tokenizer: Any) -> dict[str, torch.Tensor]:
    """The files ``save_pretrained`` writes for ``tokenizer``, as byte tensors (a checkpoint holds only tensors)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flashtrain-tokenizer-") as folder:
        tokenizer.save_pretrained(folder)
        files = {}
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as handle:
                files[name] = torch.frombuffer(bytearray(handle.read()), dtype=torch.uint8)
    return files


def unpack_tokenizer_files(files: dict[str, torch.Tensor]) -> str:
    """Write tokenizer files from a checkpoint to a folder named by their content (under ``$FLASHTRAIN_CACHE`` or
    ``~/.cache/flashtrain/tokenizers``) and return it; a second load of the same tokenizer reuses the folder."""
    import hashlib

    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + data.numpy().tobytes())
    root = os.environ.get("FLASHTRAIN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "flashtrain")
    folder = os.path.join(root, "tokenizers", digest.hexdigest()[:16])
    if not os.path.isdir(folder):
        staging = f"{folder}.tmp-{os.getpid()}"
        os.makedirs(staging, exist_ok=True)
        from flashtrain.core.utilities.disk import writing

        for name, data in files.items():
            path = os.path.join(staging, os.path.basename(name))
            with writing(path), open(path, "wb") as handle:
                handle.write(data.numpy().tobytes())
        try:
            os.replace(staging, folder)  # atomic: a concurrent load sees no half-written folder
        except OSError:  # another process put it there first
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_config(name: str) -> Any:
    from transformers import AutoConfig

    return from_pretrained(AutoConfig, name, "model")


def resolve_pooling(pooling: str, name: str, config: Any) -> str:
    """``auto``: what the model was trained to be read with. Sentence-transformers folders say so in
    ``1_Pooling/config.json``; decoder-only models use the last real token; encoders (BERT family) the first."""
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}. Allowed: {', '.join(POOLINGS)}.")
    if pooling != "auto":
        return pooling
    settings = os.path.join(name, "1_Pooling", "config.json")
    if os.path.isfile(settings):
        with open(settings) as handle:
            modes = json.load(handle)
        if modes.get("pooling_mode_mean_tokens"):
            return "mean"
        if modes.get("pooling_mode_cls_token"):
            return "cls"
    if getattr(config, "is_decoder", False) or getattr(config, "model_type", "") in _DECODER_FAMILIES:
        return "last"
    return "cls"


class TextEncoder(nn.Module):
    """A Hugging Face base model (``AutoModel``) and a pooling of its token states into one vector per text."""

    def __init__(self, model: nn.Module, pooling: str) -> None:
        super().__init__()
        self.model = model
        self.pooling = pooling
        config: Any = model.config
        self.num_features = int(config.hidden_size)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.model(**inputs).last_hidden_state
        mask = inputs["attention_mask"]
        if self.pooling == "cls":
            return states[:, 0]
        if self.pooling == "last":
            last = mask.sum(dim=1).clamp(min=1) - 1
            return states[torch.arange(len(states), device=states.device), last]
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def build_encoder(name: str, pooling: str, pretrained: bool, config: Any = None) -> TextEncoder:
    """The encoder with its pretrained weights, or (``pretrained=False``) freshly built from ``config``."""
    from transformers import AutoModel

    config = config if config is not None else load_config(name)
    if pretrained:
        model = from_pretrained(AutoModel, name, "model", config=config)
    else:
        model = AutoModel.from_config(config)
    return TextEncoder(model, resolve_pooling(pooling, name, config))
