"""Daily snapshots of a workspace: build, verify, restore, retention."""
