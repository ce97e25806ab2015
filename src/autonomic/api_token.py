"""The queue API token of a workspace (`.autonomic/token`, 0600): read and minted here and nowhere else.

`autonomic init` mints it, the queue server mints it if `init` left none (so a required token always
exists), and every client of the workspace's own server reads it. `AUTONOMIC_TOKEN` in the
environment overrides the file for the clients that run elsewhere (`autonomic worker --server ...`).
"""

from __future__ import annotations

import os
import secrets

from autonomic import atomic
from autonomic.errors import StateError
from autonomic.workspace import Workspace

ENV_VAR = "AUTONOMIC_TOKEN"


def read(workspace: Workspace) -> str | None:
    """The workspace's token, or None when it has none (an unreadable file is a `StateError`)."""
    try:
        return workspace.token_file.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{workspace.token_file}: cannot read the queue token: {exc}") from None


def for_client(workspace: Workspace, given: str | None = None) -> str | None:
    """What a client sends: the token it was given, else $AUTONOMIC_TOKEN, else the workspace's."""
    if given:
        return given
    return os.environ.get(ENV_VAR) or read(workspace)


def mint(workspace: Workspace) -> tuple[str, bool]:
    """The workspace's token, created (0600, atomically) when there is none; True if it was created."""
    found = read(workspace)
    if found is not None:
        return found, False
    token = secrets.token_urlsafe(32)
    atomic.write_text(workspace.token_file, token + "\n", 0o600)
    return token, True
