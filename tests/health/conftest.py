from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.health.support import Site


@pytest.fixture
def site(tmp_workspace: Path, tmp_path: Path) -> Iterator[Site]:
    """A workspace for a real stack; whatever it started is stopped at the end."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    made = Site(tmp_workspace, home)
    yield made
    made.down()
