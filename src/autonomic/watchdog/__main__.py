"""`python -m autonomic.watchdog --workspace DIR`: the watchdog process itself (core service `watchdog`).

Like the orchestrator, it imports neither typer, rich, pydantic nor httpx: the CLI validated the config
and put the settings on this command line; the services to look at come from `.autonomic/plan.json`."""

from __future__ import annotations

import argparse
import sys


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autonomic.watchdog", description=__doc__)
    parser.add_argument("--workspace", required=True, help="the workspace folder")
    parser.add_argument("--interval", type=_positive, default=30.0, help="seconds between looks")
    parser.add_argument(
        "--timeout", type=_positive, default=5.0, help="seconds the orchestrator gets to answer"
    )
    parser.add_argument("--log-max-bytes", type=int, default=5 * 1024 * 1024, help="rotate the log past this")
    args = parser.parse_args(argv)
    from autonomic.supervisor.__main__ import _import_asyncio_without_ssl

    _import_asyncio_without_ssl()  # the orchestrator's trick: asyncio without ssl (~5 MB less)
    from autonomic.watchdog.daemon import run_watchdog
    from autonomic.watchdog.watchdog import WatchdogOptions

    options = WatchdogOptions(args.interval, args.timeout, max(64 * 1024, args.log_max_bytes))
    return run_watchdog(args.workspace, options)


if __name__ == "__main__":
    sys.exit(main())
