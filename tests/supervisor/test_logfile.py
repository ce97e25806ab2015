from pathlib import Path

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
