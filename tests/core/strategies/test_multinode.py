"""Several machines, simulated on this one: two torchrun "nodes" (--nnodes 2, node ranks 0 and 1, one process each,
rendezvous on 127.0.0.1 over gloo) train exactly like one process with the combined batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flashtrain.core.strategies.cluster import free_port
from tests.core.strategies.test_ddp import WORKER, assert_same_training, result, run_worker


@pytest.mark.slow
def test_two_torchrun_nodes_train_like_one_process_with_the_combined_batch(tmp_path):
    (tmp_path / "single").mkdir()
    (tmp_path / "nodes").mkdir()
    single = run_worker(tmp_path / "single", "--devices", "1", "--batch-size", "16", "--max-epochs", "2")
    assert single.returncode == 0, single.stderr
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--node-rank",
                str(rank),
                "--nproc-per-node",
                "1",
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                port,
                WORKER,
                "--out",
                str(tmp_path / "nodes"),
                "--devices",
                "1",
                "--num-nodes",
                "2",
                "--batch-size",
                "8",
                "--max-epochs",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(err[-3000:] for _, err in outputs)
    two_nodes = result(tmp_path / "nodes")
    assert two_nodes["world_size"] == 2
    assert_same_training(two_nodes, result(tmp_path / "single"))
    rank0, rank1 = two_nodes["all_ranks_weights"]
    assert all((rank0[name] == rank1[name]).all() for name in rank0)  # the nodes ended with the same weights
