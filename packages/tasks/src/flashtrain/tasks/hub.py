"""The Hugging Face Hub as huggingface_hub sees it: its endpoint (``HF_ENDPOINT``, mirrors), its offline switch
(``HF_HUB_OFFLINE``), and what its errors mean, turned into one clear sentence.

We ask huggingface_hub instead of probing a socket ourselves: a probe of ``huggingface.co`` ignores mirrors and
proxies, so a machine that reaches the Hub only through them was wrongly told it had no network.
"""

from __future__ import annotations

import os


def hub_endpoint() -> str:
    """Where downloads go: ``HF_ENDPOINT`` when set (a mirror), else https://huggingface.co."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def hub_offline() -> bool:
    """True when huggingface_hub (``HF_HUB_OFFLINE``) or transformers (``TRANSFORMERS_OFFLINE``) is in offline mode."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    return os.environ.get("TRANSFORMERS_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the endpoint answers at all (any HTTP status), asked once through huggingface_hub's own HTTP session,
    so that ``HF_ENDPOINT``, proxies and its headers apply. Why ask first: for a download, huggingface_hub retries
    a refused or dropped connection with back-off for half a minute or more before it gives up."""
    from huggingface_hub import get_session

    try:
        get_session().head(hub_endpoint(), timeout=timeout)
    except Exception:  # the client's transport errors (connection refused, DNS, timeout, proxy)
        return False
    return True


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def hub_failure(error: BaseException) -> str | None:
    """Why a download from the Hub failed, when huggingface_hub's errors say so: ``"offline"`` (offline mode),
    ``"unreachable"`` (no answer from the endpoint and nothing cached), ``"not_found"`` (no such repository or
    file), or None when the error is not the Hub's."""
    from huggingface_hub import errors

    causes = _chain(error)
    if hub_offline() or any(isinstance(cause, errors.OfflineModeIsEnabled) for cause in causes):
        return "offline"
    for cause in causes:  # LocalEntryNotFoundError first: it is a subclass of EntryNotFoundError
        if isinstance(cause, errors.LocalEntryNotFoundError):
            return "unreachable"
        if isinstance(cause, (errors.RepositoryNotFoundError, errors.EntryNotFoundError, errors.RevisionNotFoundError)):
            return "not_found"
    text = str(error)
    # transformers re-raises the Hub's errors as OSError with their text only, so read the text as well.
    if "couldn't connect" in text or "cannot find the requested files in the local cache" in text:
        return "unreachable"
    if "outgoing traffic has been disabled" in text or "HF_HUB_OFFLINE" in text:
        return "offline"
    if "is not a local folder and is not a valid model identifier" in text or "Repository Not Found" in text:
        return "not_found"
    return None


def hub_advice(what: str, name: str, reason: str | None) -> str:
    """The sentence for a download of ``what`` ``name`` that failed for ``reason`` (see :func:`hub_failure`)."""
    endpoint = hub_endpoint()
    if reason == "offline":
        return (
            f"could not find the {what} {name!r} locally (not a folder, not in the Hugging Face cache), and the "
            "Hugging Face Hub is in offline mode (HF_HUB_OFFLINE=1), so it was not downloaded. Pass a local model "
            "directory, or unset HF_HUB_OFFLINE and run once with network access."
        )
    if reason == "unreachable":
        return (
            f"could not find the {what} {name!r} locally (not a folder, not in the Hugging Face cache) and could not "
            f"download it: no network, or no answer from the Hugging Face Hub at {endpoint}. Pass a local model "
            "directory, check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the local cache."
        )
    if reason == "not_found":
        return (
            f"could not find the {what} {name!r}: it is not a local folder, and {endpoint} has no model of that name. "
            "Check the spelling, or pass a local model directory."
        )
    return f"could not load the {what} {name!r} from {endpoint}"
