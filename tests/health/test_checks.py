"""Each check passing and failing for a real reason, read from real files, processes and sockets."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from autonomic.health import checks
from autonomic.health.autofix import AutoFix
from autonomic.health.check import CheckId
from autonomic.health.context import HealthContext
from autonomic.health.report import HealthReport, Tier
from autonomic.supervisor.record import ProcessRecord
from tests.health.support import Site


@pytest.fixture
def sleeper(pids: list[int]) -> int:
    """A live process to stand for a service's main process."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pids.append(proc.pid)
    return proc.pid


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    yield home


def _record(site: Site, service: str, pid: int) -> None:
    proc = psutil.Process(pid)
    ProcessRecord(service, pid, proc.create_time(), proc.cmdline(), proc.create_time()).save(
        site.workspace.record_file(service)
    )


def _context(site: Site) -> HealthContext:
    return HealthContext.load(site.workspace)


def _sample(site: Site, age: float) -> None:
    stamp = datetime.fromtimestamp(time.time() - age, UTC).isoformat()
    with open(site.workspace.metrics_file, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"timestamp": stamp, "total_tasks": 0}) + "\n")


def test_monitor_needs_a_sample_younger_than_three_intervals(site: Site, sleeper: int) -> None:
    site.configure(queue=False, worker=False, monitor=True, watchdog=None)
    ctx = _context(site)
    assert checks.check_monitor(ctx).line == "Monitoring Daemon - not running"
    _record(site, "monitor", sleeper)
    assert checks.check_monitor(ctx).line == "Monitoring Daemon - no metrics sample"
    _sample(site, age=94.0)  # the interval is 1 s: 3 s is the window
    stale = checks.check_monitor(ctx)
    assert not stale.ok and stale.line == "Monitoring Daemon - last sample 94 s old"
    _sample(site, age=0.5)
    fresh = checks.check_monitor(ctx)
    assert fresh.ok and fresh.line == "Monitoring Daemon - Collecting metrics"


def test_worker_and_watchdog_need_a_live_process_and_a_fresh_heartbeat(site: Site, sleeper: int) -> None:
    site.configure(queue=False, worker=True, monitor=False, watchdog="30s")
    ctx = _context(site)
    for check, name, service in (
        (checks.check_worker, "RPA Worker", "worker"),
        (checks.check_watchdog, "Self-Healing Watchdog", "watchdog"),
    ):
        assert check(ctx).line == f"{name} - not running"
        _record(site, service, sleeper)
        assert check(ctx).line == f"{name} - no heartbeat"
        beat = site.workspace.heartbeat_file(service)
        beat.touch()
        old = time.time() - 94
        os.utime(beat, (old, old))
        assert check(ctx).line == f"{name} - no heartbeat for 94 s"
        beat.touch()
        assert check(ctx).ok
    os.kill(sleeper, 9)
    psutil.wait_procs([psutil.Process(sleeper)], timeout=10)
    assert checks.check_worker(ctx).line == f"RPA Worker - not running (pid {sleeper} is gone)"


def test_venv_reads_the_workspace_requirements(site: Site) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    root = site.workspace.root
    (root / "requirements.txt").write_text(
        "# ours\n--index-url https://example.invalid/simple\npytest>=1  # installed here\n"
        'never-on-this-machine-pkg ; python_version < "3"\n-r requirements-extra.txt\n',
        encoding="utf-8",
    )
    (root / "requirements-extra.txt").write_text("psutil\n", encoding="utf-8")
    ctx = _context(site)
    ready = checks.check_venv(ctx)
    assert ready.ok and ready.line == "Python Virtual Env - Ready", ready.line
    assert ready.facts["requirements"] == 3
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["definitely-not-installed-xyz>=1.0", "pytest>=999"]\n',
        encoding="utf-8",
    )
    missing = checks.check_venv(ctx)
    assert not missing.ok
    assert missing.line == "Python Virtual Env - missing definitely-not-installed-xyz>=1.0, pytest>=999"


def test_venv_fails_when_the_services_interpreter_is_gone(site: Site) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    venv_bin = site.workspace.root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(site.workspace.root / "no-such-python")
    result = checks.check_venv(_context(site))
    assert not result.ok and result.line.startswith("Python Virtual Env - interpreter missing")


def test_venv_of_another_interpreter_is_asked_in_that_interpreter(site: Site, tmp_path: Path) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    venv_bin = site.workspace.root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")  # no psutil there
    (site.workspace.root / "requirements.txt").write_text("psutil\n", encoding="utf-8")
    result = checks.check_venv(_context(site))
    assert result.facts["interpreter"] == str(venv_bin / "python")
    assert not result.ok and result.line == "Python Virtual Env - missing psutil"


def test_recent_outputs_counts_real_files_and_wants_the_reports(site: Site) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    ctx = _context(site)
    for existing in site.workspace.outputs.iterdir():
        existing.unlink()
    old = site.workspace.outputs / "old.md"
    old.write_text("x")
    two_days = time.time() - 2 * 86400
    os.utime(old, (two_days, two_days))
    assert checks.check_outputs(ctx).line == "Recent Output Files (24h) - no files"
    for name in ("a.md", "b.json"):
        (site.workspace.outputs / name).write_text("x")
    assert checks.check_outputs(ctx).line == "Recent Output Files (24h) - 2 files"
    site.configure(queue=False, worker=False, monitor=True, watchdog=None)
    with_monitor = checks.check_outputs(_context(site))
    assert not with_monitor.ok and "missing monitoring_report_latest.md" in with_monitor.line


def test_boot_and_backup_read_not_registered_on_a_clean_home(site: Site, isolated_home: Path) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    ctx = _context(site)
    boot, backup = checks.check_boot(ctx), checks.check_backup(ctx)
    assert not boot.ok and boot.line == "Auto-Start on Boot - not registered"
    assert not backup.ok and backup.line == "Daily Auto-Backup - not scheduled"


def test_tiers_and_exit_codes(site: Site) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    report = checks.run_all(_context(site))
    results = report.results
    passing = [r.__class__(r.id, True, r.line) for r in results]
    assert HealthReport(passing).tier is Tier.OPERATIONAL and Tier.OPERATIONAL.exit_code == 0
    one = [*passing[:-1], results[-1].__class__(CheckId.OUTPUTS, False, "x")]
    assert HealthReport(one).tier is Tier.DEGRADED and HealthReport(one).percent == 88
    three = [r.__class__(r.id, i >= 3, r.line) for i, r in enumerate(results)]
    assert HealthReport(three).tier is Tier.CRITICAL and Tier.CRITICAL.exit_code == 2


def test_a_hung_queue_or_orchestrator_costs_a_failing_line_not_a_hung_dashboard(
    site: Site, isolated_home: Path
) -> None:
    """A socket that accepts and never answers stands for a hung queue server."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        port = hung.getsockname()[1]
        site.configure(queue=True, worker=False, monitor=False, watchdog=None, queue_port=port)
        # and an "orchestrator" whose control port accepts and never answers
        site.workspace.control_file.write_text(json.dumps({"port": port, "secret": "s", "pid": os.getpid()}))
        started = time.monotonic()
        code, report = site.health()
        elapsed = time.monotonic() - started
    assert report["elapsed"] < 3.0
    queue = report["checks"][0]
    assert queue["ok"] is False and queue["line"] == f"Task Queue Server ({port}) - not answering"
    assert code == report["exit_code"] == 2 and report["status"] == "🔴 CRITICAL"
    assert elapsed < 15.0  # the CLI's own start-up on a busy 2-core machine, plus the bounded checks


def _wheel(folder: Path, name: str, version: str) -> None:
    """A minimal pure-Python wheel, made here: the fix installs it with no network."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{dist}-{version}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{dist}/__init__.py", "VALUE = 1\n")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(
            f"{info}/RECORD", f"{dist}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n"
        )


def test_fix_installs_a_missing_requirement_into_the_services_interpreter(site: Site) -> None:
    site.configure(queue=False, worker=False, monitor=False, watchdog=None)
    root = site.workspace.root
    # the workspace's own venv (pip comes from the base interpreter's site-packages)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(root / ".venv")],
        check=True,
    )
    wheels = root / "wheels"
    wheels.mkdir()
    _wheel(wheels, "autonomic-fixture-pkg", "1.0")
    (root / "requirements.txt").write_text(
        f"--no-index\n--find-links {wheels}\nautonomic-fixture-pkg==1.0\n", encoding="utf-8"
    )
    ctx = _context(site)
    broken = checks.check_venv(ctx)
    assert broken.line == "Python Virtual Env - missing autonomic-fixture-pkg==1.0", broken.line
    actions = AutoFix(ctx).fix(HealthReport([broken]))
    assert [a.ok for a in actions] == [True], actions
    assert "pip install" in actions[0].what and str(root / ".venv" / "bin" / "python") in actions[0].what
    assert checks.check_venv(ctx).ok
    assert (
        importlib.util.find_spec("autonomic_fixture_pkg") is None
    )  # not in the interpreter running the tests
