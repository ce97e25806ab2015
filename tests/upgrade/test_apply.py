"""Upgrades without services running: first run, dry run, installs, permissions, refusals (issue 14)."""

from __future__ import annotations

import json
import os
import stat

from tests.upgrade.conftest import Project, build_wheel


def _start(project: Project, files: dict[str, str | None] | None = None) -> str:
    first = project.commit({"autonomic.toml": project.config({}), **(files or {})}, "first")
    project.clone_workspace()
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stderr
    assert "first run" in result.stdout
    assert project.state()["applied"] == first
    return first


def test_first_run_records_head_and_says_so(project: Project) -> None:
    first = _start(project)
    assert [(e["action"], e["status"]) for e in project.events()] == [("detect", "first_run")]
    again = project.cli("upgrade")
    assert again.returncode == 0 and "up to date" in again.stdout
    assert project.state()["applied"] == first


def test_dry_run_prints_the_plan_and_changes_nothing(project: Project) -> None:
    build_wheel(project.wheels, "tinydep", "1.0", "one")
    first = _start(project)
    project.commit({"requirements.txt": "tinydep==1.0\n", "scripts/run.sh": "#!/bin/sh\necho hi\n"})
    assert project.pull().returncode == 0
    before_log = project.workspace.upgrade_log.read_text()
    result = project.cli("upgrade", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "pip install" in result.stdout and "requirements.txt" in result.stdout
    assert "make scripts/run.sh executable" in result.stdout
    assert "nothing changed" in result.stdout
    assert project.state()["applied"] == first
    assert project.installed("tinydep") is None
    assert not os.stat(project.ws / "scripts/run.sh").st_mode & stat.S_IXUSR
    assert project.workspace.upgrade_log.read_text() == before_log


def test_requirements_change_installs_a_local_package_and_new_script_becomes_executable(
    project: Project,
) -> None:
    build_wheel(project.wheels, "tinydep", "1.0", "one")
    _start(project)
    head = project.commit({"requirements.txt": "tinydep==1.0\n", "tools/go": "#!/bin/sh\necho go\n"})
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.installed("tinydep") == "1.0"
    assert os.stat(project.ws / "tools/go").st_mode & stat.S_IXUSR
    state = project.state()
    assert state["applied"] == head
    events = project.events()
    install = next(e for e in events if e["action"] == "upgrade" and e["target"] == "requirements.txt")
    assert install["status"] == "success" and install["exit_code"] == 0 and install["duration"] > 0
    assert any(
        e["action"] == "detect" and e["target"] == "new_scripts" and e["status"] == "found" for e in events
    )
    assert all({"timestamp", "action", "target", "status", "details"} <= set(e) for e in events)


def test_a_package_json_change_installs_a_local_file_dependency_offline(project: Project) -> None:
    _start(project)
    head = project.commit(
        {
            "web/localdep/package.json": json.dumps(
                {"name": "localdep", "version": "1.0.0", "main": "index.js"}
            ),
            "web/localdep/index.js": "module.exports = 'local';\n",
            "web/package.json": json.dumps(
                {
                    "name": "web",
                    "version": "1.0.0",
                    "private": True,
                    "dependencies": {"localdep": "file:./localdep"},
                }
            ),
        }
    )
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    installed = project.ws / "web" / "node_modules" / "localdep"
    assert (installed / "index.js").read_text() == "module.exports = 'local';\n"
    step = next(e for e in project.events() if e["action"] == "upgrade" and e["target"] == "web/package.json")
    assert step["status"] == "success" and step["exit_code"] == 0
    assert step["command"][1] == "install"  # no lock file in the commit: `npm install`
    assert project.state()["applied"] == head


def test_a_pulled_tasks_file_gets_our_vscode_tasks_merged_in_again(project: Project) -> None:
    _start(project)
    mine = {"version": "2.0.0", "tasks": [{"label": "my own task", "type": "shell", "command": "true"}]}
    project.commit({".vscode/tasks.json": json.dumps(mine)})
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project.ws / ".vscode" / "tasks.json").read_text()
    assert "my own task" in text and "🔧 Upgrade: Detect and Apply" in text and "🔧 Upgrade: Dry-Run" in text
    step = next(e for e in project.events() if e["target"] == ".vscode/tasks.json")
    assert step["status"] == "success" and step["exit_code"] == 0


def test_a_config_broken_by_a_local_edit_refuses_without_blaming_the_commit(project: Project) -> None:
    first = _start(project)
    head = project.commit({"tools/a.txt": "x\n"})
    assert project.pull().returncode == 0
    with open(project.ws / "autonomic.toml", "a") as handle:
        handle.write("[upgrade]\ninterval = 5\nbogus = 1\n")
    result = project.cli("upgrade")
    assert result.returncode == 2 and "work tree" in result.stderr
    assert project.head() == head  # nothing reset
    state = project.state()
    assert state["applied"] == first and not state["bad"]
