"""The GitHub Actions workflow for forks: valid YAML, three OSes, and the same checks as `scripts/test`
(which the README names as what CI runs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps() -> list[dict[str, Any]]:
    jobs = _workflow()["jobs"]
    assert list(jobs) == ["test"]
    steps = jobs["test"]["steps"]
    assert isinstance(steps, list)
    return steps


def test_the_workflow_is_valid_yaml_for_three_oses() -> None:
    workflow = _workflow()
    triggers: Any = workflow["on"] if "on" in workflow else workflow[True]  # YAML 1.1: bare `on` is true
    assert {"push", "pull_request"} <= set(triggers)
    job = workflow["jobs"]["test"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r">=\s*([\d.]+)", requires)
    assert minimum is not None and minimum.group(1) in job["strategy"]["matrix"]["python"]
    uses = [step.get("uses", "") for step in _steps()]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/setup-python@") for u in uses)


def test_unix_runners_run_exactly_the_readme_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scripts/test" in readme
    unix = [s for s in _steps() if s.get("if") == "runner.os != 'Windows'" and "run" in s]
    assert [s["run"].strip() for s in unix] == ["scripts/test"]
    assert (ROOT / "scripts" / "test").is_file()


def test_windows_runs_the_same_checks_as_scripts_test() -> None:
    checks = [
        line.strip().replace(' "$@"', "").replace(".venv/bin/", ".venv/Scripts/")
        for line in (ROOT / "scripts" / "test").read_text().splitlines()
        if line.strip().startswith(".venv/bin/")
    ]
    assert len(checks) >= 4  # ruff, ruff format, mypy, pytest
    windows = "\n".join(s["run"] for s in _steps() if s.get("if") == "runner.os == 'Windows'" and "run" in s)
    for check in checks:
        assert check in windows, f"{check!r} is in scripts/test but not in the Windows steps"
    assert all(
        s.get("shell") == "bash" for s in _steps() if s.get("if") == "runner.os == 'Windows'" and "run" in s
    ), "PowerShell would not stop at a failing command"
