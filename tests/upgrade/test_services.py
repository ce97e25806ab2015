"""Upgrades against a running orchestrator: a real `git pull` fires the hooks, only the changed service
restarts on the new code, a commit that breaks a service or the config is rolled back (issue 14)."""

from __future__ import annotations

import contextlib
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from tests.helpers import alive, free_port, wait_until
from tests.upgrade.conftest import Project, build_wheel, git, service_code


def _get(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
            return str(reply.read().decode())
    except OSError:
        return ""


class Two:
    """`web` and `api`, each in its own folder, each serving its version on its own port."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.ports = {"web": free_port(), "api": free_port()}
        services = {name: project.web(name, port, name) for name, port in self.ports.items()}
        self.first = project.commit(
            {
                "autonomic.toml": project.config(services),
                "web/app.py": service_code("1"),
                "api/app.py": service_code("1"),
            },
            "two services",
        )
        project.clone_workspace()
        project.up()
        project.wait_job("upgrade")  # the check once the services run: done before the test pulls
        self.pids = {name: s["pid"] for name, s in project.status().items()}

    def serving(self, name: str) -> str:
        return _get(self.ports[name])


def test_a_pull_changing_a_requirement_and_one_service_restarts_that_service_alone(project: Project) -> None:
    build_wheel(project.wheels, "tinydep", "1.0", "from-the-wheel")
    two = Two(project)
    assert project.state()["applied"] == two.first  # the check at the orchestrator's start recorded it
    hooks = project.ws / ".git" / "hooks"
    (hooks / "post-merge").write_text(
        f"#!/bin/sh\necho mine > '{project.ws.parent / 'user-hook-ran'}'\nexit 0\n"
    )
    (hooks / "post-merge").chmod(0o755)
    result = project.cli("upgrade", "install-hooks")
    assert result.returncode == 0, result.stderr
    assert "kept your hook" in result.stdout
    head = project.commit(
        {
            "requirements.txt": "tinydep==1.0\n",
            "web/app.py": service_code("2", "import tinydep\nEXTRA = tinydep.VALUE"),
        },
        "web needs tinydep",
    )
    pulled_at = time.monotonic()
    assert project.pull().returncode == 0

    def new_code() -> str:
        text = two.serving("web")
        return text if text.startswith("2 ") else ""

    answer = wait_until(new_code, timeout=30, what="web on the new code")
    assert time.monotonic() - pulled_at < 30
    assert answer.endswith("from-the-wheel")  # the new dependency is installed and imported
    project.wait_event("upgrade", head[:10], "success")
    status = project.status()
    assert status["api"]["pid"] == two.pids["api"]  # untouched
    assert status["web"]["pid"] != two.pids["web"]
    assert (project.ws.parent / "user-hook-ran").read_text().strip() == "mine"  # the chained hook ran
    assert _copies(project.ws / "web") == [status["web"]["pid"]]  # one copy, never two
    events = project.events()
    install = _one(events, "upgrade", "requirements.txt")
    assert install["status"] == "success" and install["exit_code"] == 0
    restarts = [e for e in events if e["action"] == "restart"]
    assert {e["target"] for e in restarts} == {"web"}
    assert _one(events, "health", "web")["status"] == "ok"
    assert project.state()["applied"] == head


def test_a_commit_that_breaks_a_service_is_rolled_back_without_anyone_acting(project: Project) -> None:
    two = Two(project)
    assert project.cli("upgrade", "install-hooks").returncode == 0
    bad = project.commit({"web/app.py": "raise SystemExit(3)\n"}, "break web")
    assert project.pull().returncode == 0
    project.wait_event("rollback", bad[:10], "success", timeout=90)
    assert project.head() == two.first
    state = project.state()
    assert state["applied"] == two.first and bad in state["bad"]
    status = project.status()
    assert status["web"]["state"] == "running" and status["web"]["pid"] != two.pids["web"]
    assert status["api"]["pid"] == two.pids["api"]
    assert two.serving("web").startswith("1 ")
    events = project.events()
    assert _one(events, "health", "web", phase=None)["status"] == "failed"
    assert _one(events, "rollback", "git")["status"] == "success"
    assert _one(events, "health", "web", phase="rollback")["status"] == "ok"
    assert _one(events, "health", "system", phase="rollback")["total"] == 8  # the full check is logged too
    # the bad commit is not retried: a later check leaves it alone until HEAD moves again
    assert project.pull().returncode == 0
    project.wait_event("detect", bad[:10], "skipped")
    assert project.status()["web"]["pid"] == status["web"]["pid"]


def test_a_commit_with_a_broken_config_is_refused_and_services_stay_as_they_are(project: Project) -> None:
    two = Two(project)
    bad = project.commit(
        {"autonomic.toml": "[services.web]\ncommand = []\n", "web/app.py": service_code("2")}
    )
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "autonomic.toml" in result.stderr and "refused" in result.stderr
    assert project.head() == two.first
    assert {n: s["pid"] for n, s in project.status().items()} == two.pids
    assert bad in project.state()["bad"]
    assert _one(project.events(), "config", "autonomic.toml")["status"] == "refused"


def test_a_failing_pip_install_is_logged_as_failed_and_rolled_back(project: Project) -> None:
    two = Two(project)
    bad = project.commit(
        {"requirements.txt": "no-such-package-anywhere==9.9\n", "web/app.py": service_code("2")},
        "bad requirement",
    )
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 1
    assert "rolled back" in result.stderr
    install = _one(project.events(), "upgrade", "requirements.txt")
    assert install["status"] == "failed" and install["exit_code"] not in (0, None)
    assert project.head() == two.first
    assert {n: s["pid"] for n, s in project.status().items()} == two.pids  # nothing was restarted
    assert two.serving("web").startswith("1 ")
    assert bad in project.state()["bad"]


def test_a_second_upgrade_while_one_runs_says_so_and_exits(project: Project) -> None:
    project.commit({"autonomic.toml": project.config({})})
    project.clone_workspace()
    from autonomic.platform.lock import ProcessLock

    project.workspace.state_dir.mkdir(parents=True, exist_ok=True)
    lock = ProcessLock(project.workspace.upgrade_lock)
    assert lock.acquire()
    try:
        result = project.cli("upgrade")
    finally:
        lock.release()
    assert result.returncode == 5
    assert "already running" in result.stderr
    assert not project.workspace.upgrade_state.exists()


def test_pull_refuses_a_dirty_tree(project: Project) -> None:
    first = project.commit({"autonomic.toml": project.config({}), "notes.txt": "a\n"})
    project.clone_workspace()
    project.commit({"notes.txt": "b\n"})
    (project.ws / "notes.txt").write_text("local edit\n")
    result = project.cli("upgrade", "--pull")
    assert result.returncode == 2 and "local changes" in result.stderr
    assert git(project.ws, "rev-parse", "HEAD") == first


def _one(events: list[dict[str, Any]], action: str, target: str, **match: Any) -> dict[str, Any]:
    found = [
        e
        for e in events
        if e["action"] == action and e["target"] == target and all(e.get(k) == v for k, v in match.items())
    ]
    assert found, f"no {action}/{target} event in {events}"
    return found[0]


def test_a_new_package_restarts_nothing_a_changed_version_restarts_the_python_services(
    project: Project,
) -> None:
    build_wheel(project.wheels, "tinydep", "1.0", "one")
    build_wheel(project.wheels, "tinydep", "2.0", "two")
    two = Two(project)
    added = project.commit({"requirements.txt": "tinydep==1.0\n"}, "a new dependency")
    assert project.pull().returncode == 0
    assert project.cli("upgrade").returncode == 0
    assert project.installed("tinydep") == "1.0"
    assert {n: s["pid"] for n, s in project.status().items()} == two.pids  # nothing can have loaded it yet
    bumped = project.commit({"requirements.txt": "tinydep==2.0\n"}, "a new version")
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.installed("tinydep") == "2.0"
    status = project.status()
    assert all(status[n]["pid"] != two.pids[n] for n in ("web", "api"))  # both run on that interpreter
    restarts = [e for e in project.events() if e["action"] == "restart" and e["status"] == "attempting"]
    assert [e["target"] for e in restarts] == ["web", "api"] or [e["target"] for e in restarts] == [
        "api",
        "web",
    ]
    assert all("tinydep" in e["details"] for e in restarts)
    assert project.state()["applied"] == bumped != added


def test_restarting_the_orchestrator_after_a_self_upgrade_leaves_the_services_running(
    project: Project,
) -> None:
    two = Two(project)
    old = project.orchestrator_pid()
    result = project.cli("upgrade", "restart-orchestrator")
    assert result.returncode == 0, result.stdout + result.stderr
    new = project.orchestrator_pid()
    assert new != old and not alive(old)
    assert {n: s["pid"] for n, s in project.status().items()} == two.pids  # adopted, not started again
    assert _one(project.events(), "restart", "orchestrator")["status"] == "success"


def test_a_valid_config_change_is_reloaded_and_a_breaking_one_rolled_back_to_the_old_config(
    project: Project,
) -> None:
    two = Two(project)
    services = {name: project.web(name, port, name) for name, port in two.ports.items()}
    services["web"]["env"] = {"GREETING": "hello"}
    changed = project.commit({"autonomic.toml": project.config(services)}, "web gets an env var")
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    status = project.status()
    assert status["web"]["pid"] != two.pids["web"] and status["api"]["pid"] == two.pids["api"]
    assert _one(project.events(), "config", "autonomic.toml", status="reloaded")
    assert project.state()["applied"] == changed
    web_pid = status["web"]["pid"]

    services["web"]["command"] = ["python", "-c", "raise SystemExit(2)"]
    bad = project.commit({"autonomic.toml": project.config(services)}, "web command broken")
    assert project.pull().returncode == 0
    result = project.cli("upgrade")
    assert result.returncode == 1 and "rolled back" in result.stderr, result.stderr
    assert project.head() == changed and bad in project.state()["bad"]
    wait_until(lambda: two.serving("web").startswith("1 "), timeout=30, what="web on its old command again")
    after = project.status()
    assert after["web"]["state"] == "running" and after["web"]["pid"] != web_pid
    assert after["api"]["pid"] == two.pids["api"]
    assert _one(project.events(), "rollback", "config", status="reloaded")


def _copies(folder: Path) -> list[int]:
    """The live `app.py` processes running in `folder`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        with contextlib.suppress(psutil.Error):
            here = proc.info["status"] != psutil.STATUS_ZOMBIE and proc.info["cwd"] == str(folder)
            if here and "app.py" in " ".join(proc.info["cmdline"] or []):
                found.append(proc.info["pid"])
    return found
