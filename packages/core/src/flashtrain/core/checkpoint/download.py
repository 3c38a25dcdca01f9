"""Checkpoints named by an ``http://`` / ``https://`` URL: downloaded once into a local cache, then read from there.

``Module.load_from_checkpoint("https://.../model.pt")`` (Lightning Flash's published-weights idiom) used to stream
the file through fsspec, which needs HTTP range requests and downloads again on every load. The cache is
``$FLASHTRAIN_CACHE/checkpoints`` (default ``~/.cache/flashtrain/checkpoints``), one folder per URL; the download
goes to a temporary name first (torch.hub's ``download_url_to_file``), so an interrupted download never leaves a
truncated file that looks cached.
"""

from __future__ import annotations

import hashlib
import os


def is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def cache_folder() -> str:
    root = os.environ.get("FLASHTRAIN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "flashtrain")
    return os.path.join(root, "checkpoints")


def cached_download(url: str) -> str:
    """The local copy of ``url``, downloaded on first use; a ConnectionError naming the URL when that fails."""
    from urllib.error import URLError
    from urllib.parse import urlparse

    from torch.hub import download_url_to_file

    name = os.path.basename(urlparse(url).path) or "checkpoint.ckpt"
    target = os.path.join(cache_folder(), hashlib.sha256(url.encode()).hexdigest()[:16], name)
    if os.path.isfile(target):
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        download_url_to_file(url, target, progress=False)
    except (URLError, OSError, ValueError) as error:  # no network, DNS, refused, HTTP 404 (HTTPError is a URLError)
        reason = getattr(error, "reason", None) or error
        raise ConnectionError(
            f"could not download the checkpoint {url} ({reason}), and it is not in the cache ({target}). "
            "Check the URL and the network, or download the file yourself and pass its local path."
        ) from None
    return target
