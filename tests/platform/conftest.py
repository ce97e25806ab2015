from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autonomic.platform.registration import Entry, Purpose, backup_argv, boot_argv
from tests.platform.fakes import FakeTools


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME: nothing a test registers can reach the real user's files."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return folder


@pytest.fixture
def workspace_root(tmp_path: Path) -> Path:
    """A folder with an autonomic.toml, under a name with a space and a quote to test the quoting."""
    root = tmp_path / "my proj's ws"
    root.mkdir()
    (root / "autonomic.toml").write_text("", encoding="utf-8")
    return root


@pytest.fixture
def tools() -> FakeTools:
    return FakeTools()


@pytest.fixture
def boot(workspace_root: Path) -> Entry:
    return Entry(
        Purpose.BOOT,
        workspace_root,
        boot_argv(workspace_root, sys.executable),
        delay=30.0,
        log=workspace_root / "logs" / "boot.log",
    )


@pytest.fixture
def backup(workspace_root: Path) -> Entry:
    return Entry(
        Purpose.BACKUP,
        workspace_root,
        backup_argv(workspace_root, sys.executable),
        at=(3, 30),
        log=workspace_root / "logs" / "backup-schedule.log",
    )
