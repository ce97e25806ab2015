"""`python -m autonomic.supervisor --workspace DIR`: the orchestrator process itself.

This entry imports only what the orchestrator needs (no typer, rich, pydantic or httpx), so an idle
orchestrator stays small. The CLI resolves and validates the config and hands over `.autonomic/plan.json`."""

from __future__ import annotations

import argparse
import sys


def _import_asyncio_without_ssl() -> None:
    """asyncio imports ssl eagerly (~5 MB of RSS), yet the orchestrator never speaks TLS through asyncio.
    Hide ssl while asyncio loads (it is written to run without it), then unhide it so an https:// probe
    can still load it on demand."""
    if "ssl" in sys.modules or "asyncio" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autonomic.supervisor", description=__doc__)
    parser.add_argument("--workspace", required=True, help="the workspace folder")
    args = parser.parse_args(argv)
    _import_asyncio_without_ssl()
    from autonomic.supervisor.daemon import run_daemon

    return run_daemon(args.workspace)


if __name__ == "__main__":
    sys.exit(main())
