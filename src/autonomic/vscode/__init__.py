"""The SEED.md VS Code tasks, merged into the workspace's `.vscode/tasks.json`."""
