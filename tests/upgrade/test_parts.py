"""The upgrade's parts on their own: the plan from a diff, the health gate on a fake clock, the installed
set before and after, the hooks and their chaining, the state file (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from autonomic.clock import FakeClock
from autonomic.errors import StateError
from autonomic.upgrade import hooks
from autonomic.upgrade import plan as plans
from autonomic.upgrade.detect import Verdict, detect
from autonomic.upgrade.gate import Baseline, HealthGate
from autonomic.upgrade.interpreter import FreezeDiff, Interpreter, parse_freeze
from autonomic.upgrade.repository import Repository
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.upgrade.state import UpgradeState
from tests.upgrade.conftest import Project, git

# --- the plan -------------------------------------------------------------------------------------


def _planned(
    project: Project, services: dict[str, dict[str, Any]], files: Mapping[str, str | None]
) -> plans.UpgradePlan:
    base = {
        "autonomic.toml": project.config(services),
        "web/app.py": "x = 1\n",
        "api/app.py": "x = 1\n",
        "bot.py": "x = 1\n",
        "shared/util.py": "x = 1\n",
    }
    first = project.commit(base)
    project.clone_workspace(venv=False)
    head = project.commit(files)
    assert project.pull().returncode == 0
    repo = Repository.find(project.ws)
    assert repo is not None
    changes = repo.changes(first, head)
    interpreter = Interpreter(Path(sys.executable))
    return plans.build(project.workspace, repo, first, head, changes, UpgradeSettings(), interpreter)


SERVICES: dict[str, dict[str, Any]] = {
    "web": {"command": ["python", "app.py"], "cwd": "web"},
    "api": {"command": ["python", "app.py"], "cwd": "api", "after": ["web"]},
    "bot": {"command": "python bot.py"},
    "watcher": {"command": ["node", "w.js"], "watch": ["shared/*.py"]},
}


def test_only_services_whose_files_changed_restart_in_dependency_order(project: Project) -> None:
    plan = _planned(project, SERVICES, {"api/app.py": "x = 2\n", "web/app.py": "x = 2\n", "README": "hi\n"})
    assert list(plan.restarts) == ["web", "api"]
    assert not plan.steps and not plan.config_changed


def test_a_service_in_the_top_folder_follows_the_files_its_command_names(project: Project) -> None:
    plan = _planned(project, SERVICES, {"bot.py": "x = 2\n"})
    assert list(plan.restarts) == ["bot"]


def test_declared_watch_paths_decide_for_a_service(project: Project) -> None:
    plan = _planned(project, SERVICES, {"shared/util.py": "x = 2\n"})
    assert list(plan.restarts) == ["watcher"]


def test_python_services_restart_only_if_a_package_they_may_have_loaded_changed(project: Project) -> None:
    plan = _planned(project, SERVICES, {"requirements-prod.txt": "x==1\n", "pyproject.toml": "[tool.ruff]\n"})
    assert [s.target for s in plan.steps] == ["requirements-prod.txt"]
    assert set(plan.python_services) == {"web", "api", "bot"}  # not the node one
    assert any("no [project] table" in n for n in plan.notes)
    assert not plan.restarts


def test_a_project_pyproject_is_installed_editable(project: Project) -> None:
    pyproject = '[project]\nname = "mine"\nversion = "1"\n'
    plan = _planned(project, SERVICES, {"pyproject.toml": pyproject})
    (step,) = plan.steps
    assert step.kind is plans.StepKind.PIP and step.argv[-2:] == ["-e", str(project.ws)]


def test_npm_ci_with_a_lock_file_and_node_services_in_that_folder_restart(project: Project) -> None:
    services = {**SERVICES, "site": {"command": ["node", "server.js"], "cwd": "site"}}
    files = {"site/package.json": "{}", "site/package-lock.json": "{}", "site/server.js": "1"}
    plan = _planned(project, services, files)
    (step,) = [s for s in plan.steps if s.kind is plans.StepKind.NPM]
    assert step.argv[1] == "ci" and step.cwd == str(project.ws / "site")
    assert list(plan.restarts) == ["site"]


def test_scripts_and_shebang_files_are_made_executable_other_files_not(project: Project) -> None:
    files = {"scripts/deploy.py": "print(1)\n", "tools/run": "#!/bin/sh\n", "notes.txt": "plain text\n"}
    plan = _planned(project, SERVICES, files)
    targets = {s.target for s in plan.steps if s.kind is plans.StepKind.PERMISSIONS}
    assert targets == {"scripts/deploy.py", "tools/run"}


def test_a_broken_config_is_reported_in_the_plan(project: Project) -> None:
    plan = _planned(project, SERVICES, {"autonomic.toml": "[services.x]\ncommand = 3\n"})
    assert plan.config_changed and plan.config_error and "services.x.command" in plan.config_error
    assert any("REFUSED" in line for line in plan.describe())


# --- detection and state --------------------------------------------------------------------------


def test_detection_verdicts(project: Project) -> None:
    first = project.commit({"a": "1"})
    project.clone_workspace(venv=False)
    repo = Repository.find(project.ws)
    assert repo is not None
    state = UpgradeState()
    assert detect(repo, state).verdict is Verdict.FIRST_RUN
    state.applied = first
    assert detect(repo, state).verdict is Verdict.UP_TO_DATE
    second = project.commit({"a": "2"})
    project.pull()
    found = detect(repo, state)
    assert found.verdict is Verdict.NEW and [c.path for c in found.changes] == ["a"]
    state.mark_bad(second, "broke", first, 0.0)
    assert detect(repo, state).verdict is Verdict.KNOWN_BAD
    assert detect(repo, state, retry=True).verdict is Verdict.NEW
    state.applied = "0" * 40
    assert detect(repo, state, retry=True).verdict is Verdict.LOST


def test_a_damaged_state_file_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    path = tmp_path / "upgrade.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        UpgradeState.load(path)
    state = UpgradeState(applied="abc")
    state.mark_bad("def", "why", "abc", 1.0)
    state.save(path)
    assert UpgradeState.load(path).bad["def"]["reason"] == "why"


# --- the installed set ----------------------------------------------------------------------------


def test_freeze_diff_tells_new_packages_from_changed_ones() -> None:
    before = parse_freeze("Alpha==1.0\nbeta_pkg==2.0\n-e /src/mine\n# comment\ngamma @ file:///x.whl\n")
    after = parse_freeze("alpha==1.1\nbeta-pkg==2.0\n-e /src/mine\ndelta==1\n")
    diff = FreezeDiff.between(before, after)
    assert diff.added == ["delta"] and diff.changed == ["alpha"] and diff.removed == ["gamma"]
    assert diff.touches_running_code
    assert not FreezeDiff.between(before, {**before, "new": "new==1"}).touches_running_code


def test_the_interpreter_runs_rule() -> None:
    python = Interpreter(Path("/ws/.venv/bin/python"))
    assert python.runs(["python3", "x.py"]) and python.runs(["/ws/.venv/bin/python", "x.py"])
    assert not python.runs(["/usr/bin/python3", "x.py"]) and not python.runs(["node", "x.js"])


# --- the health gate ------------------------------------------------------------------------------


def _gate(snapshots: list[list[dict[str, Any]]], clock: FakeClock) -> HealthGate:
    def status() -> list[dict[str, Any]]:
        return snapshots.pop(0) if len(snapshots) > 1 else snapshots[0]

    return HealthGate(status, clock, sleep=clock.advance)


def _svc(state: str, pid: int | None = 10, restarts: int = 0, ok: bool = True) -> dict[str, Any]:
    return {
        "name": "web",
        "state": state,
        "pid": pid,
        "restarts": restarts,
        "last_probe": {"ok": ok},
        "detail": "",
    }


def test_the_gate_passes_once_running_with_a_passing_probe_for_the_settle_period() -> None:
    clock = FakeClock()
    gate = _gate([[_svc("starting")], [_svc("running", ok=False)], [_svc("running")]], clock)
    assert gate.wait({"web": Baseline(0)}, timeout=10, settle=1.0) == {}
    assert 1.0 <= clock.monotonic() - 1_000_000.0 < 2.0


def test_the_gate_fails_at_once_when_the_service_dies_after_the_restart() -> None:
    clock = FakeClock()
    gate = _gate([[_svc("running")], [_svc("backoff", restarts=1)]], clock)
    failures = gate.wait({"web": Baseline(0)}, timeout=60, settle=5.0)
    assert failures["web"].startswith("failed: it stopped after the upgrade")
    assert clock.monotonic() - 1_000_000.0 < 1.0


def test_the_gate_runs_out_of_time_on_a_service_that_never_gets_ready() -> None:
    clock = FakeClock()
    failures = _gate([[_svc("starting")]], clock).wait({"web": Baseline(0)}, timeout=3, settle=0.0)
    assert "not healthy after 3s" in failures["web"]


def test_a_new_pid_restarts_the_settle_period() -> None:
    clock = FakeClock()
    snaps = [[_svc("running", pid=1)]] * 3 + [[_svc("running", pid=2)]]
    assert _gate(snaps, clock).wait({"web": Baseline(None)}, timeout=10, settle=1.0) == {}
    assert clock.monotonic() - 1_000_000.0 >= 1.6


# --- hooks ----------------------------------------------------------------------------------------


def test_hooks_chain_to_the_users_own_and_uninstall_puts_them_back(project: Project) -> None:
    project.commit({"autonomic.toml": project.config({})})
    project.clone_workspace(venv=False)
    folder = project.ws / ".git" / "hooks"
    mark = project.ws.parent / "ran"
    (folder / "post-rewrite").write_text(f"#!/bin/sh\ncat > '{mark}'\nexit 7\n")
    (folder / "post-rewrite").chmod(0o755)
    report = hooks.install(project.workspace, python="/nonexistent/python")
    assert [p.name for p in report.chained] == ["post-rewrite.chained"]
    assert hooks.installed(project.workspace) == list(hooks.HOOKS)
    again = hooks.install(project.workspace, python="/nonexistent/python")  # idempotent
    assert not again.chained
    done = subprocess.run(
        [str(folder / "post-rewrite"), "amend"], input="a b\n", capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 7  # the user's hook decides what git sees
    assert mark.read_text() == "a b\n"  # ... and got the input git gave
    report = hooks.uninstall(project.workspace)
    assert {p.name for p in report.removed} == set(hooks.HOOKS)
    assert "exit 7" in (folder / "post-rewrite").read_text()
    assert not (folder / "post-merge").exists()


def test_hooks_honour_core_hooks_path(project: Project) -> None:
    project.commit({"autonomic.toml": project.config({})})
    project.clone_workspace(venv=False)
    git(project.ws, "config", "core.hooksPath", ".githooks")
    hooks.install(project.workspace)
    assert (project.ws / ".githooks" / "post-merge").exists()


def test_status_json_shows_the_applied_commit(project: Project) -> None:
    first = project.commit({"autonomic.toml": project.config({})})
    project.clone_workspace(venv=False)
    assert project.cli("upgrade", "check").returncode == 0
    result = project.cli("upgrade", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["applied"] == first


def test_a_check_waits_while_a_git_operation_is_under_way(project: Project) -> None:
    project.commit({"autonomic.toml": project.config({})})
    project.clone_workspace(venv=False)
    (project.ws / ".git" / "MERGE_HEAD").write_text(git(project.ws, "rev-parse", "HEAD") + "\n")
    result = project.cli("upgrade", "check")
    assert result.returncode == 0 and "merge" in result.stdout and "in progress" in result.stdout
    assert not project.workspace.upgrade_state.exists()
