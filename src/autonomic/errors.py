"""The one exception tree. The CLI turns any `AutonomicError` into one line and its exit code."""

from __future__ import annotations


class AutonomicError(Exception):
    """Root of every error autonomic raises on purpose. `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(AutonomicError):
    """The user asked for something that cannot be done as asked (bad argument, unknown service)."""

    exit_code = 2


class ConfigError(UsageError):
    """`autonomic.toml` (or `.env`) is malformed; the message names the file, the key and the problem."""


class WorkspaceError(UsageError):
    """No workspace where one is needed, or its layout is broken."""


class NotRunningError(AutonomicError):
    """The orchestrator (or another daemon) is not running, so the request cannot be served."""

    exit_code = 3


class ControlError(AutonomicError):
    """The control channel answered with an error or could not be reached in time."""


class StateError(AutonomicError):
    """A state file or database under `.autonomic/` is unreadable or corrupt."""


class TimeoutExpired(AutonomicError):
    """A bounded wait ran out (e.g. `up` waiting for services to become healthy)."""

    exit_code = 4


class QueueError(AutonomicError):
    """The task queue refused a request or is unreachable."""


class TaskNotFound(QueueError):
    """No task with that id."""


class WorkerError(AutonomicError):
    """The worker could not run as configured."""
