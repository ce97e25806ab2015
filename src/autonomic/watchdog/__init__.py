"""The Self-Healing Watchdog: a lean process that watches the orchestrator (and revives it) and takes a
second look at every service. Run as `python -m autonomic.watchdog --workspace DIR` (the core service
`watchdog`); this package imports neither the CLI libraries nor pydantic outside `settings.py`."""
