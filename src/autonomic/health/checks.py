"""The eight checks, each evaluated for real, all at once, within a bound: a hung orchestrator, queue or
OS tool costs a failing line, never a hung dashboard."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from autonomic import probes
from autonomic.health import requirements
from autonomic.health.check import CheckId, CheckResult
from autonomic.health.context import HealthContext
from autonomic.health.report import HealthReport
from autonomic.supervisor import logfile
from autonomic.supervisor.record import ProcessRecord

DEADLINE = 2.5  # seconds for all checks together: `autonomic health` answers within 3 s
BACKUP_MAX_AGE = 26 * 3600.0
RECENT = 24 * 3600.0
_HTTP_TIMEOUT = 2.0

Check = Callable[[HealthContext], CheckResult]


def run_all(ctx: HealthContext, deadline: float = DEADLINE) -> HealthReport:
    """Run every check in parallel; one that has not answered by `deadline` fails as "no answer"."""
    started = time.monotonic()
    results: dict[CheckId, CheckResult] = {}
    threads = []
    for check_id, check in CHECKS.items():
        thread = threading.Thread(target=_run_one, args=(check_id, check, ctx, results), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, started + deadline - time.monotonic()))
    ordered = [
        results.get(check_id)
        or CheckResult(check_id, False, f"{LABELS[check_id]} - no answer within {deadline:g}s")
        for check_id in CHECKS
    ]
    return HealthReport(ordered, time.monotonic() - started)


def _run_one(
    check_id: CheckId, check: Check, ctx: HealthContext, results: dict[CheckId, CheckResult]
) -> None:
    try:
        results[check_id] = check(ctx)
    except Exception as exc:
        results[check_id] = CheckResult(check_id, False, f"{LABELS[check_id]} - check failed: {exc}")


LABELS = {
    CheckId.QUEUE: "Task Queue Server",
    CheckId.WORKER: "RPA Worker",
    CheckId.MONITOR: "Monitoring Daemon",
    CheckId.WATCHDOG: "Self-Healing Watchdog",
    CheckId.BOOT: "Auto-Start on Boot",
    CheckId.BACKUP: "Daily Auto-Backup",
    CheckId.VENV: "Python Virtual Env",
    CheckId.OUTPUTS: "Recent Output Files (24h)",
}


def _disabled(check_id: CheckId) -> CheckResult:
    return CheckResult(
        check_id, True, f"{LABELS[check_id]} - disabled in autonomic.toml", facts={"disabled": True}
    )


# --- 1..4: the core services ---------------------------------------------------------------------
def check_queue(ctx: HealthContext) -> CheckResult:
    spec = ctx.spec("queue")
    if spec is None or spec.probe is None:
        return _disabled(CheckId.QUEUE)
    label = f"{LABELS[CheckId.QUEUE]} ({ctx.queue_port})"
    probe = probes.build(spec.probe)
    result = asyncio.run(asyncio.wait_for(probe.check(), _HTTP_TIMEOUT + 0.2))
    if result.ok:
        return CheckResult(CheckId.QUEUE, True, f"{label} - Running", result.detail)
    return CheckResult(CheckId.QUEUE, False, f"{label} - not answering", result.detail)


def check_worker(ctx: HealthContext) -> CheckResult:
    spec = ctx.spec("worker")
    if spec is None or spec.probe is None:
        return _disabled(CheckId.WORKER)
    name = LABELS[CheckId.WORKER]
    if gone := _not_running(ctx, "worker"):
        return CheckResult(CheckId.WORKER, False, f"{name} - {gone}")
    age = _age(str(spec.probe.target))
    facts: dict[str, object] = {"heartbeat_age": age, "max_age": spec.probe.max_age}
    if age is None:
        return CheckResult(CheckId.WORKER, False, f"{name} - no heartbeat", str(spec.probe.target), facts)
    if age > spec.probe.max_age:
        return CheckResult(CheckId.WORKER, False, f"{name} - no heartbeat for {age:.0f} s", "", facts)
    queue = ctx.spec("queue")
    if queue is not None and queue.probe is not None:
        live = _live_workers(str(queue.probe.target).removesuffix("/api/health"), ctx.token)
        facts["live_workers"] = live
        if live == 0:
            return CheckResult(CheckId.WORKER, False, f"{name} - no live worker at /api/workers", "", facts)
    return CheckResult(CheckId.WORKER, True, f"{name} - Active", f"heartbeat {age:.1f}s old", facts)


def _live_workers(base_url: str, token: str | None) -> int | None:
    """How many live workers the queue server counts; None when it cannot tell us (the queue check
    reports an unreachable server)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=_HTTP_TIMEOUT)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request("GET", "/api/workers", headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            return None
        return int(json.loads(response.read()).get("live", 0))
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def check_monitor(ctx: HealthContext) -> CheckResult:
    if ctx.monitor_interval is None or ctx.spec("monitor") is None:
        return _disabled(CheckId.MONITOR)
    name = LABELS[CheckId.MONITOR]
    if gone := _not_running(ctx, "monitor"):
        return CheckResult(CheckId.MONITOR, False, f"{name} - {gone}")
    window = 3 * ctx.monitor_interval
    age = _last_sample_age(ctx)
    facts = {"sample_age": age, "max_age": window}
    if age is None:
        return CheckResult(
            CheckId.MONITOR, False, f"{name} - no metrics sample", str(ctx.workspace.metrics_file), facts
        )
    if age > window:
        return CheckResult(CheckId.MONITOR, False, f"{name} - last sample {age:.0f} s old", "", facts)
    return CheckResult(
        CheckId.MONITOR, True, f"{name} - Collecting metrics", f"last sample {age:.1f}s old", facts
    )


def _last_sample_age(ctx: HealthContext) -> float | None:
    for line in reversed(logfile.tail(ctx.workspace.metrics_file, 3)):
        try:
            stamp = datetime.fromisoformat(str(json.loads(line)["timestamp"]))
        except (ValueError, KeyError, TypeError):
            continue
        if stamp.tzinfo is None:
            stamp = stamp.astimezone()
        return max(0.0, time.time() - stamp.timestamp())
    return None


def check_watchdog(ctx: HealthContext) -> CheckResult:
    spec = ctx.spec("watchdog")
    if spec is None or spec.probe is None:
        return _disabled(CheckId.WATCHDOG)
    name = LABELS[CheckId.WATCHDOG]
    if gone := _not_running(ctx, "watchdog"):
        return CheckResult(CheckId.WATCHDOG, False, f"{name} - {gone}")
    age = _age(str(spec.probe.target))
    facts = {"heartbeat_age": age, "max_age": spec.probe.max_age}
    if age is None:
        return CheckResult(CheckId.WATCHDOG, False, f"{name} - no heartbeat", str(spec.probe.target), facts)
    if age > spec.probe.max_age:
        return CheckResult(CheckId.WATCHDOG, False, f"{name} - no heartbeat for {age:.0f} s", "", facts)
    return CheckResult(CheckId.WATCHDOG, True, f"{name} - Monitoring", f"heartbeat {age:.1f}s old", facts)


def _not_running(ctx: HealthContext, service: str) -> str | None:
    """Why the service's recorded process is not running (a fresh heartbeat or sample may outlive it)."""
    record = ProcessRecord.load(ctx.workspace.record_file(service))
    if record is None:
        return "not running"
    if not record.is_live():
        return f"not running (pid {record.pid} is gone)"
    return None


def _age(path: str) -> float | None:
    try:
        return max(0.0, time.time() - os.stat(path).st_mtime)
    except OSError:
        return None


# --- 5, 6: registrations with the OS ----------------------------------------------------------
def check_boot(ctx: HealthContext) -> CheckResult:
    name = LABELS[CheckId.BOOT]
    try:
        from autonomic.platform.registration import boot_status
    except ImportError:
        return CheckResult(
            CheckId.BOOT, False, f"{name} - not registered", "boot registration is not available"
        )
    found = boot_status(ctx.workspace)
    facts = {"registered": found.registered, "enabled": found.enabled, "points_here": found.points_here}
    if found.ok:
        return CheckResult(CheckId.BOOT, True, f"{name} - Enabled", found.where, facts)
    return CheckResult(
        CheckId.BOOT, False, f"{name} - {_registration_problem(found, 'registered')}", found.detail, facts
    )


def check_backup(ctx: HealthContext) -> CheckResult:
    name = LABELS[CheckId.BACKUP]
    try:
        from autonomic.backup.catalog import last_good_at
        from autonomic.platform.registration import schedule_status
    except ImportError:
        return CheckResult(
            CheckId.BACKUP, False, f"{name} - not scheduled", "backup scheduling is not available"
        )
    found = schedule_status(ctx.workspace)
    last = last_good_at(ctx.backups_dir)
    age = None if last is None else max(0.0, time.time() - last)
    facts = {"scheduled": found.ok, "last_good_age": age, "max_age": BACKUP_MAX_AGE}
    if not found.ok:
        return CheckResult(
            CheckId.BACKUP,
            False,
            f"{name} - {_registration_problem(found, 'scheduled')}",
            found.detail,
            facts,
        )
    if age is None:
        return CheckResult(CheckId.BACKUP, False, f"{name} - no good backup yet", str(ctx.backups_dir), facts)
    if age > BACKUP_MAX_AGE:
        return CheckResult(
            CheckId.BACKUP, False, f"{name} - last good backup {age / 3600:.0f} h ago", "", facts
        )
    return CheckResult(
        CheckId.BACKUP, True, f"{name} - Scheduled", f"last good backup {age / 3600:.1f} h ago", facts
    )


def _registration_problem(found: object, word: str) -> str:
    if not getattr(found, "registered", False):
        return f"not {word}"
    if not getattr(found, "enabled", False):
        return "registered but disabled"
    return "registered for another workspace or a missing interpreter"


# --- 7, 8: the environment and the outputs ----------------------------------------------------
def check_venv(ctx: HealthContext) -> CheckResult:
    name = LABELS[CheckId.VENV]
    interpreter = ctx.interpreter
    facts: dict[str, object] = {"interpreter": interpreter}
    if not os.access(interpreter, os.X_OK):
        return CheckResult(CheckId.VENV, False, f"{name} - interpreter missing: {interpreter}", "", facts)
    wanted = requirements.declared(ctx.workspace.root)
    try:
        installed = requirements.Installed.of(interpreter)
    except (OSError, ValueError, KeyError, TimeoutError) as exc:
        return CheckResult(CheckId.VENV, False, f"{name} - interpreter does not run: {exc}", "", facts)
    except Exception as exc:
        return CheckResult(CheckId.VENV, False, f"{name} - interpreter does not answer: {exc}", "", facts)
    missing = [str(d) for d in wanted if not installed.satisfies(d.requirement)]
    facts.update(requirements=len(wanted), missing=missing)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return CheckResult(CheckId.VENV, False, f"{name} - missing {shown}", interpreter, facts)
    return CheckResult(
        CheckId.VENV, True, f"{name} - Ready", f"{interpreter}, {len(wanted)} requirements met", facts
    )


def check_outputs(ctx: HealthContext) -> CheckResult:
    name = LABELS[CheckId.OUTPUTS]
    count = count_recent(ctx)
    missing = [p.name for p in ctx.reports if not p.is_file()]
    facts = {"files": count, "missing_reports": missing}
    if missing:
        return CheckResult(
            CheckId.OUTPUTS, False, f"{name} - {count} files; missing {', '.join(missing)}", "", facts
        )
    if count == 0:
        return CheckResult(CheckId.OUTPUTS, False, f"{name} - no files", str(ctx.workspace.outputs), facts)
    return CheckResult(CheckId.OUTPUTS, True, f"{name} - {count} files", str(ctx.workspace.outputs), facts)


def count_recent(ctx: HealthContext, within: float = RECENT) -> int:
    """Regular files under outputs/ modified within `within` seconds."""
    since = time.time() - within
    count = 0
    for folder, _, names in os.walk(ctx.workspace.outputs):
        for file_name in names:
            try:
                if os.stat(os.path.join(folder, file_name)).st_mtime >= since:
                    count += 1
            except OSError:
                continue
    return count


CHECKS: dict[CheckId, Check] = {
    CheckId.QUEUE: check_queue,
    CheckId.WORKER: check_worker,
    CheckId.MONITOR: check_monitor,
    CheckId.WATCHDOG: check_watchdog,
    CheckId.BOOT: check_boot,
    CheckId.BACKUP: check_backup,
    CheckId.VENV: check_venv,
    CheckId.OUTPUTS: check_outputs,
}
