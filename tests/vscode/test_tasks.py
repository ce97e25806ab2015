"""`autonomic vscode install | uninstall`: the SEED.md tasks merged into the user's tasks.json (JSON with
comments and trailing commas), the user's tasks and comments kept byte for byte, uninstall exact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import json5
import pytest

from autonomic import scaffold
from autonomic.errors import UsageError
from autonomic.vscode import install as installer
from autonomic.vscode import tasks
from autonomic.vscode.tasksfile import TasksFile
from autonomic.workspace import Workspace
from tests.helpers import run_cli

USER_FILE = """\
// my own tasks: keep this comment
{
  "version": "2.0.0", // the schema
  "tasks": [
    /* build first */ {"label": "build", "type": "shell", "command": "make",}, // trailing comma above
    // the test task
    {
      "label": "test",
      "type": "shell",
      "command": "make test"
    } // no comma after me
  ] // end of tasks
}
"""

SEED_LABELS = [
    "Auto: Bring-up on VS Code Open (safe)",
    "🚀 Master: Start Orchestrator",
    "🚀 Master: Register Auto-Start (Boot)",
    "🚀 Master: Unregister Auto-Start",
    "🚀 Master: Check Status",
    "🔧 Upgrade: Detect and Apply",
    "🔧 Upgrade: Dry-Run",
    "🏥 Health: Full System Check",
    "🏥 Health: Auto-Fix Issues",
    "💾 Backup: Register Daily (03:30)",
    "💾 Backup: Run Now",
    "💾 Backup: Check Status",
]


def everything(words: tuple[str, ...]) -> bool:
    return True


@pytest.fixture
def workspace(tmp_workspace: Path) -> Workspace:
    made = Workspace.at(tmp_workspace)
    scaffold.init(made)
    return made


def _tasks(workspace: Workspace) -> list[dict[str, Any]]:
    return list(json5.loads(workspace.vscode_tasks.read_text(encoding="utf-8"))["tasks"])


def test_every_seed_task_is_written_with_its_label_and_command(workspace: Workspace) -> None:
    installer.install(workspace, everything)
    written = {t["label"]: t for t in _tasks(workspace)}
    assert list(written) == SEED_LABELS
    for task in written.values():
        assert task["command"] == sys.executable and Path(task["command"]).is_absolute()
        assert task["args"][:2] == ["-m", "autonomic"]
        assert task["args"][-2:] == ["--workspace", str(workspace.root)]
        assert "dependsOn" not in task
    assert written["🏥 Health: Auto-Fix Issues"]["args"][2:4] == ["health", "--fix"]
    assert written["💾 Backup: Register Daily (03:30)"]["args"][2:5] == ["backup", "schedule", "register"]
    bringup = written["Auto: Bring-up on VS Code Open (safe)"]
    assert bringup["runOptions"] == {"runOn": "folderOpen"} and bringup["args"][2] == "bringup"
    assert [t for t in written.values() if "runOptions" in t] == [bringup]


def test_merge_keeps_user_tasks_and_comments_and_uninstall_restores_the_file(workspace: Workspace) -> None:
    workspace.vscode_dir.mkdir()
    workspace.vscode_tasks.write_text(USER_FILE, encoding="utf-8")
    installer.install(workspace, everything)
    text = workspace.vscode_tasks.read_text(encoding="utf-8")
    for comment in (
        "// my own tasks: keep this comment",
        "/* build first */",
        "// the test task",
        "// end of tasks",
    ):
        assert comment in text
    labels = [t["label"] for t in _tasks(workspace)]
    assert labels == ["build", "test", *SEED_LABELS]
    assert text.startswith(USER_FILE.split("    } // no comma after me", maxsplit=1)[0])

    installer.install(workspace, everything)  # a second install changes nothing
    assert workspace.vscode_tasks.read_text(encoding="utf-8") == text

    outcome = installer.uninstall(workspace)
    assert outcome.removed == len(SEED_LABELS)
    assert workspace.vscode_tasks.read_text(encoding="utf-8") == USER_FILE


def test_windows_line_endings_are_kept(workspace: Workspace) -> None:
    workspace.vscode_dir.mkdir()
    original = USER_FILE.replace("\n", "\r\n").encode()
    workspace.vscode_tasks.write_bytes(original)
    installer.install(workspace, everything)
    written = workspace.vscode_tasks.read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n") and len(_tasks(workspace)) == 2 + len(SEED_LABELS)
    installer.uninstall(workspace)
    assert workspace.vscode_tasks.read_bytes() == original


def test_our_tasks_are_recognised_by_label_and_updated_in_place(workspace: Workspace) -> None:
    workspace.vscode_dir.mkdir()
    stale = {"label": "🏥 Health: Full System Check", "type": "shell", "command": "old-health-script"}
    user = {"label": "mine", "type": "shell", "command": "echo hi"}
    workspace.vscode_tasks.write_text(
        '{\n  // ours, from an older install\n  "tasks": [\n    '
        + json.dumps(stale)
        + ",\n    "
        + json.dumps(user)
        + "\n  ]\n}\n",
        encoding="utf-8",
    )
    installer.install(workspace, everything)
    found = _tasks(workspace)
    labels = [t["label"] for t in found]
    assert labels.count("🏥 Health: Full System Check") == 1
    assert labels.index("🏥 Health: Full System Check") == 0  # updated where it was
    assert found[0]["args"][2] == "health" and found[1] == user
    assert "// ours, from an older install" in workspace.vscode_tasks.read_text(encoding="utf-8")


def test_no_file_install_then_uninstall_leaves_no_file(workspace: Workspace) -> None:
    installer.install(workspace, everything)
    assert workspace.vscode_tasks.is_file()
    outcome = installer.uninstall(workspace)
    assert outcome.deleted and not workspace.vscode_tasks.exists()


def test_tasks_of_missing_commands_wait(workspace: Workspace) -> None:
    outcome = installer.install(workspace, lambda words: words[0] not in ("boot", "backup"))
    labels = [t["label"] for t in _tasks(workspace)]
    assert not [label for label in labels if "Backup" in label or "Auto-Start" in label]
    assert "💾 Backup: Run Now" in outcome.left_out
    installer.install(workspace, everything)  # once they exist, they are added (at the end)
    assert sorted(t["label"] for t in _tasks(workspace)) == sorted(SEED_LABELS)


@pytest.mark.parametrize(
    "text",
    ['{ "tasks": [ ', "[1, 2]", '{"tasks": {"a": 1}}', "// only a comment\n"],
    ids=["truncated", "array", "tasks-not-a-list", "empty-of-json"],
)
def test_a_file_we_cannot_merge_is_refused_and_left_unchanged(workspace: Workspace, text: str) -> None:
    with pytest.raises(UsageError):
        TasksFile(text)
    workspace.vscode_dir.mkdir()
    workspace.vscode_tasks.write_text(text, encoding="utf-8")
    result = run_cli("vscode", "install", "--workspace", str(workspace.root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "tasks.json" in result.stderr
    assert workspace.vscode_tasks.read_text(encoding="utf-8") == text


def test_cli_install_prints_what_vscode_needs_and_every_task_command_line_runs(workspace: Workspace) -> None:
    result = run_cli("vscode", "install", "--workspace", str(workspace.root))
    assert result.returncode == 0, result.stderr
    assert "task.allowAutomaticTasks" in result.stdout and "trust" in result.stdout.lower()
    written = _tasks(workspace)
    assert [t["label"] for t in written] == SEED_LABELS  # every command exists in this installation
    for task in written:  # each exactly as VS Code would run it, asked for its help (no side effects)
        done = subprocess.run(
            [task["command"], *task["args"], "--help"],
            cwd=task["options"]["cwd"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{task['label']}: {done.stderr}"
        assert "Usage" in done.stdout
    health = next(t for t in written if t["label"] == "🏥 Health: Full System Check")
    done = subprocess.run(
        [health["command"], *health["args"], "--json"], capture_output=True, text=True, timeout=60
    )
    assert json.loads(done.stdout)["total"] == 8
    uninstall = run_cli("vscode", "uninstall", "--workspace", str(workspace.root))
    assert uninstall.returncode == 0 and not workspace.vscode_tasks.exists()


def test_labels_match_the_seed() -> None:
    assert [t.label for t in tasks.TASKS] == SEED_LABELS


@pytest.mark.parametrize(
    "text",
    [
        '{"version": "2.0.0", "tasks": []}',
        '{"version": "2.0.0", "tasks": [{"label": "a", "command": "x"}]}',
        '{\n  "tasks": [\n    {"label": "a"},\n    {"label": "b"},\n  ],\n}\n',
        '{\n\t// tabs\n\t"tasks": [\n\t\t{"label": "a"} /* end */\n\t]\n}\n',
        '{"tasks": [{"label": "a"} /* a, b */ ,]}',
    ],
    ids=["empty-inline", "one-inline", "trailing-commas", "tabs-and-comments", "comment-before-comma"],
)
def test_round_trips_of_many_shapes(text: str) -> None:
    ours = [t.render("/py", "/ws") for t in tasks.TASKS]
    edited = TasksFile(text)
    user = edited.tasks()
    edited.install(ours, tasks.LABELS)
    assert TasksFile(edited.text).tasks() == [*user, *ours]
    assert edited.uninstall(tasks.LABELS) == len(ours)
    assert edited.text == text


def test_a_file_without_tasks_gets_the_key() -> None:
    edited = TasksFile('{\n  "version": "2.0.0" // mine\n}\n')
    edited.install([tasks.TASKS[0].render("/py", "/ws")], tasks.LABELS)
    assert "// mine" in edited.text and [t["label"] for t in edited.tasks()] == [tasks.BRINGUP_LABEL]
    edited.uninstall(tasks.LABELS)
    assert json5.loads(edited.text) == {"version": "2.0.0", "tasks": []}
