"""Cluster environments as Lightning's plugins: objects that say where a distributed run's processes come from.

``Trainer(plugins=[SLURMEnvironment()])`` (or a ``DDPStrategy(cluster_environment=...)``) names one; without one,
the Trainer picks the environment the process runs in (SLURM, torchrun, Kubeflow), else
:class:`LightningEnvironment` (flashtrain starts the processes itself). A user's cluster gets its own subclass of
:class:`ClusterEnvironment`, as in Lightning. Each environment reads its launcher's variables and answers with a
:class:`~flashtrain.core.strategies.cluster.ProcessLayout`, which is what the DDP strategy joins.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from flashtrain.core.strategies.cluster import ProcessLayout, first_slurm_host, free_port


class ClusterEnvironment(ABC):
    """Where rank zero listens and which rank this process is (Lightning's interface)."""

    @property
    @abstractmethod
    def creates_processes_externally(self) -> bool:
        """Whether a launcher outside the Trainer (srun, torchrun, Kubeflow) started every process."""

    @property
    @abstractmethod
    def main_address(self) -> str:
        """The address of rank zero's machine."""

    @property
    @abstractmethod
    def main_port(self) -> int:
        """The port rank zero listens on."""

    @staticmethod
    @abstractmethod
    def detect() -> bool:
        """Whether this process runs in this environment."""

    @abstractmethod
    def world_size(self) -> int:
        """Processes in the run."""

    @abstractmethod
    def set_world_size(self, size: int) -> None: ...

    @abstractmethod
    def global_rank(self) -> int:
        """This process's rank in the run."""

    @abstractmethod
    def set_global_rank(self, rank: int) -> None: ...

    @abstractmethod
    def local_rank(self) -> int:
        """This process's rank on its machine."""

    @abstractmethod
    def node_rank(self) -> int:
        """This machine's rank."""

    def teardown(self) -> None:  # noqa: B027 - optional
        """Undo what the environment set up (the launcher's variables, for instance)."""

    def layout(self) -> ProcessLayout:
        """This process's place in the run, as the DDP strategy joins it."""
        kind = type(self).__name__.removesuffix("Environment").lower() or "custom"
        return ProcessLayout(
            kind,
            self.world_size(),
            self.global_rank(),
            self.local_rank(),
            self.node_rank(),
            self.main_address,
            self.main_port,
        )


def _int(name: str, default: int = 0) -> int:
    return int(os.environ.get(name, default))


class LightningEnvironment(ClusterEnvironment):
    """No cluster launcher: the Trainer starts the processes on this machine (or torchrun-style variables are set by
    hand). Ranks and world size are told to it (``set_global_rank``, ``set_world_size``) or read from ``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``NODE_RANK``; rank zero listens on ``MASTER_ADDR``:``MASTER_PORT`` (a free port
    on this machine when unset)."""

    def __init__(self) -> None:
        self._world_size = _int("WORLD_SIZE", 1)
        self._global_rank = _int("RANK", 0)
        self._main_port = -1

    @property
    def creates_processes_externally(self) -> bool:
        return "LOCAL_RANK" in os.environ  # started by torchrun or by the Trainer's own launcher already

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        if self._main_port == -1:
            self._main_port = int(os.environ.get("MASTER_PORT") or free_port())
        return self._main_port

    @staticmethod
    def detect() -> bool:
        return True

    def world_size(self) -> int:
        return self._world_size

    def set_world_size(self, size: int) -> None:
        self._world_size = size

    def global_rank(self) -> int:
        return self._global_rank

    def set_global_rank(self, rank: int) -> None:
        self._global_rank = rank

    def local_rank(self) -> int:
        return _int("LOCAL_RANK")

    def node_rank(self) -> int:
        return _int("NODE_RANK", _int("GROUP_RANK"))


class _ReadOnlyRanks(ClusterEnvironment):
    """An environment whose launcher fixes the ranks: setting them is ignored (as in Lightning)."""

    @property
    def creates_processes_externally(self) -> bool:
        return True

    def set_world_size(self, size: int) -> None:
        pass

    def set_global_rank(self, rank: int) -> None:
        pass


class SLURMEnvironment(_ReadOnlyRanks):
    """Processes started by ``srun``: ``SLURM_NTASKS``, ``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``; rank zero
    is the first host of ``SLURM_NODELIST`` (or ``MASTER_ADDR``), on a port derived from the job id (or
    ``MASTER_PORT``)."""

    @staticmethod
    def detect() -> bool:
        """Inside a SLURM job step (an interactive ``salloc`` shell named bash/interactive is not one)."""
        return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR") or first_slurm_host(os.environ.get("SLURM_NODELIST", "127.0.0.1"))

    @property
    def main_port(self) -> int:
        return int(os.environ.get("MASTER_PORT") or 10000 + _int("SLURM_JOB_ID") % 20000)

    def world_size(self) -> int:
        return _int("SLURM_NTASKS", 1)

    def global_rank(self) -> int:
        return _int("SLURM_PROCID")

    def local_rank(self) -> int:
        return _int("SLURM_LOCALID")

    def node_rank(self) -> int:
        return _int("SLURM_NODEID")


class TorchElasticEnvironment(_ReadOnlyRanks):
    """Processes started by ``torchrun``: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``GROUP_RANK``, ``MASTER_ADDR``,
    ``MASTER_PORT``."""

    @staticmethod
    def detect() -> bool:
        return all(name in os.environ for name in ("RANK", "GROUP_RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"))

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        return _int("MASTER_PORT", 29500)

    def world_size(self) -> int:
        return _int("WORLD_SIZE", 1)

    def global_rank(self) -> int:
        return _int("RANK")

    def local_rank(self) -> int:
        return _int("LOCAL_RANK")

    def node_rank(self) -> int:
        return _int("GROUP_RANK")


class KubeflowEnvironment(_ReadOnlyRanks):
    """A Kubeflow PyTorchJob: one process per pod, ``WORLD_SIZE`` pods, this pod's ``RANK``, rank zero at
    ``MASTER_ADDR``:``MASTER_PORT``. Never detected on its own (as in Lightning): pass
    ``plugins=[KubeflowEnvironment()]``."""

    @staticmethod
    def detect() -> bool:
        return False

    @property
    def main_address(self) -> str:
        return os.environ["MASTER_ADDR"]

    @property
    def main_port(self) -> int:
        return int(os.environ["MASTER_PORT"])

    def world_size(self) -> int:
        return int(os.environ["WORLD_SIZE"])

    def global_rank(self) -> int:
        return int(os.environ["RANK"])

    def local_rank(self) -> int:
        return 0

    def node_rank(self) -> int:
        return self.global_rank()


def select_environment() -> ClusterEnvironment:
    """The environment this process runs in: SLURM, then torchrun, else the Trainer launches (Lightning's order)."""
    for environment in (SLURMEnvironment, TorchElasticEnvironment):
        if environment.detect():
            return environment()
    return LightningEnvironment()


__all__ = [
    "ClusterEnvironment",
    "KubeflowEnvironment",
    "LightningEnvironment",
    "SLURMEnvironment",
    "TorchElasticEnvironment",
    "select_environment",
]
