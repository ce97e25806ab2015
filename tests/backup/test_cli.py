"""Issue 13: `autonomic backup run | list | verify | restore | prune | status` as a user runs them."""

from __future__ import annotations

import json

from autonomic.workspace import Workspace
from tests.helpers import run_cli


def _cli(workspace: Workspace, *args: str) -> tuple[int, str, str]:
    result = run_cli("backup", *args, "--workspace", str(workspace.root))
    return result.returncode, result.stdout, result.stderr


def test_run_list_verify_status_prune(workspace: Workspace) -> None:
    code, out, err = _cli(workspace, "run")
    assert code == 0, err
    assert out.startswith("snapshot ") and str(workspace.backups_dir) in out
    code, out, _ = _cli(workspace, "run", "--if-overdue")
    assert code == 0 and "nothing to do" in out
    code, out, _ = _cli(workspace, "list", "--json")
    [listed] = json.loads(out)
    assert listed["state"] == "complete" and listed["bytes"] > 0
    code, out, _ = _cli(workspace, "verify")
    assert code == 0 and f"{listed['id']}: ok" in out
    code, out, _ = _cli(workspace, "status", "--json")
    status = json.loads(out)
    assert status["newest_good"]["id"] == listed["id"] and status["newest_good"]["state"] == "verified"
    assert status["last_run"]["status"] == "success" and status["last_run"]["action"] == "backup"
    assert status["next_run"] is not None and status["snapshots"] == 1
    assert "line" in (status["health"] or {"line": ""})
    code, out, _ = _cli(workspace, "status")
    assert code == 0 and "next run" in out and "03:30:00" in out
    code, out, _ = _cli(workspace, "prune", "--dry-run")
    assert code == 0 and "would delete 0 snapshot(s); kept 1" in out


def test_verify_exits_1_on_damage(workspace: Workspace) -> None:
    assert _cli(workspace, "run")[0] == 0
    [snap] = [p for p in workspace.backups_dir.iterdir() if p.name[0].isdigit()]
    (snap / "configs/config.json").write_text("{}", encoding="utf-8")
    code, _, err = _cli(workspace, "verify", snap.name)
    assert code == 1
    assert "1 problem(s)" in err and "configs/config.json" in err


def test_restore_dry_run_and_bad_input(workspace: Workspace) -> None:
    assert _cli(workspace, "run")[0] == 0
    workspace.env_file.unlink()
    code, out, err = _cli(workspace, "restore", "latest", "--dry-run", "--only", "configs")
    assert code == 0, err
    assert "create" in out and ".env" in out
    assert not workspace.env_file.exists()
    for args, needle in (
        (("restore", "nope"), "not a snapshot id"),
        (("restore", "20000101_000000"), "no snapshot 20000101_000000"),
        (("restore", "latest", "--only", "secrets"), "secrets"),
        (("verify", "20000101_000000"), "no snapshot"),
    ):
        code, out, err = _cli(workspace, *args)
        assert code == 2, (args, out, err)
        assert needle in err and "Traceback" not in err, (args, err)
    code, out, err = _cli(workspace, "restore", "latest", "--only", "configs")
    assert code == 0, err
    assert workspace.env_file.read_text(encoding="utf-8") == "API_KEY=s3cr3t-value\n"


def test_outside_a_workspace(tmp_path: object) -> None:
    result = run_cli("backup", "status", "--workspace", str(tmp_path))
    assert result.returncode == 2 and "autonomic init" in result.stderr
