from pathlib import Path

from autonomic.eventlog import EventLog
from autonomic.supervisor.logfile import rotate_if_needed, tail


def test_rotation_keeps_n_files_and_an_appending_writer_continues(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    with open(log, "ab") as writer:
        for round_ in range(5):
            writer.write(f"round {round_}\n".encode() * 100)
            writer.flush()
            assert rotate_if_needed(log, max_bytes=100, keep=3)
        writer.write(b"after\n")
        writer.flush()
    assert log.read_bytes() == b"after\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.log", "svc.log.1", "svc.log.2", "svc.log.3"]
    assert (tmp_path / "svc.log.1").read_text().startswith("round 4")
    assert (tmp_path / "svc.log.3").read_text().startswith("round 2")


def test_a_small_log_is_left_alone_and_tail_reads_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("".join(f"line {i}\n" for i in range(10_000)))
    assert not rotate_if_needed(log, max_bytes=10**9, keep=3)
    assert tail(log, 2) == ["line 9998\n", "line 9999\n"]
    assert tail(tmp_path / "missing.log", 5) == []


def _problem(log: EventLog) -> str | None:
    return log.problem  # read through a call: mypy would keep the narrowing from the assert above


def test_the_event_log_never_raises_says_a_failure_once_and_recovers(tmp_path: Path) -> None:
    import io
    import json

    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the folder belongs")  # fails even for root
    said = io.StringIO()
    log = EventLog(blocker / "events.jsonl", fallback=said)
    log.write("restart", "web", "attempting")
    log.write("restart", "web", "success")
    assert log.problem is not None and "events.jsonl" in log.problem
    lines = said.getvalue().splitlines()
    assert sum("events go to stderr" in line for line in lines) == 1  # said once, not per event
    assert [json.loads(line)["status"] for line in lines if line.startswith("{")] == ["attempting", "success"]
    blocker.unlink()
    log.write("restart", "web", "success")
    assert _problem(log) is None and "writable again" in said.getvalue()
    assert oct((blocker / "events.jsonl").stat().st_mode & 0o777) == "0o600"


def test_follow_yields_appended_lines_and_reads_a_rotated_file_from_its_start(tmp_path: Path) -> None:
    from autonomic.supervisor.logfile import follow

    path = tmp_path / "web.log"
    path.write_text("old\n")
    steps = iter([lambda: path.write_text("old\nnew 1\n"), lambda: path.write_text("rot\n")])

    def sleep(_: float) -> None:
        next(steps, lambda: None)()

    lines = follow({"web": path}, sleep=sleep)
    assert next(lines) == ("web", "new 1\n")
    assert next(lines) == ("web", "rot\n")
