"""The orchestrator's jobs: bounded, logged, never overlapping themselves, `before` ahead of every
service and `after` once the services run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from autonomic.eventlog import EventLog
from autonomic.probes import ProbeKind, ProbeSpec
from autonomic.supervisor import launcher
from autonomic.supervisor.jobs import JobPhase, Jobs, JobSpec
from autonomic.supervisor.spec import Plan, ServiceSpec
from autonomic.workspace import Workspace
from tests.helpers import alive, wait_until

PY = sys.executable


def _jobs(tmp_path: Path, specs: list[JobSpec]) -> Jobs:
    return Jobs(
        specs,
        EventLog(tmp_path / "events.jsonl"),
        tmp_path / "logs",
        str(tmp_path),
        lambda _: dict(os.environ),
    )


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _marking_service(root: Path) -> tuple[Workspace, Path, str, ServiceSpec]:
    """A workspace whose service appends "service <time>" to `marks` when it starts; `stamp` (a Python
    line with a `{}` for the word) lets jobs mark the same file. The service counts as running once its
    probe passes: after it wrote its mark."""
    workspace = Workspace.at(root)
    workspace.config_file.write_text("")
    marks = root / "marks"
    stamp = f"import time; open({str(marks)!r}, 'a').write('{{}} %f\\n' % time.time())"
    beat = root / "svc.heartbeat"
    service = ServiceSpec(
        name="svc",
        argv=[PY, "-c", stamp.format("service") + f"; open({str(beat)!r}, 'w'); time.sleep(600)"],
        cwd=str(root),
        probe=ProbeSpec(ProbeKind.HEARTBEAT, str(beat), interval=0.2, max_age=600.0),
    )
    return workspace, marks, stamp, service


def _start_orchestrator(workspace: Workspace, plan: Plan, pids: list[int]) -> subprocess.Popen[bytes]:
    launcher.write_plan(workspace, plan)
    daemon = subprocess.Popen(
        launcher.daemon_argv(workspace),
        cwd=workspace.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids.append(daemon.pid)
    return daemon


def test_a_run_is_logged_with_its_exit_code_and_output(tmp_path: Path) -> None:
    ok = JobSpec("hello", [PY, "-c", "print('hi there')"], timeout=30)
    bad = JobSpec("broken", [PY, "-c", "import sys; sys.exit(7)"], timeout=30)
    missing = JobSpec("absent", [str(tmp_path / "no-such-program")], timeout=30)
    jobs = _jobs(tmp_path, [ok, bad, missing])

    async def scenario() -> list[int | None]:
        return [(await jobs.run_once(spec)).code for spec in (ok, bad, missing)]

    assert asyncio.run(scenario()) == [0, 7, None]
    assert "hi there" in (tmp_path / "logs" / "job-hello.log").read_text()
    finished = [e for e in _events(tmp_path / "events.jsonl") if e["status"] != "attempting"]
    assert [(e["target"], e["status"], e["exit_code"]) for e in finished] == [
        ("hello", "success", 0),
        ("broken", "failure", 7),
        ("absent", "failure", None),
    ]
    assert all(e["action"] == "job" and e["timestamp"] for e in finished)
    assert "cannot start" in finished[2]["details"]


def test_a_job_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    spec = JobSpec("slow", [PY, "-c", script], timeout=1.5)
    jobs = _jobs(tmp_path, [spec])
    started = time.monotonic()
    result = asyncio.run(jobs.run_once(spec))
    assert result.code is None and "timeout" in result.detail
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    wait_until(lambda: not alive(child), timeout=5, what="the job's child to be killed")


def test_a_periodic_job_never_overlaps_itself(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    script = (
        "import time, sys;"
        f"f = open({str(trace)!r}, 'a'); f.write(f'start {{time.time()}}\\n'); f.flush();"
        "time.sleep(0.3); f.write(f'end {time.time()}\\n')"
    )
    spec = JobSpec("tick", [PY, "-c", script], phase=JobPhase.AFTER, every=0.05, timeout=30)
    jobs = _jobs(tmp_path, [spec])

    async def scenario() -> None:
        jobs.start_after()
        # a second trigger while a run is in progress joins it instead of starting another
        await asyncio.sleep(0.2)
        await jobs.run_once(spec)
        await asyncio.sleep(1.5)
        await jobs.close()

    asyncio.run(scenario())
    marks = [line.split() for line in trace.read_text().splitlines()]
    starts = [m for m in marks if m[0] == "start"]
    assert len(starts) >= 2
    # strictly alternating start/end: no run began before the previous one ended
    complete = marks[: len(marks) - len(marks) % 2]
    assert [m[0] for m in complete] == ["start", "end"] * (len(complete) // 2)
    times = [float(m[1]) for m in complete]
    assert times == sorted(times)


def test_a_shutdown_during_the_before_jobs_starts_nothing(tmp_path: Path) -> None:
    spec = JobSpec("long", [PY, "-c", "import time; time.sleep(30)"], phase=JobPhase.BEFORE, timeout=60)
    jobs = _jobs(tmp_path, [spec])

    async def scenario() -> bool:
        done = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, done.set)
        return await jobs.before(done)

    started = time.monotonic()
    assert asyncio.run(scenario()) is False
    assert time.monotonic() - started < 10


def test_job_specs_refuse_values_that_would_spin() -> None:
    with pytest.raises(ValueError, match="> 0"):
        JobSpec("x", ["true"], every=0)
    with pytest.raises(ValueError, match="> 0"):
        JobSpec("x", ["true"], timeout=0)
    with pytest.raises(ValueError, match="empty"):
        JobSpec("x", [])


def test_the_plan_carries_jobs_through_json() -> None:
    plan = Plan(
        root="/w",
        services=[],
        jobs=[JobSpec("a", ["x"], phase=JobPhase.BEFORE, every=60.0), JobSpec("b", ["y"], delay=2.0)],
    )
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.jobs == plan.jobs
    assert Plan.from_dict({"root": "/w", "services": []}).jobs == []


def test_the_orchestrator_runs_before_jobs_then_services_then_after_jobs(
    tmp_workspace: Path, pids: list[int]
) -> None:
    workspace, marks, stamp, service = _marking_service(tmp_workspace)
    plan = Plan(
        root=str(tmp_workspace),
        services=[service],
        jobs=[
            JobSpec(
                "check", [PY, "-c", stamp.format("before") + "; time.sleep(0.5)"], JobPhase.BEFORE, timeout=30
            ),
            JobSpec("missing", [str(tmp_workspace / "not-installed")], JobPhase.BEFORE, timeout=30),
            JobSpec("verify", [PY, "-c", stamp.format("after")], JobPhase.AFTER, timeout=30),
        ],
    )
    daemon = _start_orchestrator(workspace, plan, pids)
    wait_until(lambda: marks.exists() and "after" in marks.read_text(), timeout=30, what="the after job")
    order = [line.split()[0] for line in marks.read_text().splitlines()]
    assert order == ["before", "service", "after"]

    def finished_jobs() -> list[tuple[str, str]] | None:
        events = _events(workspace.orchestrator_log)
        done = [
            (e["target"], e["status"]) for e in events if e["action"] == "job" and e["status"] != "attempting"
        ]
        return done if len(done) == 3 else None  # the after job's exit is logged a moment after its mark

    # a job that cannot even start (an upgrade check not installed yet) does not stop the bring-up
    jobs = wait_until(finished_jobs, timeout=15, what="three finished jobs in the log")
    assert jobs == [("check", "success"), ("missing", "failure"), ("verify", "success")]
    daemon.terminate()
    assert daemon.wait(timeout=30) == 0


def test_after_jobs_run_even_when_the_services_never_get_ready(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    spec = JobSpec("fix", [PY, "-c", f"open({str(marker)!r}, 'w').write('x')"], JobPhase.AFTER, timeout=30)
    jobs = _jobs(tmp_path, [spec])

    async def never() -> bool:
        await asyncio.sleep(3600)
        return True

    async def scenario() -> None:
        jobs.after(never, patience=0.3)
        for _ in range(200):
            if spec.name in jobs.last:
                break
            await asyncio.sleep(0.05)
        await jobs.close()

    asyncio.run(scenario())
    assert marker.exists()
    events = _events(tmp_path / "events.jsonl")
    assert any(e["action"] == "jobs" and e["status"] == "degraded" for e in events)


def test_a_reloaded_plan_reschedules_only_changed_periodic_jobs(tmp_path: Path) -> None:
    quick = JobSpec("quick", [PY, "-c", "pass"], JobPhase.AFTER, every=3600.0, timeout=30)
    jobs = _jobs(tmp_path, [quick])

    async def scenario() -> tuple[bool, bool, set[str]]:
        jobs.replace([quick])  # before the start: nothing is scheduled by a reload
        empty_before = not jobs._loops
        jobs.after(lambda: asyncio.sleep(0, True), patience=5)
        await asyncio.sleep(0.1)
        first = jobs._loops["quick"][1]
        jobs.replace([quick])  # unchanged: the same loop keeps running
        kept = jobs._loops["quick"][1] is first and not first.done()
        changed = JobSpec("quick", [PY, "-c", "pass"], JobPhase.AFTER, every=60.0, timeout=30)
        jobs.replace([changed, JobSpec("new", [PY, "-c", "pass"], every=60.0)])
        names = set(jobs._loops)
        replaced = jobs._loops["quick"][1] is not first
        await jobs.close()
        return empty_before, kept and replaced, names

    empty_before, kept, names = asyncio.run(scenario())
    assert empty_before and kept and names == {"quick", "new"}


def test_up_during_the_before_jobs_starts_nothing_until_they_end(
    tmp_workspace: Path, pids: list[int]
) -> None:
    """`up` sends a reload while the upgrade check may still be installing: the plan is kept, applied once
    the `before` jobs end, and `up` waits for that instead of calling an empty service list settled."""
    workspace, marks, stamp, service = _marking_service(tmp_workspace)
    slow = JobSpec(
        "check",
        [PY, "-c", "import time; time.sleep(2); " + stamp.format("check")],
        JobPhase.BEFORE,
        timeout=30,
    )
    plan = Plan(root=str(tmp_workspace), services=[service], jobs=[slow])
    daemon = _start_orchestrator(workspace, plan, pids)
    wait_until(workspace.control_file.exists, timeout=15, what="the control file")
    outcome = launcher.up(workspace, plan, timeout=30)
    assert outcome.ok
    running = outcome.status.service("svc")
    assert running is not None and running.pid is not None
    pids.append(running.pid)
    ended = [
        e for e in _events(workspace.orchestrator_log) if e["action"] == "job" and e["status"] == "success"
    ]
    assert ended, "up returned before the before-job ended"
    assert [line.split()[0] for line in marks.read_text().splitlines()] == ["check", "service"]
    daemon.terminate()
    assert daemon.wait(timeout=30) == 0
