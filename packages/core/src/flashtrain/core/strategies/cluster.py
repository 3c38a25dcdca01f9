"""Where a distributed run's processes come from: torchrun, SLURM, or flashtrain's own launcher.

Each environment answers the same questions (world size, this process's ranks, where rank zero listens),
read from the variables its launcher sets.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessLayout:
    """The layout of one distributed run as seen from one process."""

    kind: str  # "torchrun", "slurm" or "flashtrain"
    world_size: int
    global_rank: int
    local_rank: int
    node_rank: int
    master_addr: str
    master_port: int

    def variables(self) -> dict[str, str]:
        """The variables ``torch.distributed``'s ``env://`` initialisation (and torchrun) use."""
        return {
            "MASTER_ADDR": self.master_addr,
            "MASTER_PORT": str(self.master_port),
            "WORLD_SIZE": str(self.world_size),
            "RANK": str(self.global_rank),
            "LOCAL_RANK": str(self.local_rank),
            "NODE_RANK": str(self.node_rank),
        }

    def export(self) -> None:
        """Set this process's variables, for code that reads them (and for ``init_process_group``)."""
        os.environ.update(self.variables())


def detect_environment() -> ProcessLayout | None:
    """The environment this process was started in, or None when it was started by hand (one process)."""
    env = os.environ
    if "FLASHTRAIN_LAUNCHED" in env or "TORCHELASTIC_RUN_ID" in env or _has(env, "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        return ProcessLayout(
            kind="flashtrain" if "FLASHTRAIN_LAUNCHED" in env else "torchrun",
            world_size=int(env["WORLD_SIZE"]),
            global_rank=int(env["RANK"]),
            local_rank=int(env["LOCAL_RANK"]),
            node_rank=int(env.get("GROUP_RANK", env.get("NODE_RANK", 0))),
            master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
            master_port=int(env.get("MASTER_PORT", 29500)),
        )
    if _slurm_managed(env):
        return ProcessLayout(
            kind="slurm",
            world_size=int(env["SLURM_NTASKS"]),
            global_rank=int(env["SLURM_PROCID"]),
            local_rank=int(env["SLURM_LOCALID"]),
            node_rank=int(env.get("SLURM_NODEID", 0)),
            master_addr=env.get("MASTER_ADDR") or first_slurm_host(env.get("SLURM_NODELIST", "127.0.0.1")),
            master_port=int(env.get("MASTER_PORT") or 10000 + int(env.get("SLURM_JOB_ID", "0")) % 20000),
        )
    return None


def _has(env: os._Environ[str] | dict[str, str], *names: str) -> bool:
    return all(name in env for name in names)


def _slurm_managed(env: os._Environ[str] | dict[str, str]) -> bool:
    """Inside ``srun`` with several tasks (an interactive ``salloc`` shell is not a managed launch)."""
    if not _has(env, "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID") or int(env["SLURM_NTASKS"]) < 2:
        return False
    return env.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def first_slurm_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``"gpu[03-05,9],cpu1"`` -> ``"gpu03"``."""
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if match is None:
        return "127.0.0.1"
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    first = re.split(r"[,-]", ranges)[0]
    return prefix + first


def free_port() -> int:
    """A TCP port nothing listens on right now (for rank zero's rendezvous on this machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
