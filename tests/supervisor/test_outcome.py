"""How an ending is told: exit codes, and a port held by someone else named with its holder."""

from __future__ import annotations

import socket
from pathlib import Path

from autonomic.probes import ProbeKind, ProbeSpec
from autonomic.supervisor.outcome import Ending, Outcome, describe_exit, diagnose, local_port, with_last_words


def test_exit_descriptions() -> None:
    assert describe_exit(None) == "exited"
    assert describe_exit(-9) == "killed by signal 9"
    assert describe_exit(3) == "exited with code 3"


def test_only_probes_of_this_machine_name_a_local_port() -> None:
    assert local_port(ProbeSpec(ProbeKind.HTTP, "http://127.0.0.1:18091/api/health")) == 18091
    assert local_port(ProbeSpec(ProbeKind.HTTP, "http://localhost/")) == 80
    assert local_port(ProbeSpec(ProbeKind.TCP, "[::1]:5432")) == 5432
    assert local_port(ProbeSpec(ProbeKind.TCP, "db.example.org:5432")) is None
    assert local_port(ProbeSpec(ProbeKind.HEARTBEAT, "/tmp/x")) is None
    assert local_port(None) is None


def test_an_exit_while_another_process_listens_on_the_port_is_blocked_and_names_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        told = diagnose(Outcome(Ending.EXITED, "exited with code 1", 1), port)
        assert told.blocked is not None and told.blocked.startswith("exits at once: address already in use")
        assert f"port {port} is held by pid" in told.blocked and "python" in told.blocked
        killed = Outcome(Ending.EXITED, "killed by signal 9", -9)
        assert diagnose(killed, port) == killed  # a signal death is not a failed bind
    assert diagnose(Outcome(Ending.EXITED, "exited with code 1", 1), port).blocked is None  # port free


def test_a_failure_exit_carries_the_last_line_its_process_wrote(tmp_path: Path) -> None:
    log = tmp_path / "queue.log"
    log.write_text("starting\nqueue.db: the queue database is damaged; restore it\n\n")
    failed = with_last_words(Outcome(Ending.EXITED, "exited with code 1", 1), log)
    assert failed.detail == "exited with code 1: queue.db: the queue database is damaged; restore it"
    for quiet in (Outcome(Ending.EXITED, "exited with code 0", 0), Outcome(Ending.EXITED, "killed", -9)):
        assert with_last_words(quiet, log) == quiet
    assert with_last_words(Outcome(Ending.EXITED, "x", 1), tmp_path / "none.log").detail == "x"
