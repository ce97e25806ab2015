"""The store contract: every backend must pass this class (the `backend` fixture lists them).

Time is a FakeClock, so leases, delays and back-offs are driven, never slept through.
"""

from __future__ import annotations

import pytest

from autonomic.clock import FakeClock
from autonomic.errors import TaskConflict, TaskNotFound
from autonomic.queue.store.base import PAGE_MAX, Policy, Store
from autonomic.queue.store.records import BadCursor, NewTask, Submission, Verdict
from autonomic.queue.task import Priority, TaskStatus
from tests.queue.conftest import Backend


def add(store: Store, type: str = "job", priority: Priority = Priority.NORMAL, **kwargs: object) -> str:
    created = store.create([NewTask(type, {"n": kwargs.pop("n", 0)}, priority, **kwargs)])  # type: ignore[arg-type]
    return created[0].task.task_id


def ok(task_id: str, worker: str | None = "w1", **data: object) -> Submission:
    return Submission(task_id, True, dict(data), None, worker)


class TestStoreContract:
    def test_a_new_task_is_pending_with_the_policy_defaults(self, store: Store) -> None:
        created = store.create([NewTask("ping", {"x": 1})])[0]
        task = created.task
        assert created.created and created.position == 1
        assert task.status is TaskStatus.PENDING and task.attempts == 0 and task.max_attempts == 3
        assert task.task_id == task.id and task.data == {"x": 1} and task.priority is Priority.NORMAL
        assert store.get(task.task_id) == task

    def test_claims_follow_priority_then_fifo(self, store: Store) -> None:
        low = add(store, priority=Priority.LOW)
        normal1 = add(store)
        urgent = add(store, priority=Priority.URGENT)
        normal2 = add(store)
        claimed = [t.task_id for t in store.claim("w1", [], 10)]
        assert claimed == [urgent, normal1, normal2, low]

    def test_queue_position_counts_tasks_ahead(self, store: Store) -> None:
        add(store)
        add(store, priority=Priority.LOW)
        urgent = store.create([NewTask("job", {}, Priority.URGENT)])[0]
        normal = store.create([NewTask("job", {}, Priority.NORMAL)])[0]
        assert (urgent.position, normal.position) == (1, 3)

    def test_a_claim_takes_only_the_types_asked_for(self, store: Store) -> None:
        add(store, "browser")
        wanted = add(store, "ping")
        assert [t.task_id for t in store.claim("w1", ["ping", "ocr"], 10)] == [wanted]
        assert store.counts().of(TaskStatus.PENDING) == 1

    def test_a_claim_leases_up_to_its_limit_and_counts_an_attempt(
        self, store: Store, clock: FakeClock
    ) -> None:
        for _ in range(5):
            add(store)
        claimed = store.claim("w1", [], 3, lease=12.0)
        assert len(claimed) == 3
        for task in claimed:
            assert task.status is TaskStatus.LEASED and task.worker == "w1" and task.attempts == 1
            assert task.lease_expires_at is not None
            assert task.lease_expires_at == pytest.approx(clock.time() + 12.0)
        assert store.counts().of(TaskStatus.LEASED) == 3

    def test_a_delayed_task_waits_for_its_run_at(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store, run_at=clock.time() + 60)
        assert store.claim("w1", [], 1) == []
        assert store.next_ready_at([]) == pytest.approx(clock.time() + 60)
        clock.advance(60)
        assert [t.task_id for t in store.claim("w1", [], 1)] == [task_id]

    def test_an_idempotency_key_returns_the_original_task(self, store: Store) -> None:
        first = store.create([NewTask("job", {"v": 1}, idempotency_key="k1")])[0]
        again = store.create(
            [NewTask("job", {"v": 2}, idempotency_key="k1"), NewTask("job", {"v": 3}, idempotency_key="k1")]
        )
        assert first.created and not again[0].created and not again[1].created
        assert {c.task.task_id for c in again} == {first.task.task_id}
        assert store.get(first.task.task_id).data == {"v": 1}
        assert store.counts().of(TaskStatus.PENDING) == 1

    def test_an_expired_lease_goes_to_the_back_after_a_backoff(self, store: Store, clock: FakeClock) -> None:
        first = add(store, n=1)
        assert store.claim("w1", [], 1)[0].task_id == first
        second = add(store, n=2)
        clock.advance(31)
        reclaimed = store.reclaim_expired()
        assert [(t.task_id, t.status, t.attempts) for t in reclaimed] == [(first, TaskStatus.PENDING, 1)]
        assert reclaimed[0].last_error == "lease expired"
        clock.advance(1)  # the back-off after a first attempt is retry_delay
        # The original put an expired task back at the front, so a poison task starved the queue.
        assert [t.task_id for t in store.claim("w2", [], 10)] == [second, first]

    def test_reclaiming_leaves_live_leases_alone(self, store: Store, clock: FakeClock) -> None:
        add(store)
        store.claim("w1", [], 1, lease=30.0)
        clock.advance(29)
        assert store.reclaim_expired() == []

    def test_a_poison_task_is_dead_lettered_after_max_attempts(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store)
        for attempt in range(1, 4):
            clock.advance(20)  # past any back-off
            claimed = store.claim("w1", [], 1)
            assert [t.attempts for t in claimed] == [attempt]
            clock.advance(31)
            store.reclaim_expired()
        task = store.get(task_id)
        assert task.status is TaskStatus.DEAD and task.attempts == 3
        clock.advance(100)
        assert store.claim("w1", [], 1) == []
        assert [t.task_id for t in store.tasks(TaskStatus.DEAD).items] == [task_id]

    def test_only_the_holder_of_this_delivery_can_extend(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store)
        store.claim("w1", [], 1, lease=30.0)
        clock.advance(20)
        extended = store.extend(task_id, "w1", 30.0, attempt=1)
        assert extended is not None and extended.lease_expires_at is not None
        assert extended.lease_expires_at == pytest.approx(clock.time() + 30)
        assert store.extend(task_id, "w2", 30.0) is None
        assert store.extend(task_id, "w1", 30.0, attempt=2) is None
        clock.advance(25)
        assert store.reclaim_expired() == []  # the extension held

    def test_release_requeues_after_its_delay_and_keeps_the_attempt(
        self, store: Store, clock: FakeClock
    ) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        released = store.release(task_id, "w1", delay=5.0, error="busy")
        assert (
            released.status is TaskStatus.PENDING and released.attempts == 1 and released.last_error == "busy"
        )
        assert store.claim("w1", [], 1) == []
        clock.advance(5)
        assert [t.attempts for t in store.claim("w1", [], 1)] == [2]

    def test_issue3_unclaim_puts_a_task_back_in_its_place_without_counting_the_attempt(
        self, store: Store
    ) -> None:
        first, second = add(store), add(store)
        claimed = store.claim("w1", [], 2)
        assert [t.attempts for t in claimed] == [1, 1]
        back = store.unclaim("w1", [first, second, "nope"])
        assert {t.task_id for t in back} == {first, second}
        task = store.get(first)
        assert task.status is TaskStatus.PENDING and task.attempts == 0 and task.worker is None
        assert task.lease_expires_at is None
        assert [t.task_id for t in store.claim("w2", [], 2)] == [first, second]  # same place in line

    def test_unclaim_leaves_tasks_held_by_others_or_finished_alone(self, store: Store) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        assert store.unclaim("w2", [task_id]) == []
        store.submit([ok(task_id)])
        assert store.unclaim("w1", [task_id]) == []
        assert store.get(task_id).status is TaskStatus.DONE

    def test_release_by_another_worker_or_of_a_pending_task_is_refused(self, store: Store) -> None:
        task_id = add(store)
        with pytest.raises(TaskConflict):
            store.release(task_id, "w1")
        store.claim("w1", [], 1)
        with pytest.raises(TaskConflict):
            store.release(task_id, "w2")
        with pytest.raises(TaskNotFound):
            store.release("nope", "w1")

    def test_release_of_the_last_attempt_dead_letters(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store, max_attempts=1)
        store.claim("w1", [], 1)
        assert store.release(task_id, "w1", error="boom").status is TaskStatus.DEAD
        assert store.get(task_id).last_error == "boom"

    def test_a_result_finishes_the_task_and_is_readable(self, store: Store) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        [outcome] = store.submit([ok(task_id, duration_ms=12.5)])
        assert outcome.accepted and outcome.task is not None and outcome.task.status is TaskStatus.DONE
        result = store.result(task_id)
        assert result is not None and result.success and result.data == {"duration_ms": 12.5}
        assert store.avg_duration_ms() == 12.5
        failed = add(store)
        store.claim("w1", [], 1)
        store.submit([Submission(failed, False, None, "it broke", "w1")])
        assert store.get(failed).status is TaskStatus.FAILED
        assert store.result(failed) is not None

    def test_results_for_unknown_or_finished_tasks_are_refused(self, store: Store) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        first, second, unknown = store.submit([ok(task_id, v=1), ok(task_id, v=2), ok("nope")])
        assert (first.verdict, second.verdict, unknown.verdict) == (
            Verdict.ACCEPTED,
            Verdict.FINISHED,
            Verdict.UNKNOWN,
        )
        result = store.result(task_id)
        assert result is not None and result.data == {"v": 1}  # the first result stands

    def test_a_result_for_a_task_nobody_claimed_is_refused(self, store: Store) -> None:
        task_id = add(store)
        assert store.submit([ok(task_id)])[0].verdict is Verdict.NOT_HANDED_OUT
        assert store.get(task_id).status is TaskStatus.PENDING

    def test_a_late_result_withdraws_the_requeued_copy(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        clock.advance(31)
        store.reclaim_expired()
        assert store.get(task_id).status is TaskStatus.PENDING
        assert store.submit([ok(task_id, "w1")])[0].accepted
        assert store.get(task_id).status is TaskStatus.DONE
        clock.advance(100)
        assert store.claim("w2", [], 1) == []

    def test_a_late_result_wins_over_the_new_holder(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store)
        store.claim("w1", [], 1)
        clock.advance(31)
        store.reclaim_expired()
        clock.advance(5)
        assert store.claim("w2", [], 1)[0].attempts == 2
        assert store.submit([ok(task_id, "w1", by="w1")])[0].accepted
        assert store.extend(task_id, "w2", 30.0) is None  # the new holder learns it lost the task
        assert store.submit([ok(task_id, "w2", by="w2")])[0].verdict is Verdict.FINISHED
        result = store.result(task_id)
        assert result is not None and result.data == {"by": "w1"}

    def test_a_late_result_rescues_a_dead_lettered_task(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store, max_attempts=1)
        store.claim("w1", [], 1)
        clock.advance(31)
        store.reclaim_expired()
        assert store.get(task_id).status is TaskStatus.DEAD
        assert store.submit([ok(task_id)])[0].accepted
        assert store.get(task_id).status is TaskStatus.DONE

    def test_cancel_stops_pending_and_leased_tasks_only(self, store: Store) -> None:
        pending = add(store, "a")
        leased = add(store, "b")
        store.claim("w1", ["b"], 1)
        assert store.cancel(pending).status is TaskStatus.CANCELLED
        assert store.cancel(leased).status is TaskStatus.CANCELLED
        assert store.claim("w1", [], 10) == []
        assert store.submit([ok(leased)])[0].verdict is Verdict.FINISHED
        with pytest.raises(TaskConflict):
            store.cancel(pending)
        with pytest.raises(TaskNotFound):
            store.cancel("nope")

    def test_requeue_gives_a_dead_task_fresh_attempts(self, store: Store, clock: FakeClock) -> None:
        task_id = add(store, max_attempts=1)
        store.claim("w1", [], 1)
        store.release(task_id, "w1")
        requeued = store.requeue(task_id)
        assert requeued.status is TaskStatus.PENDING and requeued.attempts == 0
        assert [t.task_id for t in store.claim("w1", [], 1)] == [task_id]
        with pytest.raises(TaskConflict):
            store.requeue(task_id)

    def test_counts_follow_every_transition(self, store: Store) -> None:
        a, b, c = add(store), add(store, priority=Priority.URGENT), add(store, priority=Priority.LOW)
        store.claim("w1", [], 2)
        store.submit([ok(b)])
        store.cancel(c)
        counts = store.counts()
        assert counts.of(TaskStatus.LEASED, Priority.NORMAL) == 1
        assert counts.of(TaskStatus.DONE, Priority.URGENT) == 1
        assert counts.of(TaskStatus.CANCELLED) == 1
        assert counts.of(TaskStatus.PENDING) == 0
        assert store.get(a).status is TaskStatus.LEASED

    def test_results_are_listed_newest_first(self, store: Store, clock: FakeClock) -> None:
        ids = [add(store) for _ in range(3)]
        store.claim("w1", [], 3)
        for task_id in ids:
            clock.advance(1)
            store.submit([ok(task_id)])
        assert [r.task_id for r in store.results(2).items] == [ids[2], ids[1]]

    def test_eviction_keeps_results_within_age_and_count(self, store: Store, clock: FakeClock) -> None:
        old = add(store)
        store.claim("w1", [], 1)
        store.submit([ok(old)])
        clock.advance(3601)
        assert store.evict() == 1
        with pytest.raises(TaskNotFound):
            store.get(old)
        ids = [add(store) for _ in range(7)]
        store.claim("w1", [], 7)
        for task_id in ids:
            clock.advance(1)
            store.submit([ok(task_id)])
        pending = add(store)
        assert store.evict() == 2
        assert [r.task_id for r in store.results(10).items] == ids[::-1][:5]
        assert store.get(pending).status is TaskStatus.PENDING  # only finished tasks are evicted

    def test_heartbeats_register_workers(self, store: Store, clock: FakeClock) -> None:
        store.heartbeat("w1", {"types": ["ping"], "concurrency": 2})
        clock.advance(5)
        store.heartbeat("w1")  # a bare sign of life keeps what the worker said before
        store.heartbeat("w2")
        workers = {w.name: w for w in store.workers().items}
        assert workers["w1"].info == {"types": ["ping"], "concurrency": 2}
        assert workers["w1"].last_seen == pytest.approx(clock.time())
        assert set(workers) == {"w1", "w2"}

    def test_everything_survives_a_reopen(self, backend: Backend, clock: FakeClock, policy: Policy) -> None:
        store = backend.open(clock, policy)
        held, answered, waiting = add(store, n=1), add(store, n=2), add(store, n=3)
        store.claim("w1", [], 2)
        store.submit([ok(answered)])
        store.close()
        store = backend.open(clock, policy)
        try:
            assert store.get(held).status is TaskStatus.LEASED
            assert store.get(answered).status is TaskStatus.DONE
            assert store.get(waiting).status is TaskStatus.PENDING
            newer = add(store, n=4)
            clock.advance(31)
            store.reclaim_expired()
            clock.advance(1)
            # Order survives too: a task created after the reopen queues behind the old one, and the
            # expired one goes behind both.
            assert [t.task_id for t in store.claim("w2", [], 10)] == [waiting, newer, held]
        finally:
            store.close()


class TestPagesAndRetention:
    """Issue 9: bounded pages with cursors, dead-letter retention, real durations, due times."""

    def test_pages_walk_every_task_once_in_claim_order(self, store: Store) -> None:
        ids = [add(store, priority=p) for p in (Priority.LOW, Priority.NORMAL, Priority.URGENT) * 7]
        add(store, "other")
        expected = [t.task_id for t in store.tasks(TaskStatus.PENDING, ["job"], limit=100).items]
        assert sorted(expected) == sorted(ids) and len(expected) == 21
        walked: list[str] = []
        after: str | None = None
        while True:
            page = store.tasks(TaskStatus.PENDING, ["job"], limit=4, after=after)
            assert len(page.items) <= 4
            walked.extend(t.task_id for t in page.items)
            if page.next is None:
                break
            after = page.next
        assert walked == expected  # urgent first, FIFO within, nothing twice, nothing skipped

    def test_a_page_is_capped_whatever_is_asked(self, store: Store) -> None:
        store.create([NewTask("job", {}) for _ in range(PAGE_MAX + 5)])
        page = store.tasks(TaskStatus.PENDING, limit=100_000)
        assert len(page.items) == PAGE_MAX and page.next is not None
        rest = store.tasks(TaskStatus.PENDING, limit=100_000, after=page.next)
        assert len(rest.items) == 5 and rest.next is None
        assert store.tasks(TaskStatus.PENDING, limit=0).items == []

    def test_other_statuses_page_oldest_first(self, store: Store) -> None:
        ids = [add(store) for _ in range(5)]
        store.claim("w1", [], 5)
        first = store.tasks(TaskStatus.LEASED, limit=3)
        second = store.tasks(TaskStatus.LEASED, limit=3, after=first.next)
        assert [t.task_id for t in first.items + second.items] == ids and second.next is None

    def test_a_foreign_cursor_is_refused(self, store: Store) -> None:
        add(store)
        add(store)
        pending = store.tasks(TaskStatus.PENDING, limit=1)
        assert pending.next is not None
        for status, bad in [
            (TaskStatus.PENDING, "nonsense"),
            (TaskStatus.LEASED, "dead:1"),
            (TaskStatus.DONE, pending.next),
            (TaskStatus.PENDING, "pending:x:1"),
        ]:
            with pytest.raises(BadCursor):
                store.tasks(status, after=bad)
        with pytest.raises(BadCursor):
            store.results(10, after="pending:1:1")
        with pytest.raises(BadCursor):
            store.workers(10, after="r:1.0:1")

    def test_results_and_workers_page_too(self, store: Store, clock: FakeClock) -> None:
        ids = [add(store) for _ in range(5)]
        store.claim("w1", [], 5)
        for task_id in ids:
            clock.advance(1)
            store.submit([ok(task_id)])
        first = store.results(2)
        rest = store.results(10, after=first.next)
        assert [r.task_id for r in first.items + rest.items] == ids[::-1] and rest.next is None
        for name in ("c", "a", "b"):
            store.heartbeat(name)
        page = store.workers(2)
        assert [w.name for w in page.items] == ["a", "b"]
        assert [w.name for w in store.workers(2, after=page.next).items] == ["c"]

    def test_dead_letters_are_evicted_by_the_same_retention(self, backend: Backend, clock: FakeClock) -> None:
        policy = Policy(lease=10.0, max_attempts=1, results_max_age=3600.0, results_max_count=100)
        store = backend.open(clock, policy)
        try:
            task_id = add(store)
            store.claim("w1", [], 1)
            clock.advance(11)
            store.reclaim_expired()
            dead = store.get(task_id)
            assert dead.status is TaskStatus.DEAD and dead.finished_at == pytest.approx(clock.time())
            assert store.next_eviction_at() == pytest.approx(clock.time() + 3600)
            clock.advance(3599)
            assert store.evict() == 0
            clock.advance(2)
            assert store.evict() == 1
            with pytest.raises(TaskNotFound):
                store.get(task_id)
        finally:
            store.close()

    def test_dead_letters_can_be_kept_longer(self, backend: Backend, clock: FakeClock) -> None:
        policy = Policy(lease=10.0, max_attempts=1, results_max_age=60.0, dead_max_age=7200.0)
        store = backend.open(clock, policy)
        try:
            task_id = add(store)
            store.claim("w1", [], 1)
            store.release(task_id, "w1")
            clock.advance(3600)
            assert store.evict() == 0 and store.get(task_id).status is TaskStatus.DEAD
            requeued = store.requeue(task_id)
            assert requeued.finished_at is None  # back in the queue: no longer subject to retention
        finally:
            store.close()

    def test_a_result_without_a_duration_gets_claim_to_result_time(
        self, store: Store, clock: FakeClock
    ) -> None:
        quiet, loud = add(store), add(store)
        store.claim("w1", [], 2)
        clock.advance(2.5)
        store.submit([ok(quiet), ok(loud, duration_ms=100.0)])
        quiet_result, loud_result = store.result(quiet), store.result(loud)
        assert quiet_result is not None and quiet_result.duration_ms == pytest.approx(2500.0)
        assert loud_result is not None and loud_result.duration_ms == 100.0  # what the worker measured wins
        assert store.avg_duration_ms() == pytest.approx(1300.0)

    def test_the_average_duration_forgets_evicted_results(self, store: Store, clock: FakeClock) -> None:
        old = add(store)
        store.claim("w1", [], 1)
        store.submit([ok(old, duration_ms=1000.0)])
        clock.advance(3000)
        new = add(store)
        store.claim("w1", [], 1)
        store.submit([ok(new, duration_ms=10.0)])
        assert store.avg_duration_ms() == pytest.approx(505.0)
        clock.advance(700)  # the old one passes results_max_age (3600 s), the new one does not
        assert store.evict() == 1
        assert store.avg_duration_ms() == pytest.approx(10.0)

    def test_due_times_for_the_server_timers(self, store: Store, clock: FakeClock) -> None:
        assert store.next_expiry() is None and store.next_eviction_at() is None
        add(store)
        add(store)
        store.claim("w1", [], 1, lease=50.0)
        clock.advance(5)
        store.claim("w2", [], 1, lease=20.0)
        assert store.next_expiry() == pytest.approx(clock.time() + 20.0)

    def test_live_workers_count_recent_ones(self, store: Store, clock: FakeClock) -> None:
        store.heartbeat("old")
        clock.advance(100)
        store.heartbeat("new")
        assert store.live_workers(clock.time() - 60) == 1
        assert store.live_workers(clock.time() - 1000) == 2

    def test_a_worker_known_only_from_its_claims_is_listed_with_what_it_claims(self, store: Store) -> None:
        store.claimed("poller", ["b", "a"])
        store.claimed("poller", ["c"])
        store.claimed("greedy", [])
        store.heartbeat("beater", {"types": ["x"], "concurrency": 2})
        store.claimed("beater", ["y"])  # a heartbeat's own account is kept
        info = {w.name: w.info for w in store.workers().items}
        assert info == {
            "poller": {"via": "claims", "types": ["a", "b", "c"]},
            "greedy": {"via": "claims"},
            "beater": {"types": ["x"], "concurrency": 2},
        }
