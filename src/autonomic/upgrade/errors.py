"""What the upgrade package raises on purpose; the classes live in the one tree, `autonomic.errors`."""

from __future__ import annotations

from autonomic.errors import UpgradeBusy, UpgradeError, UpgradeRefused

__all__ = ["UpgradeBusy", "UpgradeError", "UpgradeRefused"]
