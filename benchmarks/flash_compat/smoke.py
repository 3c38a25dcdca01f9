"""Run one case as ``__main__`` with every Trainer capped to a smoke run (harness only).

    python smoke.py SCRIPT.py            # a case's code, import-swapped
    python smoke.py -m MODULE ARGS...    # a command (Flash Zero -> flash-train), run in this process
    python smoke.py --serve-port N SCRIPT.py   # a server case: uvicorn binds port N instead of the script's
    python smoke.py --strict-http SCRIPT.py    # a client case: an HTTP error status fails the run

The cap (1 epoch, at most 4 batches per stage, 1 sanity batch) wraps ``flashtrain.core.Trainer.__init__`` in this
process only; the case's code is not modified by it.
"""

from __future__ import annotations

import functools
import runpy
import sys
from pathlib import Path

# The cap is the Lightning harness's (one definition for both harnesses).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lightning_compat"))
from smoke_run import cap_trainer  # noqa: E402


def bind_port(port: int) -> None:
    import uvicorn

    original = uvicorn.run

    @functools.wraps(original)
    def run(app, *args, **kwargs):
        kwargs["port"] = port
        kwargs["host"] = "127.0.0.1"
        return original(app, **kwargs)

    uvicorn.run = run


def strict_http() -> None:
    import requests

    original = requests.post

    @functools.wraps(original)
    def post(*args, **kwargs):
        response = original(*args, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")
        return response

    requests.post = post


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--serve-port":
        bind_port(int(args[1]))
        args = args[2:]
    if args[0] == "--strict-http":
        strict_http()
        args = args[1:]
    cap_trainer()
    if args[0] == "-m":
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
