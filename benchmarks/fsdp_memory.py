"""Per-rank memory of DDP vs FSDP with 2 ranks, for a model whose parameters dominate memory.

A stack of Linear(width, width) blocks (default 24 x 1024 x 1024: 25M parameters, 100 MB in float32) trains
a few AdamW steps on random data with 2 CPU processes (gloo), once with strategy="ddp" and once with
strategy="fsdp" (one shard unit per block; the blocks are built in configure_model, so under FSDP they start
on the meta device). Each rank reports:

  - parameter bytes: the parameter storage this rank holds (its shards under FSDP),
  - state bytes: parameters + gradients + optimizer state held by this rank after training,
  - peak RSS growth: the process's peak resident memory minus its size right after importing torch
    (includes everything: activations, gathered layers, DDP's gradient buckets, allocator caches).

    python benchmarks/fsdp_memory.py [--width 1024] [--depth 24] [--steps 2]

On a CUDA machine pass --accelerator gpu to measure torch.cuda.max_memory_allocated instead of RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

import torch
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer
from flashtrain.core.strategies import FSDPStrategy


class Block(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


class Stack(Module):
    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.width, self.depth = width, depth
        self.blocks: torch.nn.Sequential | None = None

    def configure_model(self) -> None:
        if self.blocks is None:
            self.blocks = torch.nn.Sequential(*[Block(self.width) for _ in range(self.depth)])

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return self.blocks(x).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-4)


def _local_bytes(tensor: torch.Tensor | None) -> int:
    if tensor is None:
        return 0
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return local.numel() * local.element_size()


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(args: argparse.Namespace) -> None:
    baseline = _rss_bytes()
    strategy = FSDPStrategy(auto_wrap_policy={Block}) if args.strategy == "fsdp" else "ddp"
    trainer = Trainer(
        accelerator=args.accelerator,
        devices=2,
        strategy=strategy,
        max_steps=args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Stack(args.width, args.depth)
    data = DataLoader(TensorDataset(torch.randn(16 * args.steps, args.width)), batch_size=8)
    trainer.fit(model, data)
    parameters = list(model.parameters())
    optimizer_state = [v for state in trainer.optimizers[0].state.values() for v in state.values()]
    report = {
        "parameter_bytes": sum(_local_bytes(p) for p in parameters),
        "state_bytes": sum(_local_bytes(p) + _local_bytes(p.grad) for p in parameters)
        + sum(_local_bytes(v) for v in optimizer_state if isinstance(v, torch.Tensor)),
        "peak_bytes": (torch.cuda.max_memory_allocated() if args.accelerator == "gpu" else _rss_bytes() - baseline),
    }
    reports = [None] * trainer.world_size
    torch.distributed.all_gather_object(reports, report)
    if trainer.is_global_zero:
        with open(args.report, "w") as stream:
            json.dump(reports, stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=24)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.strategy:
        worker(args)
        return
    # glibc raises its mmap threshold after large frees and then keeps freed blocks in the heap, so RSS would
    # count FSDP's short-lived gathered layers long after they are gone; a fixed threshold returns them.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for strategy in ("ddp", "fsdp"):
            report = os.path.join(folder, f"{strategy}.json")
            command = [sys.executable, __file__, *sys.argv[1:], "--strategy", strategy, "--report", report]
            subprocess.run(command, check=True, env=env)
            with open(report) as stream:
                results[strategy] = json.load(stream)
    params = args.width * (args.width + 1) * args.depth
    print(f"{params / 1e6:.1f}M parameters ({params * 4 / 2**20:.0f} MiB float32), 2 ranks, {args.accelerator}")
    print(f"{'':6} {'rank':>4} {'parameters MiB':>15} {'params+grads+optim MiB':>23} {'peak growth MiB':>16}")
    for strategy, reports in results.items():
        for rank, report in enumerate(reports):
            print(
                f"{strategy:6} {rank:>4} {report['parameter_bytes'] / 2**20:>15.1f} "
                f"{report['state_bytes'] / 2**20:>23.1f} {report['peak_bytes'] / 2**20:>16.1f}"
            )
    for key, label in (
        ("parameter_bytes", "parameters"),
        ("state_bytes", "params+grads+optim"),
        ("peak_bytes", "peak"),
    ):
        ratio = max(r[key] for r in results["fsdp"]) / max(r[key] for r in results["ddp"])
        print(f"FSDP / DDP per-rank {label}: {ratio:.2f}")


if __name__ == "__main__":
    main()
