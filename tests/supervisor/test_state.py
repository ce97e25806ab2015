import pytest

from autonomic.supervisor.state import ServiceState, TransitionError, check_transition


def test_every_state_can_be_left_and_stopping_only_ends_in_stopped() -> None:
    check_transition(ServiceState.RUNNING, ServiceState.BACKOFF)
    check_transition(ServiceState.FATAL, ServiceState.STARTING)
    with pytest.raises(TransitionError):
        check_transition(ServiceState.STOPPING, ServiceState.RUNNING)
    with pytest.raises(TransitionError):
        check_transition(ServiceState.STOPPED, ServiceState.RUNNING)


def test_staying_in_a_state_is_allowed() -> None:
    check_transition(ServiceState.BACKOFF, ServiceState.BACKOFF)
