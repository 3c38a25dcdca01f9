"""``flash-train push --checkpoint best.ckpt --repo user/name``: publish a trained model on the Hugging Face Hub.

The checkpoint becomes a Hub-ready folder (``model.safetensors``, ``config.json``, the tokenizer for text, a model card
with the run's config, seed, data fingerprint, versions and validation metrics), uploaded with huggingface_hub to the
repository (created if missing; ``HF_TOKEN`` / ``huggingface-cli login`` for the credentials, ``HF_ENDPOINT`` for a
mirror). ``--out DIR`` keeps the folder; ``--dry-run`` writes it without uploading. Load it anywhere with
``Task.from_pretrained("user/name")``, or ``flash-train predict / serve / export --checkpoint hf://user/name``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

from flashtrain.cli.options import UserError, plain


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "push", help="publish a checkpoint on the Hugging Face Hub", description=plain(__doc__)
    )
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--repo", help="the Hub repository, user/name (needed unless --dry-run)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--out", help="also keep the folder here (default: a temporary folder)")
    parser.add_argument("--dry-run", action="store_true", help="write the folder (--out) and do not upload")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    if not os.path.isfile(args.checkpoint):
        raise UserError(f"--checkpoint {args.checkpoint}: no such file")
    if not args.dry_run and (not args.repo or args.repo.count("/") != 1 or not all(args.repo.split("/"))):
        raise UserError(f"--repo {args.repo}: give the Hub repository as user/name")
    if args.dry_run and not args.out:
        raise UserError("--dry-run writes the folder only: give --out DIR")
    from flashtrain.tasks.inference import read_task_checkpoint
    from flashtrain.tasks.pretrained import push

    stored = read_task_checkpoint(args.checkpoint)  # read once: the model and the card's run facts
    model = stored.model()
    card = card_from_checkpoint(stored.checkpoint or {}, args.checkpoint)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or os.path.join(scratch, os.path.basename(args.repo or "model"))
        model.save_pretrained(folder, card=card)
        if args.dry_run:
            print(f"wrote {os.path.abspath(folder)} (not uploaded: --dry-run)")
            return folder
        url = push(folder, args.repo, private=args.private)
    print(f"pushed {args.checkpoint} to {url}")
    return url


def card_from_checkpoint(checkpoint: dict[str, Any], path: str) -> dict[str, Any]:
    """What the checkpoint knows about its run: validation metrics, seed, data fingerprint, the run's config.yaml."""
    loop = checkpoint.get("loop") or {}
    metrics = {
        name: float(value) for name, value in (loop.get("callback_metrics") or {}).items() if name.startswith("val_")
    }
    card: dict[str, Any] = {"metrics": metrics, "seed": loop.get("base_seed")}
    fingerprint = checkpoint.get("data_fingerprint")
    if fingerprint:
        card["data"] = fingerprint
    folder = os.path.dirname(os.path.abspath(path))
    for candidate in (folder, os.path.dirname(folder)):  # .../version_N/checkpoints/best.ckpt: config beside
        config = os.path.join(candidate, "config.yaml")
        if os.path.isfile(config):
            with open(config, encoding="utf-8") as handle:
                card["config"] = handle.read()
            break
    return card
