"""Entry points: run the daemon in the foreground, or build the reports once (`autonomic report`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

from autonomic import config
from autonomic.errors import AutonomicError
from autonomic.monitor.daemon import Monitor
from autonomic.workspace import Workspace


def monitor_for(workspace: Workspace) -> Monitor:
    """A `Monitor` configured from the workspace's autonomic.toml."""
    loaded = config.load(workspace)
    queue_url = loaded.queue.url if loaded.queue.enabled else None
    return Monitor(workspace, loaded.monitor, queue_url, backups_dir=loaded.backup.target(workspace.root))


def serve(workspace: Workspace) -> None:
    """Run the daemon until SIGTERM or Ctrl-C."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    monitor = monitor_for(workspace)
    workspace.ensure_dirs()
    asyncio.run(monitor.run())


def report_once(workspace: Workspace) -> tuple[dict[str, Any], list[Path]]:
    """Rebuild the reports from the sample files; return the summary and the files. If no monitor is
    sampling (its heartbeat is stale), take and store one fresh sample first; a running monitor's
    newest sample is fresh already, and one writer of the sample file at a time keeps rotation safe."""
    monitor = monitor_for(workspace)
    workspace.ensure_dirs()
    monitor.load()
    if not _sampling(workspace, 3 * monitor.settings.interval):
        monitor.step()
    return monitor.report(), monitor.files.all()


def _sampling(workspace: Workspace, max_age: float) -> bool:
    try:
        return time.time() - workspace.heartbeat_file("monitor").stat().st_mtime < max_age
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m autonomic.monitor", description="The autonomic Monitoring Daemon."
    )
    parser.add_argument("--workspace", "-w", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        serve(Workspace.find(args.workspace))
    except AutonomicError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
