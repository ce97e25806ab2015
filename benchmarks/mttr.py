"""MTTR and idle footprint of autonomic beside supervisord, PM2 and a bare bash restart loop.

What it measures
    1. MTTR (mean time to recovery): one trivial HTTP service (benchmarks/mttr_server.py, standard
       library, 200 on /health) is kept alive by each supervisor, on its own free port on 127.0.0.1.
       In one run, each service is SIGKILLed `--kills` times, the supervisors taking turns (round robin,
       so drift in the machine's load hits all alike). The pid killed is the one the supervisor's own
       tool reports (autonomic status --json, supervisorctl pid, pm2 jlist, the bash loop's child) and
       it is checked against the pid the service itself reports. The time is from just before
       os.kill(pid, SIGKILL) to the first 200 on /health from a *new* process (the port is polled every
       `--poll-ms`, with a short connect timeout). Every kill happens after the service has been healthy
       for `--spacing` seconds (default 1.5 s): autonomic restarts at once only the first failure after a
       stable run (its backoff.reset_after, set to 1 s here; the default is 10 s) and backs off on quick
       repeats, and PM2 counts a restart within min_uptime (1 s) as unstable; the same spacing is used
       for every peer so that the comparison is fair.
    2. Idle footprint: with every service up, the supervising daemons (autonomic's orchestrator, pid
       from .autonomic/control.json; supervisord; PM2's God daemon; and, for reference, the bash loop)
       are sampled once a second for `--idle` seconds (psutil): mean and peak RSS, USS at the end, and
       CPU% over the whole window (user + system time / wall time). autonomic probes /health every 1 s
       meanwhile (its config here); supervisord and PM2 do no health checks.

The one command
    .venv/bin/python benchmarks/mttr.py [--kills 10] [--idle 60]       (about 2.5 minutes by default)

What it installs (benchmark-only, and only if missing)
    supervisor into the current venv (pip install supervisor), and pm2 into benchmarks/.peers
    (npm install --prefix benchmarks/.peers pm2; gitignored). It needs node and npm on PATH. PM2 runs with
    its own PM2_HOME in a temporary folder and is ended with `pm2 kill`. Nothing else is downloaded.
    Everything it starts is stopped by pid at the end, on Ctrl-C and on error too.

How to read it
    The MTTR table gives median / min / max in milliseconds and each median's ratio to the bare loop's,
    which is the floor (a fork + exec with no supervisor logic at all). "to exec" is the median time from
    the kill until the new server's script began to run (so MTTR minus "to exec" is the service's own
    boot: interpreter start, imports, bind, first answer, the same for every peer). For autonomic the
    orchestrator's event log (outputs/master_orchestrator_log.jsonl) gives a breakdown too: when the exit
    was seen, when the spawn began and when the process was started. The PASS/FAIL lines are the
    "Done when" targets of issue 2: autonomic's MTTR median <= 1.1x the bare loop's and <= PM2's, in the
    same run; autonomic's idle orchestrator RSS <= 30 MB. Results also go to
    benchmarks/results/mttr-<timestamp>.json. The machine's process count is printed because a
    supervisor that scans /proc on the restart path slows down with it; `--background-procs 600`
    reproduces a busy desktop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mttr_peers import (
    PM2,
    PM2_JS,
    Autonomic,
    BareLoop,
    Peer,
    PeerError,
    Supervisord,
    ensure_installed,
    kill_pid,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PEER_NAMES = ("autonomic", "supervisord", "pm2", "bare")
MB = 1024 * 1024


# --- probing the service -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    pid: int
    started: float  # wall-clock time at which the server's script began


def probe(port: int, connect_timeout: float = 0.05, read_timeout: float = 1.0) -> Answer | None:
    """One GET /health; the answering process's pid and start time on a 200, else None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(read_timeout)
        sock.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    except OSError:
        return None
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
        return None
    try:
        pid, started = body.decode().split()
        return Answer(int(pid), float(started))
    except ValueError:
        return None


def wait_healthy(port: int, timeout: float, not_pid: int | None = None, poll: float = 0.003) -> Answer | None:
    """Poll until a 200 comes from a process other than `not_pid`; None after `timeout` seconds."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        answer = probe(port)
        if answer is not None and answer.pid != not_pid:
            return answer
        time.sleep(poll)
    return None


# --- the MTTR phase ------------------------------------------------------------------------------------
@dataclass
class Kill:
    round: int
    pid: int
    reported_pid: int | None
    killed_at: float  # wall clock
    mttr_ms: float | None
    to_exec_ms: float | None
    new_pid: int | None


@dataclass
class PeerRun:
    peer: Peer
    ready_at: float = 0.0
    kills: list[Kill] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def kill_once(run: PeerRun, round_no: int, spacing: float, timeout: float, poll: float) -> None:
    peer = run.peer
    reported = peer.service_pid()  # the supervisor's own word (off the clock)
    current = probe(peer.port)
    if current is None:
        current = wait_healthy(peer.port, timeout)
        if current is None:
            raise PeerError(f"{peer.name}: the service is not answering before kill {round_no}")
    if reported != current.pid:
        run.warnings.append(
            f"round {round_no}: {peer.name} reported pid {reported} but pid {current.pid} answers /health"
        )
    pid = current.pid if reported is None else reported
    pause = run.ready_at + spacing - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    killed_at = time.time()
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    answer = wait_healthy(peer.port, timeout, not_pid=pid, poll=poll)
    t1 = time.perf_counter()
    run.ready_at = time.monotonic()
    if answer is None:
        run.warnings.append(f"round {round_no}: {peer.name} did not recover within {timeout:g}s")
        run.kills.append(Kill(round_no, pid, reported, killed_at, None, None, None))
        return
    run.kills.append(
        Kill(
            round_no,
            pid,
            reported,
            killed_at,
            round((t1 - t0) * 1000, 2),
            round((answer.started - killed_at) * 1000, 2),
            answer.pid,
        )
    )


def summarize(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "mean": None}
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


# --- autonomic's own account of each restart -----------------------------------------------------------
def autonomic_breakdown(event_log: Path, kills: list[Kill]) -> list[dict[str, Any]]:
    """For each kill, the times (ms after it) of the orchestrator's events for service "web"."""
    events: list[tuple[float, str, str]] = []
    with contextlib.suppress(OSError):
        for line in event_log.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                event = json.loads(line)
                if event.get("target") == "web":
                    at = datetime.fromisoformat(event["timestamp"]).timestamp()
                    events.append((at, str(event.get("action")), str(event.get("status"))))
    wanted = {
        "exit_seen_ms": ("state", "backoff"),
        "spawn_begins_ms": ("restart", "attempting"),
        "spawned_ms": ("state", "starting"),
        "probe_ok_ms": ("restart", "success"),
    }
    rows = []
    for kill in kills:
        row: dict[str, Any] = {"round": kill.round}
        for key, (action, status) in wanted.items():
            # the log has millisecond timestamps: allow 1 ms of rounding before the kill
            hit = next(
                (t for t, a, s in events if a == action and s == status and t >= kill.killed_at - 0.001),
                None,
            )
            row[key] = None if hit is None else round((hit - kill.killed_at) * 1000, 1)
        rows.append(row)
    return rows


def supervisord_breakdown(log_path: Path, kills: list[Kill]) -> list[dict[str, Any]]:
    """For each kill, when supervisord logged the exit and the new spawn (ms after the kill)."""
    events: list[tuple[float, str]] = []
    with contextlib.suppress(OSError):
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \w+ (exited|spawned): '?web", line)
            if match:
                at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
                events.append((at + int(match.group(2)) / 1000, match.group(3)))
    rows = []
    for kill in kills:
        row: dict[str, Any] = {"round": kill.round}
        for key, kind in (("exit_logged_ms", "exited"), ("spawned_ms", "spawned")):
            hit = next((t for t, k in events if k == kind and t >= kill.killed_at - 0.001), None)
            row[key] = None if hit is None else round((hit - kill.killed_at) * 1000, 1)
        rows.append(row)
    return rows


# --- the idle phase ------------------------------------------------------------------------------------
def sample_idle(daemons: dict[str, int], seconds: float) -> dict[str, dict[str, Any]]:
    """RSS once a second and CPU% over the window, for every daemon at once."""
    procs: dict[str, psutil.Process] = {}
    cpu0: dict[str, float] = {}
    rss: dict[str, list[int]] = {}
    for name, pid in daemons.items():
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            times = proc.cpu_times()
            procs[name], cpu0[name], rss[name] = proc, times.user + times.system, []
    start = time.monotonic()
    next_tick = start
    while True:
        for name, proc in procs.items():
            with contextlib.suppress(psutil.Error):
                rss[name].append(proc.memory_info().rss)
        next_tick += 1.0
        if next_tick - start > seconds + 1e-6:
            break
        time.sleep(max(0.0, next_tick - time.monotonic()))
    wall = time.monotonic() - start
    out: dict[str, dict[str, Any]] = {}
    for name, proc in procs.items():
        try:
            times = proc.cpu_times()
            cpu = (times.user + times.system - cpu0[name]) / wall * 100 if wall > 0 else 0.0
            uss: float | None = proc.memory_full_info().uss / MB
        except psutil.Error:
            cpu, uss = float("nan"), None
        samples = rss[name]
        out[name] = {
            "pid": proc.pid,
            "samples": len(samples),
            "rss_mean_mb": round(statistics.fmean(samples) / MB, 2) if samples else None,
            "rss_max_mb": round(max(samples) / MB, 2) if samples else None,
            "uss_end_mb": None if uss is None else round(uss, 2),
            "cpu_percent": round(cpu, 3),
            "seconds": round(wall, 1),
        }
    return out


# --- reporting -----------------------------------------------------------------------------------------
def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("autonomic", "supervisor", "psutil"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    with contextlib.suppress(OSError, ValueError, KeyError):
        found["pm2"] = json.loads((PM2_JS.parent.parent / "package.json").read_text())["version"]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    found["cpus"] = str(os.cpu_count())
    return found


def build_peers(root: Path, wanted: list[str], supervisord_startsecs: int) -> list[Peer]:
    made: list[Peer] = []
    for name in wanted:
        if name == "autonomic":
            made.append(Autonomic(root))
        elif name == "supervisord":
            made.append(Supervisord(root, startsecs=supervisord_startsecs))
        elif name == "pm2":
            made.append(PM2(root))
        elif name == "bare":
            made.append(BareLoop(root))
    return made


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per supervisor (default 10)")
    parser.add_argument(
        "--idle", type=float, default=60.0, help="idle sampling seconds (default 60; 0 skips)"
    )
    parser.add_argument("--spacing", type=float, default=1.5, help="healthy seconds before each kill (1.5)")
    parser.add_argument("--poll-ms", type=float, default=3.0, help="pause between /health polls (3 ms)")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on one recovery after this")
    parser.add_argument(
        "--peers", default=",".join(PEER_NAMES), help=f"comma list from {','.join(PEER_NAMES)} (all)"
    )
    parser.add_argument("--supervisord-startsecs", type=int, default=0, help="startsecs for supervisord (0)")
    parser.add_argument(
        "--background-procs",
        type=int,
        default=0,
        help="start N idle `sleep` processes for the run, as on a busy desktop (0)",
    )
    parser.add_argument("--no-install", action="store_true", help="do not install missing peers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (workspaces, logs)")
    args = parser.parse_args(argv)
    args.peer_list = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(args.peer_list) - set(PEER_NAMES)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    return args


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if not args.no_install:
        ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="autonomic-mttr-"))
    began = datetime.now().astimezone()
    print(
        f"MTTR benchmark: {args.kills} kills each, spacing {args.spacing:g}s, idle {args.idle:g}s; in {root}"
    )
    peers = build_peers(root, args.peer_list, args.supervisord_startsecs)
    runs = [PeerRun(p) for p in peers]
    idle: dict[str, dict[str, Any]] = {}
    leftovers: list[str] = []
    breakdowns: dict[str, list[dict[str, Any]]] = {}
    idle_restarts: dict[str, str] = {}
    failed: str | None = None
    background: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(max(0, args.background_procs)):
            background.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL))
        args.machine_processes = len(psutil.pids())
        print(f"  {args.machine_processes} processes on this machine, {os.cpu_count()} CPUs")
        for run in runs:
            t0 = time.perf_counter()
            run.peer.start()
            answer = wait_healthy(run.peer.port, args.timeout)
            if answer is None:
                raise PeerError(f"{run.peer.name}: the service never answered /health on :{run.peer.port}")
            run.ready_at = time.monotonic()
            print(
                f"  {run.peer.name:<12} up on :{run.peer.port} (pid {answer.pid}) in {time.perf_counter() - t0:.2f}s"
            )
        for round_no in range(1, args.kills + 1):
            for run in runs:
                kill_once(run, round_no, args.spacing, args.timeout, args.poll_ms / 1000)
            line = "  ".join(f"{r.peer.name} {fmt(r.kills[-1].mttr_ms, 'ms', 0)}" for r in runs)
            print(f"  round {round_no:>2}/{args.kills}: {line}")
        for run in runs:
            reported = None
            with contextlib.suppress(PeerError, ValueError):
                reported = run.peer.reported_restarts()
            if reported is not None and reported != len(run.kills):
                run.warnings.append(
                    f"{run.peer.name} reports {reported} restarts after {len(run.kills)} kills"
                )
        if args.idle > 0:
            time.sleep(2.0)  # let the last restart settle
            daemons = {r.peer.name: pid for r in runs if (pid := r.peer.daemon_pid())}
            before = {r.peer.name: probe(r.peer.port) for r in runs}
            print(f"  sampling idle daemons for {args.idle:g}s ...")
            idle = sample_idle(daemons, args.idle)
            for run in runs:
                after, was = probe(run.peer.port), before[run.peer.name]
                if was is None or after is None or after.pid != was.pid:
                    idle_restarts[run.peer.name] = f"service pid changed while idle: {was} -> {after}"
        for run in runs:
            if isinstance(run.peer, Autonomic):
                breakdowns["autonomic"] = autonomic_breakdown(run.peer.event_log, run.kills)
            elif isinstance(run.peer, Supervisord):
                breakdowns["supervisord"] = supervisord_breakdown(
                    run.peer.root / "supervisord.log", run.kills
                )
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
        for proc in background:
            proc.kill()
            proc.wait()
        for run in runs:
            try:
                leftovers += run.peer.stop()
            except Exception as exc:
                leftovers.append(f"{run.peer.name}: stop failed: {exc}")
                for pid in run.peer.seen_pids | {run.peer.daemon_pid() or 0}:
                    kill_pid(pid)
        if not args.keep and failed is None:
            shutil.rmtree(root, ignore_errors=True)
    return report(args, runs, idle, breakdowns, idle_restarts, leftovers, failed, began, root)


def report(
    args: argparse.Namespace,
    runs: list[PeerRun],
    idle: dict[str, dict[str, Any]],
    breakdowns: dict[str, list[dict[str, Any]]],
    idle_restarts: dict[str, str],
    leftovers: list[str],
    failed: str | None,
    began: datetime,
    root: Path,
) -> int:
    stats = {r.peer.name: summarize([k.mttr_ms for k in r.kills if k.mttr_ms is not None]) for r in runs}
    to_exec = {
        r.peer.name: summarize([k.to_exec_ms for k in r.kills if k.to_exec_ms is not None]) for r in runs
    }
    bare = stats.get("bare loop", {}).get("median")

    def ratio(name: str) -> float | None:
        median = stats[name]["median"]
        return None if median is None or not bare else round(median / bare, 2)

    print()
    print(
        f"MTTR: SIGKILL -> first 200 on /health from the new process ({args.kills} kills each, round robin,"
    )
    print(f"      each kill after >= {args.spacing:g}s healthy; /health polled every {args.poll_ms:g} ms;")
    print(f"      {getattr(args, 'machine_processes', '?')} processes on the machine, {os.cpu_count()} CPUs)")
    print(f"  {'supervisor':<12} {'median':>9} {'min':>9} {'max':>9} {'x bare':>7} {'to exec':>9}  n")
    for run in runs:
        s, name = stats[run.peer.name], run.peer.name
        recovered = sum(1 for k in run.kills if k.mttr_ms is not None)
        print(
            f"  {name:<12} {fmt(s['median'], ' ms'):>9} {fmt(s['min'], ' ms'):>9} {fmt(s['max'], ' ms'):>9} "
            f"{fmt(ratio(name), 'x', 2):>7} {fmt(to_exec[name]['median'], ' ms'):>9}  {recovered}/{len(run.kills)}"
        )
    print("  'to exec': median time from the kill until the new server's script began to run.")
    for run in runs:
        print(f"  - {run.peer.name}: {run.peer.note}")

    for name, rows in breakdowns.items():
        keys = [k for k in rows[0] if k != "round"] if rows else []
        medians = {k: summarize([r[k] for r in rows if r[k] is not None])["median"] for k in keys}
        print(
            f"  {name} log (median ms after the kill): "
            + ", ".join(f"{k} {fmt(v)}" for k, v in medians.items())
        )

    if idle:
        print()
        print(f"Idle footprint of the supervising process over {args.idle:g}s (service up, sampled 1/s)")
        print(f"  {'daemon':<12} {'pid':>8} {'mean RSS':>10} {'max RSS':>10} {'USS':>9} {'CPU':>8}")
        for name, row in idle.items():
            print(
                f"  {name:<12} {row['pid']:>8} {fmt(row['rss_mean_mb'], ' MB'):>10} {fmt(row['rss_max_mb'], ' MB'):>10} "
                f"{fmt(row['uss_end_mb'], ' MB'):>9} {fmt(row['cpu_percent'], ' %', 2):>8}"
            )
        print("  autonomic probes /health every 1s meanwhile; supervisord and PM2 do no health checks.")

    checks: list[tuple[str, bool | None]] = []
    auto = stats.get("autonomic", {}).get("median")
    pm2 = stats.get("pm2", {}).get("median")
    checks.append(
        (
            f"autonomic MTTR median {fmt(auto, ' ms')} <= 1.1 x bare loop {fmt(bare, ' ms')} "
            f"(= {fmt(None if bare is None else 1.1 * bare, ' ms')})",
            None if auto is None or bare is None else auto <= 1.1 * bare,
        )
    )
    checks.append(
        (
            f"autonomic MTTR median {fmt(auto, ' ms')} <= PM2 median {fmt(pm2, ' ms')}",
            None if auto is None or pm2 is None else auto <= pm2,
        )
    )
    rss = idle.get("autonomic", {}).get("rss_mean_mb")
    checks.append((f"autonomic idle RSS {fmt(rss, ' MB')} <= 30 MB", None if rss is None else rss <= 30.0))
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL' if ok is False else 'N/A '}  {text}")

    warnings = [w for r in runs for w in r.warnings] + list(idle_restarts.values()) + leftovers
    if warnings:
        print("\nNotes:")
        for warning in warnings:
            print(f"  ! {warning}")
    if failed:
        print(f"\nThe run did not complete: {failed}; its temporary folder is kept: {root}")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"mttr-{began.strftime('%Y%m%d-%H%M%S')}.json"
    data = {
        "started": began.isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k != "peer_list"},
        "versions": versions(),
        "peers": {r.peer.name: {"note": r.peer.note, "port": r.peer.port} for r in runs},
        "mttr_ms": stats,
        "to_exec_ms": to_exec,
        "ratio_to_bare": {r.peer.name: ratio(r.peer.name) for r in runs},
        "kills": {r.peer.name: [asdict(k) for k in r.kills] for r in runs},
        "log_breakdown": breakdowns,
        "idle": idle,
        "checks": [{"check": text, "pass": ok} for text, ok in checks],
        "warnings": warnings,
        "failed": failed,
    }
    out.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
