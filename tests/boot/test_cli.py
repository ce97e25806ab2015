"""`autonomic boot ...`, `autonomic backup schedule ...` and `autonomic up --boot` through the real
command, on a temporary HOME (Linux: the cron and XDG backends; other OSes would register for real)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.boot.machine import Machine
from tests.helpers import PYTHON, kill_tree, workspace_pids

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="registers for real elsewhere")


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    made = Machine(tmp_path)
    made.init()
    yield made
    kill_tree(workspace_pids(made.root))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_boot_register_status_unregister(machine: Machine) -> None:
    missing = machine.cli("boot", "status")
    assert missing.returncode == 1 and "not registered" in missing.stderr + missing.stdout

    first = machine.cli("boot", "register")
    assert first.returncode == 0, first.stderr
    desktop = next((machine.home / ".config" / "autostart").glob("autonomic-boot-ws-*.desktop"))
    assert f"wrote {desktop}" in first.stdout
    assert "crontab" in first.stdout and "@reboot" in first.stdout
    assert f"{PYTHON} -m autonomic up --foreground --boot --workspace {machine.root}" in first.stdout
    before = (_files(machine.home), machine.crontab.read_text())
    again = machine.cli("boot", "register")
    assert again.returncode == 0
    assert (_files(machine.home), machine.crontab.read_text()) == before  # idempotent

    status = machine.cli("boot", "status", "--json")
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)
    assert found["ok"] and found["registered"] and found["enabled"] and found["points_here"]
    assert found["backend"] == "cron+xdg-autostart"

    machine.crontab.write_text("MAILTO=me\n" + machine.crontab.read_text())
    removed = machine.cli("boot", "unregister")
    assert removed.returncode == 0 and f"removed {desktop}" in removed.stdout
    assert _files(machine.home) == [] and machine.crontab.read_text() == "MAILTO=me\n"
    twice = machine.cli("boot", "unregister")
    assert twice.returncode == 0 and "nothing changed" in twice.stdout
    assert machine.cli("boot", "status").returncode == 1


def test_backup_schedule_register_status_unregister(machine: Machine) -> None:
    assert machine.cli("backup", "schedule", "status").returncode == 1
    done = machine.cli("backup", "schedule", "register")
    assert done.returncode == 0, done.stderr
    assert "30 3 * * *" in done.stdout and "daily at 03:30" in done.stdout
    found = json.loads(machine.cli("backup", "schedule", "status", "--json").stdout)
    assert found["ok"] and found["backend"] == "cron"
    config = machine.workspace.config_file
    config.write_text(config.read_text().replace('at = "03:30"', 'at = "22:05"'))
    assert "5 22 * * *" in machine.must("backup", "schedule", "register")
    assert machine.crontab.read_text().count("backup run") == 1
    assert "removed" in machine.must("backup", "schedule", "unregister")
    assert "backup run" not in machine.crontab.read_text()


def test_a_deleted_workspace_is_reported_and_can_be_unregistered(machine: Machine) -> None:
    machine.must("boot", "register")
    config = machine.workspace.config_file.read_text()
    machine.workspace.config_file.unlink()
    status = machine.cli("boot", "status")
    assert status.returncode == 1
    assert "does not point here" in status.stderr + status.stdout
    assert "no longer exists" in status.stdout
    machine.workspace.config_file.write_text(config)
    machine.must("boot", "unregister")


def test_scheduling_without_any_scheduler_says_so(machine: Machine) -> None:
    (machine.bin / "crontab").unlink()
    done = machine.cli("backup", "schedule", "register")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error:") and "install cron" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_bad_input_is_one_line_and_changes_nothing(machine: Machine) -> None:
    config = machine.workspace.config_file
    config.write_text(config.read_text().replace('delay = "30s"', 'delay = "soon"'))
    done = machine.cli("boot", "register")
    assert done.returncode == 2 and "boot.delay" in done.stderr and "Traceback" not in done.stderr
    assert _files(machine.home) == [] and not machine.crontab.exists()
    config.write_text(config.read_text().replace('delay = "soon"', 'delay = "0s"'))
    bad = machine.cli("up", "--boot", "--delay", "later")
    assert bad.returncode == 2 and "--delay" in bad.stderr and "Traceback" not in bad.stderr


def test_up_boot_waits_its_delay_and_stands_down_when_one_runs(machine: Machine) -> None:
    config = machine.workspace.config_file
    config.write_text(
        "[queue]\nenabled = false\n[worker]\nenabled = false\n[monitor]\nenabled = false\n"
        "[watchdog]\nenabled = false\n[backup]\nschedule = false\n[upgrade]\nenabled = false\n"
        '[boot]\ndelay = "1s"\n'
        f'[services.idle]\ncommand = ["{PYTHON}", "-c", "import time; time.sleep(600)"]\n'
    )
    started = time.monotonic()
    boot = subprocess.Popen(
        [PYTHON, "-m", "autonomic", "up", "--boot", "--workspace", str(machine.root)],
        env=machine.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        machine_log = machine.workspace.orchestrator_log
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            machine_log.exists() and '"target": "health-fix"' in machine_log.read_text()
        ):
            time.sleep(0.1)
        events = [json.loads(line) for line in machine_log.read_text().splitlines()]
        waiting = next(e for e in events if e["action"] == "boot" and e["status"] == "waiting")
        starting = next(e for e in events if e["action"] == "boot" and e["status"] == "starting")
        assert "1s" in waiting["details"] and time.monotonic() - started >= 1.0
        assert waiting["timestamp"] < starting["timestamp"]
        assert any(e["action"] == "job" and e["target"] == "health-fix" for e in events)
        # a second boot entry (cron and XDG both, or a systemd restart) finds it running: clean exit
        second = machine.cli("up", "--boot", "--delay", "0s")
        assert second.returncode == 0 and "already runs" in second.stdout
        assert boot.poll() is None
    finally:
        machine.cli("down", timeout=60)
        boot.wait(timeout=60)
