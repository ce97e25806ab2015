"""A commit pulled while nothing runs (say, before a reboot): the orchestrator's start applies it before
the services start, verifies their health once they run, and rolls it back by itself if they are not
healthy (issue 14)."""

from __future__ import annotations

from tests.helpers import free_port, run_cli, wait_until
from tests.upgrade.conftest import Project, build_wheel, service_code
from tests.upgrade.test_services import _get


def _down_then_pull(project: Project, port: int, files: dict[str, str | None]) -> tuple[str, str]:
    services = {"web": project.web("web", port, "web", ready_timeout="8s")}
    first = project.commit({"autonomic.toml": project.config(services), "web/app.py": service_code("1")})
    project.clone_workspace()
    project.up()
    project.wait_job("upgrade")
    assert project.cli("down").returncode == 0
    head = project.commit(files)
    assert project.pull().returncode == 0
    return first, head


def test_an_upgrade_pulled_while_down_is_applied_at_start_and_verified_once_running(project: Project) -> None:
    build_wheel(project.wheels, "tinydep", "1.0", "wheel")
    port = free_port()
    _, head = _down_then_pull(
        project,
        port,
        {
            "requirements.txt": "tinydep==1.0\n",
            "web/app.py": service_code("2", "import tinydep\nEXTRA = tinydep.VALUE"),
        },
    )
    project.up()
    assert _get(port).startswith("2 ") and _get(port).endswith("wheel")
    project.wait_event("health", head[:10], "verified")
    state = project.state()
    assert state["applied"] == head and state["pending"] is None
    install = next(e for e in project.events() if e["target"] == "requirements.txt")
    assert install["status"] == "success" and install["exit_code"] == 0


def test_a_broken_commit_pulled_while_down_is_rolled_back_after_start_by_itself(project: Project) -> None:
    port = free_port()
    first, bad = _down_then_pull(project, port, {"web/app.py": "raise SystemExit(3)\n"})
    run_cli("up", "--timeout", "3", "-w", str(project.ws), timeout=60)  # web cannot come up: `up` says so
    project.wait_event("rollback", bad[:10], "success", timeout=120)
    assert project.head() == first
    wait_until(lambda: _get(port).startswith("1 "), timeout=30, what="web back on the old code")
    state = project.state()
    assert state["applied"] == first and bad in state["bad"] and state["pending"] is None
