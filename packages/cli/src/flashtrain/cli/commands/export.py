"""``flash-train export --checkpoint best.ckpt --format onnx --out exported/``: a model file for other runtimes.

By default the preprocessing goes inside the graph where the format can hold it (images: every format; tables:
ONNX, one input per column), so the file takes raw inputs; ``--no-preprocessing`` keeps the graph on prepared tensors.
The folder gets the model (``model.onnx``, ``model.pt`` or ``model.pt2``), ``preprocessing.json`` (inputs, labels,
the eval preprocessing) and, for text, the tokenizer. The export is run once and compared with the checkpoint's
own outputs (onnxruntime for ONNX) before this command reports success.
"""

from __future__ import annotations

import os
from typing import Any

from flashtrain.cli.options import RunOptions

FORMATS = ("onnx", "torchscript", "exported-program")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("export", help="export a checkpoint to ONNX / TorchScript", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--format", default="onnx", choices=FORMATS, help="default: onnx")
    parser.add_argument("--out", default=None, help="output folder (default: <checkpoint name>-<format>/ beside it)")
    parser.add_argument("--atol", type=float, default=1e-4, help="allowed difference to PyTorch's outputs")
    parser.add_argument(
        "--no-preprocessing",
        dest="preprocessing",
        action="store_false",
        help="keep the graph on prepared tensors (default: raw inputs in for images, and for tables in ONNX)",
    )
    parser.set_defaults(run=run)


def run(args: RunOptions) -> Any:
    from flashtrain.cli.options import require_checkpoint
    from flashtrain.tasks.pretrained import is_pretrained_reference

    require_checkpoint(args.checkpoint)
    from flashtrain.tasks.export import export

    if is_pretrained_reference(args.checkpoint):  # a folder or hf://user/name: write beside, in the working folder
        out = args.out or f"{os.path.basename(os.path.normpath(args.checkpoint.removeprefix('hf://')))}-{args.format}"
    else:
        out = args.out or f"{os.path.splitext(args.checkpoint)[0]}-{args.format}"
    result = export(args.checkpoint, out, format=args.format, atol=args.atol, preprocessing=args.preprocessing)
    print(
        f"wrote {os.path.abspath(result.model_file)} and preprocessing.json; checked against the checkpoint: "
        f"largest difference {result.max_abs_difference:.2g}"
    )
    if result.preprocessing_inside:
        print("the preprocessing is inside the graph: it takes raw inputs (see preprocessing.json), checked on those")
    return result
