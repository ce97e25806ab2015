"""Where a sample's facts come from besides psutil: the orchestrator (control channel) and the queue
(its HTTP API). Each source either returns its facts or raises `AutonomicError`, which the sample
records as what it could not see."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from autonomic import api_token
from autonomic.errors import AutonomicError
from autonomic.queue.client import QueueClient
from autonomic.supervisor.control import ControlClient
from autonomic.workspace import Workspace

RESULTS_WINDOW = 500  # the newest results the latency by task type is computed from


class StatusSource(Protocol):
    def __call__(self) -> dict[str, Any]: ...


class QueueSource(Protocol):
    def __call__(self) -> dict[str, Any]: ...


def orchestrator_status(workspace: Workspace, timeout: float = 5.0) -> StatusSource:
    """The orchestrator's `status` reply (services with name, state, pid, restarts, uptime, detail)."""

    def status() -> dict[str, Any]:
        return ControlClient.for_file(workspace.control_file).request("status", timeout=timeout)

    return status


class QueueFacts:
    """Reads the queue's stats, workers and newest results through one keep-alive client."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 5.0) -> None:
        self._client = QueueClient(base_url, token, timeout=timeout)

    @classmethod
    def for_workspace(cls, workspace: Workspace, base_url: str) -> QueueFacts:
        return cls(base_url, api_token.read(workspace))

    def __call__(self) -> dict[str, Any]:
        stats = self._client.stats()
        try:
            results = self._client.results(limit=RESULTS_WINDOW)
        except AutonomicError as exc:  # the stats still stand; say what is missing
            return {"stats": stats, "results": [], "results_error": unreachable(exc)}
        return {
            "stats": stats,
            "results": [
                {
                    "type": r.type or "unknown",
                    "success": r.success,
                    "duration_ms": r.duration_ms,
                    "at": _epoch(r.submitted_at),
                }
                for r in results
            ],
        }

    def close(self) -> None:
        self._client.close()


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def unreachable(exc: AutonomicError) -> str:
    """The one line a sample records for a source it could not read."""
    return str(exc) or type(exc).__name__
