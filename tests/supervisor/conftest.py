"""A workspace factory for orchestrator tests: built-in services off, test services declared inline."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autonomic import scaffold
from autonomic.workspace import Workspace
from tests.helpers import kill_tree, run_cli, workspace_pids

PROGRAM = str(Path(__file__).parents[1] / "programs" / "service.py")


def service_command(*flags: str) -> list[str]:
    return [sys.executable, PROGRAM, *flags]


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


class Stack:
    """A workspace with services; `up`, `status`, `down` through the real CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workspace = Workspace.at(root)

    def write(self, services: dict[str, dict[str, Any]], extra: str = "") -> None:
        lines = ["[queue]", "enabled = false", "[worker]", "enabled = false", extra]
        lines[-1:-1] = ["[monitor]", "enabled = false", "[watchdog]", "enabled = false"]
        for name, table in services.items():
            lines.append(f"[services.{name}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
        self.workspace.config_file.write_text("\n".join(lines) + "\n")

    def cli(self, *args: str, timeout: float = 60.0) -> Any:
        return run_cli(*args, "-w", str(self.root), timeout=timeout)

    def up(self, timeout: float = 30.0) -> None:
        result = self.cli("up", "--timeout", str(timeout), timeout=timeout + 30)
        assert result.returncode == 0, result.stderr + result.stdout

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.stdout, result.stderr
        status = dict(json.loads(result.stdout))
        assert result.returncode == (0 if status["ok"] else 3), result.stderr  # 3: no orchestrator
        return status

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status()["services"] if s["name"] == name)

    def events(self, target: str | None = None) -> list[dict[str, Any]]:
        path = self.workspace.orchestrator_log
        if not path.exists():
            return []
        events = [json.loads(line) for line in path.read_text().splitlines()]
        return [e for e in events if target is None or e["target"] == target]

    def orchestrator_pid(self) -> int:
        return int(json.loads(self.workspace.control_file.read_text())["pid"])

    def path(self, name: str) -> Path:
        return self.root / name


@pytest.fixture
def stack(tmp_workspace: Path) -> Iterator[Stack]:
    scaffold.init(Workspace.at(tmp_workspace))
    made = Stack(tmp_workspace)
    yield made
    made.cli("down", timeout=60)
    kill_tree(workspace_pids(tmp_workspace))


StackFactory = Callable[[], Stack]
