"""Starting the ranks of a ``strategy="ddp"`` run on this machine, and ending all of them when one fails.

Like Lightning's "ddp": the script that created the Trainer is started again for ranks 1..N-1 with the
rank variables set, and this process becomes rank 0. Every copy runs the same code to the same
``trainer.fit`` call, where the copies meet in one process group.

A rank that fails writes its error to a shared folder before it exits. Rank 0 watches the other ranks:
when one exits with an error, it stops the rest and fails with that rank's message, within seconds,
rather than waiting in a collective that will never complete.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from flashtrain.core.strategies.cluster import ProcessLayout, free_port

ERROR_DIR_VARIABLE = "FLASHTRAIN_ERROR_DIR"
# After another rank failed, how long rank 0 waits for its own collective to fail before it exits.
_GRACE_SECONDS = 5.0


def script_command() -> list[str]:
    """The command line that started this process, to start it again as another rank."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name != "__main__":  # python -m package.module
        name = spec.name.removesuffix(".__main__")
        return [sys.executable, "-m", name, *sys.argv[1:]]
    if getattr(main, "__file__", None) is None or not sys.argv or not sys.argv[0]:
        raise RuntimeError(
            "strategy='ddp' starts copies of your script for the other ranks, but this is an interactive session "
            "with no script. Use strategy='ddp_spawn' (your module and data must be picklable), or run a script."
        )
    return [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]


def record_failure(rank: int, exception: BaseException) -> None:
    """Leave this rank's error where rank 0 looks for it (a no-op outside a flashtrain-launched run)."""
    folder = os.environ.get(ERROR_DIR_VARIABLE)
    if not folder:
        return
    message = "".join(traceback.format_exception_only(type(exception), exception)).strip()
    try:
        with open(os.path.join(folder, f"rank_{rank}.txt"), "w") as handle:
            handle.write(message)
    except OSError:
        pass  # the error still reaches the user on this rank's stderr


class ScriptLauncher:
    """Starts ranks 1..N-1 of this node as copies of this script; this process is local rank 0."""

    def __init__(self, processes_per_node: int, num_nodes: int) -> None:
        self.processes_per_node = processes_per_node
        self.num_nodes = num_nodes
        self.children: dict[int, subprocess.Popen] = {}
        self.failure: tuple[int, str] | None = None
        self._error_dir = ""
        self._finished = threading.Event()

    def launch(self) -> ProcessLayout:
        """Start the other local ranks; returns this process's place in the run."""
        node_rank, master_addr, master_port = self._rendezvous()
        world_size = self.processes_per_node * self.num_nodes
        command = script_command()
        self._error_dir = tempfile.mkdtemp(prefix="flashtrain-ranks-")
        for local_rank in range(1, self.processes_per_node):
            child = ProcessLayout(
                "flashtrain",
                world_size,
                node_rank * self.processes_per_node + local_rank,
                local_rank,
                node_rank,
                master_addr,
                master_port,
            )
            env = {**os.environ, **child.variables(), "FLASHTRAIN_LAUNCHED": "1", ERROR_DIR_VARIABLE: self._error_dir}
            self.children[child.global_rank] = subprocess.Popen(command, env=env)
        own = ProcessLayout(
            "flashtrain", world_size, node_rank * self.processes_per_node, 0, node_rank, master_addr, master_port
        )
        os.environ[ERROR_DIR_VARIABLE] = self._error_dir
        threading.Thread(target=self._watch, name="flashtrain-rank-watcher", daemon=True).start()
        atexit.register(self.finish)
        return own

    def _rendezvous(self) -> tuple[int, str, int]:
        if self.num_nodes == 1:
            return 0, "127.0.0.1", free_port()
        missing = [name for name in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK") if name not in os.environ]
        if missing:
            raise RuntimeError(
                f"num_nodes={self.num_nodes} without torchrun or SLURM needs {', '.join(missing)} set on every node "
                "(MASTER_ADDR/MASTER_PORT: node 0's address and a free port; NODE_RANK: 0..num_nodes-1), or start "
                "the script with torchrun --nnodes ... / srun."
            )
        return int(os.environ["NODE_RANK"]), os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])

    def failure_message(self, wait: float = 2.0) -> str | None:
        """The first failed rank's error (waiting briefly, as it may be on its way), or None."""
        deadline = time.monotonic() + wait
        while self.failure is None and time.monotonic() < deadline and self._children_alive():
            time.sleep(0.05)
        if self.failure is None:
            self._check_children()
        if self.failure is None:
            return None
        rank, message = self.failure
        return f"rank {rank} failed: {message}"

    def _children_alive(self) -> bool:
        return any(child.poll() is None for child in self.children.values())

    def _check_children(self) -> None:
        for rank, child in self.children.items():
            code = child.poll()
            if code not in (None, 0) and self.failure is None:
                self.failure = (rank, self._read_error(rank, code))

    def _read_error(self, rank: int, code: int) -> str:
        try:
            with open(os.path.join(self._error_dir, f"rank_{rank}.txt")) as handle:
                return handle.read()
        except OSError:
            return f"the process exited with code {code} (see its output above)"

    def _watch(self) -> None:
        while not self._finished.is_set():
            self._check_children()
            if self.failure is not None:
                break
            if not self._children_alive():
                return
            time.sleep(0.1)
        if self.failure is None:
            return
        self.terminate()
        # Rank 0 is usually inside a collective that now fails at once; if it is stuck, end the run here.
        if not self._finished.wait(_GRACE_SECONDS):
            rank, message = self.failure
            print(f"flashtrain: rank {rank} failed: {message}\nStopping all ranks.", file=sys.stderr, flush=True)
            os._exit(1)

    def terminate(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()

    def finish(self, timeout: float = 60.0) -> None:
        """At exit: give the other ranks time to end their copy of the script, then stop them."""
        self._finished.set()
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.terminate()
