"""Issue 13: restore brings back configs byte-identical and the queue with its pending tasks; it refuses
to overwrite newer files without --force, takes a safety snapshot first, and `--dry-run` changes nothing."""

from __future__ import annotations

import os
import re
import time

import pytest

from autonomic import config
from autonomic.backup import catalog
from autonomic.backup.errors import BackupError, RestoreRefused
from autonomic.backup.queuegate import OrchestratedQueue, QueueState
from autonomic.backup.runner import RestoreRequest
from autonomic.backup.sources import Section
from autonomic.errors import AutonomicError
from autonomic.queue.client import QueueClient
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for, git
from tests.helpers import run_cli, wait_until
from tests.queue.support import start_server

ALL = set(Section)


def _age(*paths: os.PathLike[str]) -> None:
    """Make files look last changed an hour before any snapshot taken from now on."""
    past = time.time() - 3600
    for path in paths:
        os.utime(path, (past, past))


def test_configs_round_trip_byte_identical(workspace: Workspace) -> None:
    originals = {
        p: p.read_bytes() for p in (workspace.env_file, workspace.config_file, workspace.vscode_tasks)
    }
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    workspace.env_file.unlink()
    workspace.vscode_tasks.write_text("{broken", encoding="utf-8")
    _age(workspace.vscode_tasks)  # changed, but not after the snapshot: replaced without --force
    outcome = backups.restore(RestoreRequest(snap.name, {Section.CONFIGS}))
    for path, data in originals.items():
        assert path.read_bytes() == data, path
    assert os.stat(workspace.env_file).st_mode & 0o777 == 0o600
    assert outcome.safety is not None and outcome.safety != snap
    assert (outcome.safety / "configs/.vscode/tasks.json").read_text(encoding="utf-8") == "{broken"
    assert {item.dest for item in outcome.written} == {workspace.env_file, workspace.vscode_tasks}


def test_newer_files_need_force(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    time.sleep(0.05)
    workspace.env_file.write_text("API_KEY=rotated-today\n", encoding="utf-8")  # after the snapshot
    before = len(catalog.snapshots(workspace.backups_dir))
    with pytest.raises(RestoreRefused, match=r"changed after snapshot .*--force"):
        backups.restore(RestoreRequest(snap.name, {Section.CONFIGS}))
    assert workspace.env_file.read_text(encoding="utf-8") == "API_KEY=rotated-today\n"
    assert len(catalog.snapshots(workspace.backups_dir)) == before  # refused before any safety snapshot
    backups.restore(RestoreRequest(snap.name, {Section.CONFIGS}, force=True))
    assert workspace.env_file.read_text(encoding="utf-8") == "API_KEY=s3cr3t-value\n"


def test_dry_run_changes_nothing(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    workspace.env_file.unlink()
    outcome = backups.restore(RestoreRequest(snap.name, ALL, dry_run=True))
    assert not workspace.env_file.exists()
    assert outcome.written == [] and outcome.safety is None
    actions = {item.dest: item.action.value for item in outcome.plan.items}
    assert actions[workspace.env_file] == "create" and actions[workspace.config_file] == "same"
    assert len(catalog.snapshots(workspace.backups_dir)) == 1


def test_restore_into_another_folder(workspace: Workspace, tmp_path: os.PathLike[str]) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    elsewhere = workspace.root.parent / "restored"
    outcome = backups.restore(RestoreRequest(snap.name, ALL, to=elsewhere))
    assert outcome.safety is None
    assert (elsewhere / ".env").read_bytes() == workspace.env_file.read_bytes()
    assert (elsewhere / "outputs/monitoring_report_latest.md").is_file()
    assert (elsewhere / "logs/worker.log").is_file()


def test_a_damaged_snapshot_restores_nothing(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    (snap / "configs/.env").write_text("API_KEY=evil\n", encoding="utf-8")
    (workspace.root / "config.json").unlink()
    workspace.env_file.unlink()
    with pytest.raises(BackupError, match=r"damaged: configs/\.env"):
        backups.restore(RestoreRequest(snap.name, {Section.CONFIGS}))
    assert not workspace.env_file.exists() and not (workspace.root / "config.json").exists()


def test_the_patch_reapplies(workspace: Workspace) -> None:
    app = workspace.root / "app.py"
    app.write_text("print('v2: work in progress')\n", encoding="utf-8")
    (workspace.root / "config.json").write_text('{"mode": "dev"}\n', encoding="utf-8")
    snap = backups_for(workspace).run().snapshot
    assert snap is not None
    git(workspace.root, "checkout", "--", ".")  # the bad day: uncommitted work thrown away
    assert app.read_text(encoding="utf-8") == "print('v1')\n"
    git(workspace.root, "apply", "--check", str(snap / "git_uncommitted.patch"))
    git(workspace.root, "apply", str(snap / "git_uncommitted.patch"))
    assert app.read_text(encoding="utf-8") == "print('v2: work in progress')\n"
    assert (workspace.root / "config.json").read_text(encoding="utf-8") == '{"mode": "dev"}\n'


def test_queue_round_trip_with_the_server_stopped(workspace: Workspace, pids: list[int]) -> None:
    server = start_server(workspace, pids)
    with server.client() as client:
        pending = {client.create("e7-pending", {"n": n}).id for n in range(5)}
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    with server.client() as client:
        for task_id in pending:
            client.cancel(task_id)  # the tasks are lost from the live queue
    gate = OrchestratedQueue(workspace, server.port)
    assert gate.state() == QueueState(
        True, False, f"a server is listening on the queue port 127.0.0.1:{server.port}"
    )
    request = RestoreRequest(snap.name, {Section.STATE}, force=True, stop_queue=True, queue=gate)
    with pytest.raises(RestoreRefused, match="outside the orchestrator"):
        backups.restore(request)
    server.terminate()
    backups.restore(request)
    server = start_server(workspace, pids)
    with server.client() as client:
        back = {task.id for task in client.tasks(status="pending")}
    assert pending <= back
    server.terminate()


def _disable(workspace: Workspace, *tables: str) -> None:
    """Set `enabled = false` in each [table] (added when the template has no such table)."""
    text = workspace.config_file.read_text(encoding="utf-8")
    for table in tables:
        header = re.search(rf"(?m)^\[{table}\][^\n]*\n", text)
        if header is None:
            text += f"\n[{table}]\nenabled = false\n"
            continue
        end = re.search(r"(?m)^\[", text[header.end() :])
        stop = header.end() + (end.start() if end else len(text) - header.end())
        body = re.sub(r"(?m)^enabled = .*\n", "", text[header.end() : stop])
        text = text[: header.end()] + "enabled = false\n" + body + text[stop:]
    workspace.config_file.write_text(text, encoding="utf-8")


def test_restore_stops_and_restarts_the_orchestrated_queue(workspace: Workspace) -> None:
    _disable(workspace, "worker", "monitor", "watchdog", "upgrade")
    root = str(workspace.root)
    up = run_cli("up", "--workspace", root, timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        port = config.load(workspace).queue.port
        token = (workspace.token_file.read_text(encoding="utf-8")).strip()
        with QueueClient(f"http://127.0.0.1:{port}", token, "tester", timeout=10.0) as client:
            pending = {client.create("e7-pending", {"n": n}).id for n in range(5)}
        assert run_cli("backup", "run", "--workspace", root).returncode == 0
        with QueueClient(f"http://127.0.0.1:{port}", token, "tester", timeout=10.0) as client:
            for task_id in pending:
                client.cancel(task_id)
        refused = run_cli("backup", "restore", "latest", "--only", "state", "--force", "--workspace", root)
        assert refused.returncode == 2 and "--stop-queue" in refused.stderr, refused.stderr
        done = run_cli(
            "backup", "restore", "latest", "--only", "state", "--force", "--stop-queue", "--workspace", root
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "safety snapshot" in done.stdout

        def back() -> set[str] | None:
            try:
                with QueueClient(f"http://127.0.0.1:{port}", token, "tester", timeout=5.0) as client:
                    return {task.id for task in client.tasks(status="pending")}
            except AutonomicError:
                return None

        assert pending <= wait_until(back, timeout=60, what="the restarted queue to answer")
    finally:
        run_cli("down", "--workspace", root, timeout=120)
