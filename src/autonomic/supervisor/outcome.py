"""How a run of a service ended, said for people: an exit code, a hang, a probe that never passed, or a
port that someone else holds (the case a probe alone would take for success)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from autonomic.platform import ports
from autonomic.probes.spec import ProbeKind, ProbeSpec
from autonomic.supervisor import logfile, markers


class Ending(StrEnum):
    EXITED = "exited"  # the process ended by itself
    HUNG = "hung"  # the probe failed `failures` times in a row
    NOT_READY = "not ready"  # the probe never passed within `ready_timeout`
    NO_START = "no-start"  # the command could not be started


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    detail: str
    exit_code: int | None = None
    blocked: str | None = None  # a cause that retrying will not cure (the port is someone else's)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exited with code {code}"


def local_port(spec: ProbeSpec | None) -> int | None:
    """The port an http/tcp probe checks on this machine, or None (no probe, or another host)."""
    if spec is None or spec.kind not in (ProbeKind.HTTP, ProbeKind.TCP):
        return None
    target = str(spec.target)
    try:
        if spec.kind is ProbeKind.HTTP:
            parts = urlsplit(target)
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        else:
            host, _, raw = target.rpartition(":")
            host, port = host.strip("[]"), int(raw)
    except ValueError:
        return None
    return port if host in ports.LOCAL_HOSTS else None


def _tree(pid: int) -> list[int]:
    with contextlib.suppress(psutil.Error):
        return [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    return [pid]


def foreign_listener(port: int, pid: int) -> str | None:
    """When `port` is listened on, but not by process `pid` or its descendants: who holds it."""
    if ports.listens(_tree(pid), port):
        return None
    holder = ports.holder(port)
    if holder is None:
        return None if not ports.in_use("127.0.0.1", port) else ports.describe_holder(port)
    return markers.describe_pid(holder)


def diagnose(outcome: Outcome, port: int | None) -> Outcome:
    """A process that exited while its port is held by another process: say so, with who holds it.
    (The cheap bind test first: the scan of every process's sockets only when the port is taken.)"""
    if outcome.ending is not Ending.EXITED or port is None:
        return outcome
    if outcome.exit_code is not None and outcome.exit_code < 0:
        return outcome  # killed by a signal: not a failed bind (and the restart path stays cheap)
    if not ports.in_use("127.0.0.1", port):
        return outcome
    blocked = f"exits at once: address already in use; {ports.describe_holder(port)}"
    return replace(outcome, detail=f"{outcome.detail}: {blocked}", blocked=blocked)


def with_last_words(found: Outcome, log: Path) -> Outcome:
    """A process that failed by itself usually said why on its way out (a damaged database, a bad import):
    its log's last line goes into the detail `status` shows."""
    if found.ending is not Ending.EXITED or not found.exit_code or found.exit_code < 0 or found.blocked:
        return found
    last = next((line.strip() for line in reversed(logfile.tail(log, 5)) if line.strip()), "")
    return replace(found, detail=f"{found.detail}: {last[:300]}") if last else found
