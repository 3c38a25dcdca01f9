"""``flash-train serve --checkpoint best.ckpt --port 8000``: answer JSON prediction requests over HTTP.

    curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"inputs": ["a lovely film"]}'

POST /predict takes ``{"inputs": [...], "output": "labels"}``: images as base64-encoded files, texts as strings,
table rows as objects of column -> value. GET /health describes the model. Concurrent requests share forwards
(up to --max-batch-size samples, waiting at most --max-wait-ms for each other).
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="serve a checkpoint over HTTP", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch-size", type=int, default=32, help="most samples in one forward (default 32)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="longest wait to fill a batch (default 5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from flashtrain.cli.options import UserError
    from flashtrain.tasks.pretrained import is_pretrained_reference

    if not os.path.isfile(args.checkpoint) and not is_pretrained_reference(args.checkpoint):
        raise UserError(
            f"--checkpoint {args.checkpoint}: no such file (nor a save_pretrained folder or hf://user/name)"
        )
    if not 0 <= args.port < 65536:
        raise UserError(f"--port {args.port}: use a port between 0 and 65535")
    from flashtrain.tasks.serve import serve

    serve(args.checkpoint, args.host, args.port, args.max_batch_size, args.max_wait_ms)
