"""``flash-train serve --checkpoint best.ckpt --port 8000``: answer JSON prediction requests over HTTP.

    curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"inputs": ["a lovely film"]}'

POST /predict takes ``{"inputs": [...], "output": "labels"}``: images as base64-encoded files, texts as strings,
table rows as objects of column -> value. GET /health describes the model. Concurrent requests share forwards
(up to --max-batch-size samples, waiting at most --max-wait-ms for each other).

Limits (each answered with one sentence naming its flag: 413, or 422 past the time limit): --max-request-mb,
--max-inputs, --max-text-chars, --max-image-pixels, --timeout-s. Inputs are values only: the server never reads a path
on its own disk. --api-key (or $FLASHTRAIN_API_KEY) makes every route but /health need 'Authorization: Bearer <key>'.
"""

from __future__ import annotations

from typing import Any

from flashtrain.cli.options import RunOptions


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="serve a checkpoint over HTTP", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch-size", type=int, default=32, help="most samples in one forward (default 32)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="longest wait to fill a batch (default 5)")
    limits = parser.add_argument_group("limits per request")
    limits.add_argument("--max-request-mb", type=float, default=64.0, help="largest body (default 64: 32 photos)")
    limits.add_argument("--max-inputs", type=int, default=256, help="most inputs in one request (default 256)")
    limits.add_argument("--max-text-chars", type=int, default=20_000, help="longest text (default 20000)")
    limits.add_argument("--max-image-pixels", type=int, default=64_000_000, help="most pixels an image (default 64M)")
    limits.add_argument("--timeout-s", type=float, default=30.0, help="longest a request may take (default 30)")
    parser.add_argument(
        "--api-key", default=None, help="require this key on every route but /health (default: $FLASHTRAIN_API_KEY)"
    )
    parser.set_defaults(run=run)


def run(args: RunOptions) -> None:
    from flashtrain.cli.options import UserError, require_checkpoint

    require_checkpoint(args.checkpoint)
    if not 0 <= args.port < 65536:
        raise UserError(f"--port {args.port}: use a port between 0 and 65535")
    from flashtrain.tasks.serve import serve
    from flashtrain.tasks.serve_limits import ServeLimits, resolve_api_key

    try:
        limits = ServeLimits(
            args.max_request_mb, args.max_inputs, args.max_text_chars, args.max_image_pixels, args.timeout_s
        )
        api_key = resolve_api_key(args.api_key)
    except ValueError as error:
        raise UserError(f"serve: {error}") from None
    serve(args.checkpoint, args.host, args.port, args.max_batch_size, args.max_wait_ms, limits, api_key)
