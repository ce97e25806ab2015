"""The Monitoring Daemon (core service `monitor`): samples the system, the supervised services and the
queue; raises alerts that do not spam; writes the seed's reports; serves a live dashboard and /metrics.

Run as `python -m autonomic.monitor --workspace DIR` (what the orchestrator runs: no CLI libraries, to
keep its RSS small) or `autonomic monitor` in a terminal.
"""
