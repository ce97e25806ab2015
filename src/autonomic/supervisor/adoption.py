"""What an orchestrator finds already running when it takes over a workspace, and what it does with it:
adopt the one live, unchanged process of each service, stop every other copy.

Two sources, so that neither a crash nor damaged files can lead to a duplicate: the process records under
`.autonomic/pids/` (pid + create time + config hash) and the process table (each service process
carries its workspace, name and config hash in its environment, see `markers`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from autonomic.platform import Platform
from autonomic.supervisor import markers
from autonomic.supervisor import record as records
from autonomic.supervisor.markers import Found
from autonomic.supervisor.process import ManagedProcess
from autonomic.supervisor.record import ProcessRecord


@dataclass
class Survey:
    """Records on disk (usable and damaged) and the live marked processes, by service."""

    records: dict[str, ProcessRecord]
    damaged: dict[str, str]
    marked: dict[str, list[Found]] = field(default_factory=dict)


@dataclass
class Placement:
    """For one service: the process to adopt (if any), the copies to stop, and what to tell."""

    adopt: ProcessRecord | ManagedProcess | None = None
    stop: list[ManagedProcess] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def survey(records_dir: Path, root: Path) -> Survey:
    scanned = records.scan(records_dir)
    marked: dict[str, list[Found]] = {}
    for found in await asyncio.to_thread(markers.find_services, root):
        marked.setdefault(found.service, []).append(found)
    return Survey(scanned.found, scanned.damaged, marked)


def place(name: str, spec_hash: str, survey: Survey, platform: Platform, busy: set[int]) -> Placement:
    """Decide for the service `name` (config hash `spec_hash`). `busy` are pids already supervised."""
    placement = Placement()
    rec = survey.records.get(name)
    marked = [f for f in survey.marked.get(name, []) if f.pid not in busy]
    if name in survey.damaged:
        placement.notes.append(f"process record {survey.damaged[name]} (damaged)")
    if rec is not None and rec.pid not in busy and rec.is_live():
        if rec.spec_hash == spec_hash:
            placement.adopt = rec
        else:
            placement.stop.append(ManagedProcess.adopt(rec, platform))
            placement.notes.append(f"pid {rec.pid} runs an older config: stopped")
    elif rec is not None:
        placement.notes.append(f"pid {rec.pid} of the record is gone")
    kept = rec.pid if placement.adopt is not None and rec is not None else None
    for found in marked:
        if found.pid == kept or any(p.pid == found.pid for p in placement.stop):
            continue
        if placement.adopt is None and found.spec_hash == spec_hash:
            placement.adopt = ManagedProcess.adopt_found(found, platform)
            placement.notes.append(f"found {found.describe()} by its mark: adopted")
            continue
        placement.stop.append(ManagedProcess.adopt_found(found, platform))
        why = "a second copy" if found.spec_hash == spec_hash else "an older config"
        placement.notes.append(f"found {found.describe()} by its mark, {why}: stopped")
    return placement


def strays(
    survey: Survey, wanted: set[str], platform: Platform, busy: set[int]
) -> dict[str, list[ManagedProcess]]:
    """Live processes (recorded or marked) of services no longer in the plan, by service."""
    result: dict[str, list[ManagedProcess]] = {}
    for name, rec in survey.records.items():
        if name not in wanted and rec.pid not in busy and rec.is_live():
            result.setdefault(name, []).append(ManagedProcess.adopt(rec, platform))
    for name, found_list in survey.marked.items():
        if name in wanted:
            continue
        for found in found_list:
            if found.pid not in busy and all(p.pid != found.pid for p in result.get(name, [])):
                result.setdefault(name, []).append(ManagedProcess.adopt_found(found, platform))
    return result
