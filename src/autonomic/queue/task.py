"""A task's status and priority, and the one table of which status may follow which."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its life. `done`, `failed` and `cancelled` are final; `dead` waits for a human."""

    PENDING = "pending"  # waiting to be claimed (possibly not before its run_at)
    LEASED = "leased"  # held by a worker until its lease expires
    DONE = "done"  # a successful result is stored
    FAILED = "failed"  # a failed result is stored
    DEAD = "dead"  # out of attempts: in the dead-letter queue until requeued or cancelled
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED})


class Priority(StrEnum):
    """Claim order: every urgent task before any normal one, every normal before any low."""

    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def from_rank(cls, rank: int) -> Priority:
        return _BY_RANK[rank]

    @classmethod
    def lenient(cls, value: object) -> Priority:
        """The original server's rule: anything that is not a known priority means `normal`."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.NORMAL


_RANKS = {Priority.URGENT: 0, Priority.NORMAL: 1, Priority.LOW: 2}
_BY_RANK = {rank: priority for priority, rank in _RANKS.items()}

# Every status change a store makes is checked against this table (see `check_transition`).
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    # pending -> done/failed: a late result from a worker whose lease expired withdraws the re-queued copy
    TaskStatus.PENDING: frozenset(
        {TaskStatus.LEASED, TaskStatus.CANCELLED, TaskStatus.DONE, TaskStatus.FAILED}
    ),
    TaskStatus.LEASED: frozenset(
        {TaskStatus.PENDING, TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.DEAD, TaskStatus.CANCELLED}
    ),
    # dead -> done/failed: a late result for a task dead-lettered because its leases kept expiring
    TaskStatus.DEAD: frozenset(
        {TaskStatus.PENDING, TaskStatus.CANCELLED, TaskStatus.DONE, TaskStatus.FAILED}
    ),
    TaskStatus.DONE: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class TransitionError(ValueError):
    """A store tried a status change the table above forbids: a bug, never a user error."""


def check_transition(old: TaskStatus, new: TaskStatus) -> None:
    """Raise `TransitionError` unless a task may go from `old` to `new`."""
    if new not in TRANSITIONS[old]:
        raise TransitionError(f"a task cannot go from {old} to {new}")
