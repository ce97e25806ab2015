"""`python -m autonomic.monitor --workspace DIR`: the monitor as the orchestrator runs it (no CLI
libraries)."""

from autonomic.monitor.run import main

main()
