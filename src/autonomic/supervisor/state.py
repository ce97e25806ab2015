"""The lifecycle of a supervised service, as an enum with its allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class ServiceState(StrEnum):
    STOPPED = "stopped"  # not running, and not meant to be (never started, or stopped by the user)
    WAITING = "waiting"  # waiting for its dependencies to be running
    STARTING = "starting"  # spawned (or adopted), waiting for its probe to pass
    RUNNING = "running"  # probe passing
    RESTARTING = "restarting"  # hung or never ready: being stopped so that it can start again
    BACKOFF = "backoff"  # exited or hung; waiting for its restart delay
    STOPPING = "stopping"  # stop signal sent, waiting for the process group to exit
    EXITED = "exited"  # exited and its restart policy says leave it
    FATAL = "fatal"  # crash-looping; cooling down before it is tried again
    ORPHANED = "orphaned"  # alive with no orchestrator watching it (only `status` shows it, from disk)

    @property
    def is_up(self) -> bool:
        return self in (ServiceState.STARTING, ServiceState.RUNNING)


S = ServiceState
TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    S.STOPPED: frozenset({S.WAITING, S.STARTING, S.BACKOFF, S.FATAL, S.EXITED}),
    S.WAITING: frozenset({S.STARTING, S.STOPPED, S.BACKOFF, S.FATAL, S.EXITED}),
    S.STARTING: frozenset({S.RUNNING, S.RESTARTING, S.BACKOFF, S.STOPPING, S.EXITED, S.FATAL}),
    S.RUNNING: frozenset({S.RESTARTING, S.BACKOFF, S.STOPPING, S.EXITED, S.FATAL}),
    S.RESTARTING: frozenset({S.RUNNING, S.BACKOFF, S.STOPPING, S.EXITED, S.FATAL, S.STARTING}),
    S.BACKOFF: frozenset({S.WAITING, S.STARTING, S.STOPPED, S.FATAL, S.EXITED}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.EXITED: frozenset({S.WAITING, S.STARTING, S.STOPPED}),
    S.FATAL: frozenset({S.WAITING, S.STARTING, S.STOPPED, S.BACKOFF, S.EXITED}),
    S.ORPHANED: frozenset(),  # never entered by a running service: the orchestrator adopts or stops it
}


# a stop can arrive at any moment, also between a spawn and the state that follows it
for _state in (S.STOPPED, S.WAITING, S.BACKOFF, S.EXITED, S.FATAL):
    TRANSITIONS[_state] = TRANSITIONS[_state] | {S.STOPPING}


class TransitionError(RuntimeError):
    """A bug: the supervisor tried a transition the lifecycle does not allow."""


def check_transition(old: ServiceState, new: ServiceState) -> None:
    """Raise unless `old -> new` is allowed; staying in a state (with a new detail) always is."""
    if new is not old and new not in TRANSITIONS[old]:
        raise TransitionError(f"{old} -> {new} is not a valid transition")
