"""Idle CPU of the whole default stack beside supervisord and PM2 (issue 9, point 8).

What it measures
    autonomic: a fresh workspace (`autonomic init`, the queue and the monitor on free loopback ports,
    nothing else changed), started the way users do (`python -m autonomic up -w DIR`). Once
    `autonomic status --json` shows every service running, the stack is left alone `--settle` seconds,
    then measured over `--duration` seconds: every process of the stack (the orchestrator and all its
    descendants: queue, worker, monitor, watchdog and anything else it started) gets its CPU time
    (user + system: psutil, and the threads' run time in ns), its wake-ups (voluntary context switches summed over all its threads,
    from /proc/PID/task/*/status) and its mean RSS (sampled once a second). CPU of children that
    exited and were reaped inside the window (the orchestrator's jobs: the overdue-backup check 60 s
    after start and hourly, the upgrade check every 5 min in a git workspace) is a row of its own.
    Sums: "core stack" (orchestrator + queue + worker, what the issue bounds), "all stack processes"
    and "whole default stack (with jobs)". Jobs are rare events: a 60 s window either catches one or
    not, so read that row as "did a job run", and their cost per run beside their interval. A fresh
    workspace is not a git repository, so it has no upgrade jobs; `--git` makes it one (with
    `--duration 300` the window then holds one upgrade check).

    Peers, in the same run: supervisord and PM2, each supervising as many idle programs as autonomic
    runs services (`python idle_sleeper.py`, which only waits in signal.pause()), with their default
    settings (supervisord nodaemon=true, startsecs=1; PM2 fork mode, own PM2_HOME). Only the daemon is
    measured (supervisord; PM2's God daemon); the sleepers are counted for no one.

    All three are measured concurrently, in one and the same window (idle daemons do not compete for
    the 2 CPUs; it halves the wall time and any load on the machine hits all alike). The benchmark
    itself wakes once a second to sample RSS; that is not counted for anyone.

The one command
    .venv/bin/python benchmarks/idle.py [--duration 60] [--settle 20] [--git]  (about 1.5 minutes)

    Files: idle.py (the autonomic side, the table, the run), idle_peers.py (supervisord and PM2 with N
    sleepers), idle_window.py (the measuring window).

    supervisor and pm2 are the benchmark-only peers of benchmarks/mttr.py, installed if missing by
    mttr_peers.ensure_installed (pip into this venv, npm into benchmarks/.peers). Everything started is
    stopped at the end, on Ctrl-C and on error too: `autonomic down`, the peers' own shutdown, then
    SIGKILL by pid (checked against its start time) for anything of ours still alive.

How to read it
    CPU % and "ms CPU" are of one core over the window, from the threads' scheduler run time
    (/proc/PID/task/*/schedstat, ns) since idle daemons use less than psutil's 10 ms clock-tick steps
    show ("ticks": psutil's user + system, kept beside it; the tick figure is used for a process one of
    whose threads ended in the window). "x sup" and "x pm2" are a row's CPU over the peer daemon's.
    PASS/MISS is the issue's bound: the core stack <= 0.3 % of a core. Results also go to
    benchmarks/results/idle-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from idle_peers import IdlePM2, IdleSupervisord, Pid, wait_peer
from idle_window import Watch, job_runs, log_size, measure, stack_pids
from mttr import versions
from mttr_peers import PYTHON, PeerError, ensure_installed, free_port

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BOUND = 0.3  # % of one core, issue 9 point 8
CORE = ("orchestrator", "queue", "worker")


# --- autonomic, driven through its CLI ---------------------------------------------------------------
def cli(workspace: Path, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    where = [str(workspace)] if args[0] == "init" else ["-w", str(workspace)]
    try:
        return subprocess.run(
            [PYTHON, "-m", "autonomic", *args, *where],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"autonomic {args[0]} did not finish within {timeout:g}s") from exc


def git(workspace: Path, *args: str) -> None:
    who = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    try:
        subprocess.run(
            ["git", "-C", str(workspace), *who, *args], check=True, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerError(f"git {args[0]} in {workspace}: {exc}") from exc


def make_workspace(workspace: Path, with_git: bool) -> None:
    """`autonomic init`, then a free port for every `port = N` of an active section, and for the monitor;
    with `with_git`, the workspace is a repository with one commit, as a user's project usually is."""
    workspace.mkdir(parents=True)
    if with_git:
        git(workspace, "init", "-q")
    done = cli(workspace, "init")
    if done.returncode != 0:
        raise PeerError(f"autonomic init failed: {(done.stderr or done.stdout).strip()}")
    toml = workspace / "autonomic.toml"
    lines, section, ported = toml.read_text(encoding="utf-8").splitlines(), "", set()
    monitor_at = None
    for i, line in enumerate(lines):
        stripped = line.split("#")[0].strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.strip("[]").strip()
            monitor_at = i if section == "monitor" else monitor_at
        elif stripped.replace(" ", "").startswith("port=") and section:
            lines[i] = f"port = {free_port()}"
            ported.add(section)
    if "monitor" not in ported:  # its port (8092) is commented out in the template: set ours
        at = len(lines) if monitor_at is None else monitor_at + 1
        lines[at:at] = (
            [f"port = {free_port()}"]
            if monitor_at is not None
            else ["", "[monitor]", f"port = {free_port()}"]
        )
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if with_git:
        git(workspace, "add", "-A")
        git(workspace, "commit", "-q", "-m", "workspace")


def status(workspace: Path) -> dict[str, Any]:
    done = cli(workspace, "status", "--json", timeout=60)
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        return {}


def wait_all_running(workspace: Path, timeout: float) -> dict[str, int]:
    """Every service's pid (and the orchestrator's) once status shows all of them running."""
    deadline, last = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        last = status(workspace)
        services = last.get("services", [])
        orchestrator = last.get("orchestrator") or {}
        if services and all(s.get("state") == "running" and s.get("pid") for s in services):
            pids = {s["name"]: int(s["pid"]) for s in services}
            return {"orchestrator": int(orchestrator["pid"]), **pids}
        time.sleep(1.0)
    shown = ", ".join(f"{s.get('name')}={s.get('state')}" for s in last.get("services", []))
    raise PeerError(f"autonomic: not every service running after {timeout:g}s ({shown or 'no status'})")


# --- reporting --------------------------------------------------------------------------------------
def summed(name: str, rows: list[dict[str, Any]], wall: float, extra_ms: float = 0.0) -> dict[str, Any]:
    def total(key: str) -> float | None:
        values = [r[key] for r in rows]
        return None if not rows or None in values else float(sum(values))

    cpu, ticks = total("cpu_ms"), total("tick_ms")
    return {
        "system": "autonomic",
        "name": name,
        "pid": None,
        "cpu_ms": None if cpu is None else cpu + extra_ms,
        "tick_ms": None if ticks is None else ticks + extra_ms,
        "wakeups": total("wakeups"),
        "rss_mb": total("rss_mb"),
        "seconds": wall,
    }


def table(rows: list[dict[str, Any]], wall: float) -> list[dict[str, Any]]:
    """Each autonomic process, the reaped children, the two sums, then the peers' daemons; with ratios."""
    stack = [r for r in rows if r["system"] == "autonomic"]
    peers = {r["system"]: r for r in rows if r["system"] != "autonomic"}
    reaped = sum(r["reaped_children_ms"] or 0.0 for r in stack)
    core = [r for r in stack if r["name"] in CORE]
    out = [*stack]
    out.append({**summed("reaped children (jobs)", [], wall), "cpu_ms": reaped, "tick_ms": reaped})
    out.append(summed("core stack (orchestrator+queue+worker)", core, wall))
    out.append(summed("all stack processes (no jobs)", stack, wall))
    out.append(summed("whole default stack (with jobs)", stack, wall, reaped))
    out += list(peers.values())
    for row in out:
        cpu = row["cpu_ms"]
        row["cpu_percent"] = None if cpu is None else cpu / (wall * 1000) * 100
        row["wakeups_per_s"] = None if row.get("wakeups") is None else row["wakeups"] / wall
        for peer, key in (("supervisord", "x_supervisord"), ("pm2", "x_pm2")):
            base = peers.get(peer, {}).get("cpu_ms")
            mine = cpu if row["system"] == "autonomic" else None
            row[key] = None if mine is None or not base else mine / base
    return out


def fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def print_table(rows: list[dict[str, Any]], wall: float, programs: int) -> None:
    print(f"\nIdle over {wall:.1f} s, measured in one window ({programs} services / idle programs each)")
    head = f"{'system':50} {'CPU %':>7} {'ms CPU':>8} {'ticks':>6} {'wake/s':>7} {'RSS MB':>8} {'x sup':>7} {'x pm2':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        label = f"autonomic {r['name']}" if r["system"] == "autonomic" else r["name"]
        if r["pid"]:
            label += f" ({r['pid']})"
        print(
            f"{label:50} {fmt(r['cpu_percent'], 3):>7} {fmt(r['cpu_ms'], 1):>8} {fmt(r['tick_ms'], 0):>6} "
            f"{fmt(r['wakeups_per_s'], 1):>7} {fmt(r['rss_mb'], 1):>8} "
            f"{fmt(r['x_supervisord'], 1, 'x'):>7} {fmt(r['x_pm2'], 1, 'x'):>7}"
        )


# --- the run ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured (default 60)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds left alone first (default 20)")
    parser.add_argument(
        "--git", action="store_true", help="make the workspace a git repository (adds the upgrade-check jobs)"
    )
    parser.add_argument("--no-install", action="store_true", help="do not install missing peers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not args.duration > 0 or args.duration > 86400:
        parser.error("--duration must be > 0 and at most a day")
    if not 0 <= args.settle <= 3600:
        parser.error("--settle must be between 0 and 3600")
    return args


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    began = datetime.now().astimezone()
    root = Path(tempfile.mkdtemp(prefix="autonomic-idle-"))
    workspace = root / "workspace"
    print(f"Idle benchmark: settle {args.settle:g}s, window {args.duration:g}s; in {root}")
    peers: list[IdleSupervisord | IdlePM2] = []
    stack: set[Pid] = set()
    rows: list[dict[str, Any]] = []
    transient: list[str] = []
    jobs: list[str] = []
    warnings: list[str] = []
    failed: str | None = None
    wall, programs = 0.0, 0
    try:
        if not args.no_install:
            ensure_installed()
        make_workspace(workspace, args.git)
        t0 = time.monotonic()
        done = cli(workspace, "up", "--timeout", "120", timeout=240)
        stack |= stack_pids(workspace)
        if done.returncode != 0:
            raise PeerError(
                f"autonomic up exited {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}"
            )
        pids = wait_all_running(workspace, 60.0)
        stack |= stack_pids(workspace)
        programs = len(pids) - 1
        print(f"  autonomic up: {', '.join(pids)} running in {time.monotonic() - t0:.1f}s")
        peers = [IdleSupervisord(root, programs), IdlePM2(root, programs)]
        for peer in peers:
            peer.start()
            wait_peer(peer, 30.0)
            print(f"  {peer.name}: daemon {peer.daemon_pid()}, {programs} idle programs running")
        print(f"  settling {args.settle:g}s ...")
        time.sleep(args.settle)
        pids = wait_all_running(workspace, 10.0)
        labels = {pid: name for name, pid in pids.items()}
        watches = []
        for pid in sorted(stack_pids(workspace), key=lambda p: p.pid):
            stack.add(pid)
            proc = psutil.Process(pid.pid)
            label = labels.get(pid.pid) or "other: " + " ".join(proc.cmdline())[-60:]
            watches.append(Watch("autonomic", label, proc))
        watches += [Watch(p.name, f"{p.name} daemon", psutil.Process(p.daemon_pid() or 0)) for p in peers]
        print(f"  measuring {len(watches)} processes for {args.duration:g}s ...")
        offset = log_size(workspace)
        wall, transient = measure(watches, args.duration, workspace)
        jobs = job_runs(workspace, offset)
        after = wait_all_running(workspace, 10.0)
        warnings += [
            f"{n}: pid {pids[n]} -> {p} during the window" for n, p in after.items() if pids.get(n) != p
        ]
        warnings += [f"{w.label}: gone during the window" for w in watches if w.lost]
        warnings += [f"a process of the stack seen starting in the window: {t}" for t in transient]
        rows = table([w.row(wall) for w in watches], wall)
    except KeyboardInterrupt:
        failed = "interrupted"
        print("\ninterrupted: stopping everything")
    except PeerError as exc:
        failed = str(exc)
        print(f"\nerror: {exc}")
    except Exception as exc:  # still stop everything and write what was measured
        failed = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        stack |= stack_pids(workspace)
        with contextlib.suppress(Exception):
            cli(workspace, "down", timeout=120)
        deadline = time.monotonic() + 15.0  # `down` may return while the last exits are reaped
        while any(p.alive() for p in stack) and time.monotonic() < deadline:
            time.sleep(0.2)
        warnings += [f"autonomic: pid {p.pid} survived `down` by 15s; SIGKILLed" for p in stack if p.kill()]
        for peer in peers:
            try:
                warnings += peer.stop()
            except Exception as exc:
                warnings.append(f"{peer.name}: stop failed: {exc}")
                for pid in peer.sleepers.seen:
                    pid.kill()
        if not args.keep and failed is None:
            shutil.rmtree(root, ignore_errors=True)
    return report(args, rows, wall, programs, peers, transient, jobs, warnings, failed, began, root)


def report(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    wall: float,
    programs: int,
    peers: list[IdleSupervisord | IdlePM2],
    transient: list[str],
    jobs: list[str],
    warnings: list[str],
    failed: str | None,
    began: datetime,
    root: Path,
) -> int:
    checks: list[dict[str, Any]] = []
    if rows:
        print_table(rows, wall, programs)
        core = next(r for r in rows if r["name"].startswith("core stack"))
        ok = core["cpu_percent"] is not None and core["cpu_percent"] <= BOUND
        text = f"core stack idle CPU {fmt(core['cpu_percent'], 3)} % of a core <= {BOUND} %"
        checks.append({"check": text, "pass": ok})
        print(f"\n{'PASS' if ok else 'MISS'}: {text} (issue 9, point 8)")
        print(f"jobs the orchestrator ran in the window: {', '.join(jobs) or 'none'}")
    for warning in warnings:
        print(f"  ! {warning}")
    if failed:
        print(f"\nThe run did not complete: {failed}; its temporary folder is kept: {root}")
    if not rows:  # nothing was measured: no results file
        return 1
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"idle-{began.strftime('%Y%m%d-%H%M%S')}.json"
    data = {
        "started": began.isoformat(timespec="seconds"),
        "settings": {**vars(args), "mode": "concurrent: autonomic and both peers in one window"},
        "versions": versions(),
        "window_s": round(wall, 2),
        "programs": programs,
        "peers": {p.name: {"note": p.note} for p in peers},
        "rows": rows,
        "transient": transient,
        "jobs": jobs,
        "checks": checks,
        "warnings": warnings,
        "failed": failed,
    }
    out.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")
    return 1 if failed or not all(c["pass"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
