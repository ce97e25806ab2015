from autonomic.supervisor.backoff import Backoff
from autonomic.supervisor.spec import BackoffSpec

SPEC = BackoffSpec(initial=0.5, max=4.0, reset_after=10.0, max_failures=6, cooldown=300.0)


def test_first_failure_after_a_stable_run_restarts_at_once_then_doubles_up_to_the_cap() -> None:
    backoff = Backoff(SPEC, rng=lambda: 0.5)  # jitter factor exactly 1.0
    delays = [backoff.record_failure(uptime=0.1).delay for _ in range(6)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0]


def test_jitter_stays_within_twenty_percent_and_under_the_cap() -> None:
    low, high = Backoff(SPEC, rng=lambda: 0.0), Backoff(SPEC, rng=lambda: 0.999)
    for _ in range(3):
        low_delay, high_delay = low.record_failure(0).delay, high.record_failure(0).delay
    assert low_delay == 0.8 and 1.19 < high_delay <= 1.2
    for _ in range(3):
        assert high.record_failure(0).delay <= SPEC.max


def test_a_stable_run_resets_the_streak() -> None:
    backoff = Backoff(SPEC, rng=lambda: 0.5)
    for _ in range(4):
        backoff.record_failure(uptime=1.0)
    assert backoff.record_failure(uptime=SPEC.reset_after).delay == 0.0


def test_too_many_failures_in_a_row_mean_a_cool_down_then_a_fresh_start() -> None:
    backoff = Backoff(SPEC, rng=lambda: 0.5)
    decisions = [backoff.record_failure(0.1) for _ in range(SPEC.max_failures + 1)]
    assert not any(d.fatal for d in decisions[:-1])
    assert decisions[-1].fatal and decisions[-1].delay == SPEC.cooldown
    assert backoff.record_failure(0.1).delay == 0.0  # never a permanent give-up
