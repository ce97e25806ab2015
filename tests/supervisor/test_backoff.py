from autonomic.supervisor.backoff import MIN_COOLDOWN, MIN_SPACING, Backoff
from autonomic.supervisor.spec import BackoffSpec

SPEC = BackoffSpec(initial=0.5, max=4.0, reset_after=10.0, max_failures=7, cooldown=300.0)


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


def test_max_failures_in_a_row_mean_fatal_for_the_cool_down_then_a_fresh_start() -> None:
    """README: "After `max_failures` in a row the service is fatal for `cooldown`"."""
    backoff = Backoff(SPEC, rng=lambda: 0.5)
    decisions = [backoff.record_failure(0.1) for _ in range(SPEC.max_failures)]
    assert not any(d.fatal for d in decisions[:-1])
    assert decisions[-1].fatal and decisions[-1].delay == SPEC.cooldown
    assert decisions[-1].streak == SPEC.max_failures
    assert backoff.record_failure(0.1).delay == 0.0  # never a permanent give-up


def test_a_plan_with_zero_durations_still_cannot_spin() -> None:
    """plan.json can be edited by hand past the config's checks: the floors still hold."""
    zero = BackoffSpec(initial=0.0, max=0.0, reset_after=0.0, max_failures=0, cooldown=0.0)
    backoff = Backoff(zero, rng=lambda: 0.0)
    first = backoff.record_failure(0.0)
    assert first.fatal and first.delay == MIN_COOLDOWN
    spaced = Backoff(BackoffSpec(initial=0.0, max=0.0, reset_after=0.0, max_failures=50), rng=lambda: 0.0)
    delays = [spaced.record_failure(0.5).delay for _ in range(10)]  # 0.5 s runs are not "stable"
    assert delays[0] == 0.0 and all(d >= MIN_SPACING for d in delays[1:])
