"""The workspace's queue token: minted once (0600), read by every client, overridden by the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autonomic import api_token
from autonomic.errors import StateError
from autonomic.scaffold import init
from autonomic.workspace import Workspace


def test_minted_once_private_and_read_back(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    assert api_token.read(workspace) is None
    token, minted = api_token.mint(workspace)
    assert minted and len(token) >= 32 and api_token.read(workspace) == token
    assert stat.S_IMODE(workspace.token_file.stat().st_mode) == 0o600
    assert api_token.mint(workspace) == (token, False)  # never replaced
    report = init(workspace)  # init keeps it too
    assert workspace.token_file in report.kept and api_token.read(workspace) == token


def test_a_client_prefers_what_it_was_given_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace.at(tmp_path)
    token, _ = api_token.mint(workspace)
    monkeypatch.delenv(api_token.ENV_VAR, raising=False)
    assert api_token.for_client(workspace) == token
    monkeypatch.setenv(api_token.ENV_VAR, "from-env")
    assert api_token.for_client(workspace) == "from-env"
    assert api_token.for_client(workspace, "given") == "given"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_token_is_a_state_error(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    api_token.mint(workspace)
    workspace.token_file.chmod(0)
    with pytest.raises(StateError, match="cannot read the queue token"):
        api_token.read(workspace)


def test_a_token_that_is_a_folder_is_a_state_error(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    workspace.token_file.mkdir(parents=True)
    with pytest.raises(StateError, match="cannot read the queue token"):
        api_token.read(workspace)
