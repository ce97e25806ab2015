"""Is the Task Queue Server using its database right now, and can the orchestrator stop it for a restore?

The orchestrator's status (or, when it is down, the process records on disk) says whether the
service `queue` runs; a connection to the queue's port catches a server started by hand.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from autonomic.errors import AutonomicError
from autonomic.supervisor.control import ControlClient
from autonomic.workspace import Workspace

if TYPE_CHECKING:
    from autonomic.supervisor.protocol import ServiceStatus

QUEUE_SERVICE = "queue"
DOWN_STATES = frozenset({"stopped", "exited"})  # any other state runs the server now or will soon


@dataclass(frozen=True)
class QueueState:
    running: bool
    stoppable: bool  # the orchestrator runs it and can stop (and later start) it
    detail: str


class QueueControl(Protocol):
    def state(self) -> QueueState: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


class OrchestratedQueue:
    """The real queue service of a workspace, reached through the orchestrator's control channel."""

    def __init__(self, workspace: Workspace, port: int | None, host: str = "127.0.0.1") -> None:
        self.workspace = workspace
        self.port = port
        self.host = host

    def state(self) -> QueueState:
        service = self._service()
        if service is not None and service.state.value not in DOWN_STATES:
            stoppable = service.state.value != "orphaned"
            return QueueState(
                True, stoppable, f"the queue service is {service.state.value} (pid {service.pid})"
            )
        if self.port is not None and _listening(self.host, self.port):
            return QueueState(True, False, f"a server is listening on the queue port {self.host}:{self.port}")
        return QueueState(False, False, "the queue server is stopped")

    def stop(self) -> None:
        self._client().request("stop", timeout=120.0, service=QUEUE_SERVICE)

    def start(self) -> None:
        self._client().request("start", timeout=120.0, service=QUEUE_SERVICE)

    def _client(self) -> ControlClient:
        return ControlClient.for_file(self.workspace.control_file)

    def _service(self) -> ServiceStatus | None:
        from autonomic.supervisor import launcher

        try:
            return launcher.status(self.workspace).service(QUEUE_SERVICE)
        except AutonomicError:
            return None


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
