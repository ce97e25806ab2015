"""The one exception tree. The CLI turns any `AutonomicError` into one line and its exit code.

    AutonomicError                 exit 1   anything autonomic raises on purpose
    ├── UsageError                 exit 2   asked for something that cannot be done as asked
    │   ├── ConfigError                     autonomic.toml / .env malformed (names file, key, problem)
    │   └── WorkspaceError                  no workspace here, or its layout is broken
    ├── NotRunningError            exit 3   the orchestrator (or another daemon) is not running
    ├── ControlError                        the control channel answered an error or not in time
    ├── StateError                          a state file or database under .autonomic/ is unusable
    │   └── StoreError                      the queue's store cannot be read or written
    ├── TimeoutExpired             exit 4   a bounded wait ran out
    ├── QueueError                          the task queue refused a request or is unreachable
    │   ├── QueueServerError                a 5xx: the same request may work later
    │   │   └── QueueUnavailable   exit 3   not reachable, or no answer in time
    │   ├── QueueRefused           exit 2   a 4xx: the request as sent will never succeed
    │   │   ├── QueueAuthError              credentials or origin refused (401/403)
    │   │   ├── TaskNotFound                no task with that id (404)
    │   │   └── TaskConflict                the task's state does not allow it (409)
    │   ├── InvalidRequest         exit 2   refused on this side before sending (bad value)
    │   ├── BadAnswer                       the server's answer does not match the API
    │   └── ResultTimeout          exit 4   `run` waited as allowed; the task stays queued
    ├── WorkerError                         the worker could not run as configured
    ├── RegistrationError                   the OS refused a boot/schedule registration, or has no way
    ├── BackupError                         a backup, verify or restore could not be done (nothing half)
    │   └── RestoreRefused         exit 2   a restore would overwrite newer files; not forced
    └── UpgradeError                        an upgrade could not be done (failed steps are rolled back)
        ├── UpgradeRefused         exit 2   a dirty or diverged tree for --pull, a broken config
        └── UpgradeBusy            exit 5   another upgrade holds this workspace's lock

Two questions a caller asks of a queue failure, answered by the branch: retry later
(`QueueServerError`) or give up on this request (`QueueRefused`, `InvalidRequest`). Wire-level
validation (pydantic's `ValidationError` on a request being built or an answer being read) is mapped
into this tree once, at the client's boundary (`autonomic.queue.calls`); nothing above it sees pydantic.
"""

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


class StoreError(StateError):
    """The queue store cannot be read or written (corrupt file, full or read-only disk, lost connection)."""


class TimeoutExpired(AutonomicError):
    """A bounded wait ran out (e.g. `up` waiting for services to become healthy)."""

    exit_code = 4


class QueueError(AutonomicError):
    """The task queue refused a request or is unreachable."""


class QueueServerError(QueueError):
    """The queue server failed to handle the request (a 5xx answer): the same request may work later."""


class QueueUnavailable(QueueServerError):
    """The queue server could not be reached (not running, wrong port) or did not answer in time."""

    exit_code = 3


class QueueRefused(QueueError):
    """The queue server refused the request itself (a 4xx answer): sending it again as is will not help."""

    exit_code = 2


class QueueAuthError(QueueRefused):
    """The server refused the request's credentials or origin (401/403)."""

    exit_code = 1


class TaskNotFound(QueueRefused):
    """No task with that id."""

    exit_code = 1


class TaskConflict(QueueRefused):
    """The task is not in a state that allows the request (e.g. a second result for a finished task)."""

    exit_code = 1


class InvalidRequest(QueueError):
    """A request refused on this side before it was sent: a value the server would refuse too."""

    exit_code = 2


class BadAnswer(QueueError):
    """The server's answer does not match the API (another program on that port, or a version skew)."""


class ResultTimeout(QueueError):
    """`run` waited as long as it was allowed and the task has no result yet (it stays queued)."""

    exit_code = 4


class WorkerError(AutonomicError):
    """The worker could not run as configured."""


class RegistrationError(AutonomicError):
    """The OS refused a registration, or no way to register exists on this machine."""


class BackupError(AutonomicError):
    """A backup, verify or restore could not be done; nothing visible was left half-done."""


class RestoreRefused(BackupError):
    """A restore would overwrite newer files (or the live queue database) and was not forced."""

    exit_code = 2


class UpgradeError(AutonomicError):
    """An upgrade could not be done (not a git repository, git failed, a step failed and was rolled back)."""


class UpgradeRefused(UpgradeError):
    """The request cannot be honoured as asked: a dirty or diverged tree for `--pull`, a broken config."""

    exit_code = 2


class UpgradeBusy(UpgradeError):
    """Another upgrade holds the lock for this workspace; this one did nothing."""

    exit_code = 5
