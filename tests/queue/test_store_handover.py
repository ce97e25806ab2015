"""Issue 9: a create serves the claims that wait for its tasks (`Store.create_and_claim`), on every backend.

The server calls it when long polls are waiting: their tasks must be exactly what a claim made right
after the create would have leased (claim order, types, limits, delays), in one transaction.
"""

from __future__ import annotations

import pytest

from autonomic.clock import FakeClock
from autonomic.queue.store.base import Store
from autonomic.queue.store.records import Claim, NewTask, Submission
from autonomic.queue.task import Priority, TaskStatus


def waiting(worker: str = "w1", *types: str, limit: int = 4, lease: float = 30.0) -> Claim:
    return Claim(worker, tuple(types), limit, lease)


def test_a_waiting_claim_gets_the_new_task_leased(store: Store, clock: FakeClock) -> None:
    [created], [handed] = store.create_and_claim([NewTask("job", {"n": 1})], [waiting("w1", "job")])
    assert created.created and created.position == 1
    assert [t.task_id for t in handed] == [created.task.task_id]
    task = store.get(created.task.task_id)
    assert task.status is TaskStatus.LEASED and task.worker == "w1" and task.attempts == 1
    assert task.data == {"n": 1} and task.lease_expires_at == pytest.approx(clock.time() + 30.0)
    counts = store.counts()
    assert counts.of(TaskStatus.LEASED) == 1 and counts.of(TaskStatus.PENDING) == 0
    assert store.next_expiry() == pytest.approx(clock.time() + 30.0)


def test_older_ready_tasks_go_first_in_claim_order(store: Store) -> None:
    older = store.create([NewTask("job", {}, Priority.NORMAL)])[0].task.task_id
    [urgent], [handed] = store.create_and_claim(
        [NewTask("job", {}, Priority.URGENT)], [waiting("w1", "job", limit=1)]
    )
    assert [t.task_id for t in handed] == [urgent.task.task_id]  # better priority first
    [later], [handed] = store.create_and_claim([NewTask("job", {})], [waiting("w2", "job", limit=1)])
    assert [t.task_id for t in handed] == [older]  # FIFO within a priority
    assert store.get(later.task.task_id).status is TaskStatus.PENDING


def test_claims_are_served_in_order_up_to_their_limits(store: Store) -> None:
    new = [NewTask("job", {"n": n}) for n in range(3)]
    created, handed = store.create_and_claim(new, [waiting("w1", "job", limit=2), waiting("w2", limit=5)])
    ids = [c.task.task_id for c in created]
    assert [[t.task_id for t in h] for h in handed] == [ids[:2], ids[2:]]
    assert all(t.worker == "w2" for t in handed[1])


def test_other_types_and_delayed_tasks_are_not_handed(store: Store, clock: FakeClock) -> None:
    created, handed = store.create_and_claim(
        [NewTask("job", {}), NewTask("ocr", {}, run_at=clock.time() + 60)],
        [waiting("w1", "ping"), waiting("w2", "ocr")],
    )
    assert handed == [[], []]
    assert [store.get(c.task.task_id).status for c in created] == [TaskStatus.PENDING] * 2
    clock.advance(60)
    assert [t.task_id for t in store.claim("w2", ["ocr"], 4)] == [created[1].task.task_id]


def test_a_repeated_idempotency_key_hands_over_nothing_new(store: Store) -> None:
    first = store.create([NewTask("job", {}, idempotency_key="k")])[0].task.task_id
    [again], [handed] = store.create_and_claim(
        [NewTask("job", {}, idempotency_key="k")], [waiting("w1", "job")]
    )
    assert not again.created and again.task.task_id == first
    assert [t.task_id for t in handed] == [first]  # the original was still pending: it is what a claim takes
    assert store.counts().of(TaskStatus.LEASED) == 1 and store.counts().of(TaskStatus.PENDING) == 0


@pytest.mark.parametrize("named", [True, False])
def test_a_handed_task_finishes_like_any_claimed_one(store: Store, clock: FakeClock, named: bool) -> None:
    """The result of a handed-over task, from its holder (or from a client that names no worker), is
    stored with the claim-to-result time as its duration."""
    [created], _ = store.create_and_claim([NewTask("job", {})], [waiting("w1", "job")])
    clock.advance(0.25)
    worker = "w1" if named else None
    [outcome] = store.submit([Submission(created.task.task_id, True, {"ok": 1}, None, worker)])
    assert outcome.accepted and outcome.task is not None and outcome.task.status is TaskStatus.DONE
    result = store.result(created.task.task_id)
    assert result is not None and result.worker == "w1" and result.data == {"ok": 1}
    assert result.duration_ms == pytest.approx(250.0)
    if outcome.result is not None:  # what a store hands the waiting reader, when it has it at hand
        assert outcome.result == result
    assert store.avg_duration_ms() == pytest.approx(250.0)
    assert store.counts().of(TaskStatus.DONE) == 1 and store.counts().of(TaskStatus.LEASED) == 0
