"""launchd LaunchAgents: one `io.autonomic.<app>.<service>.plist` per service.

`always` keeps the job alive, `on-failure` only after an unclean exit (`KeepAlive.SuccessfulExit`),
`never` runs it once. Output goes to the workspace's `logs/<service>.log`. launchd has no
dependencies between jobs and no env file: `.env` values are not copied into the plists (they would
put secrets in files under ~/Library); the README lists the services that need them.
"""

from __future__ import annotations

import plistlib
from typing import Any

from autonomic.export.app import App
from autonomic.supervisor.spec import RestartPolicy, ServiceSpec


def label(app: App, service: str) -> str:
    return f"io.autonomic.{app.name}.{service}"


def render(app: App) -> dict[str, bytes]:
    return {f"{label(app, s.name)}.plist": _plist(app, s) for s in app.services}


def _plist(app: App, spec: ServiceSpec) -> bytes:
    log = str(app.root / "logs" / f"{spec.name}.log")
    keep: Any = {
        RestartPolicy.ALWAYS: True,
        RestartPolicy.ON_FAILURE: {"SuccessfulExit": False},
        RestartPolicy.NEVER: False,
    }[spec.restart]
    plist: dict[str, Any] = {
        "Label": label(app, spec.name),
        "ProgramArguments": app.absolute_argv(spec),
        "WorkingDirectory": spec.cwd,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **spec.env},
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "RunAtLoad": spec.autostart,
        "KeepAlive": keep,
        "ThrottleInterval": max(1, round(spec.backoff.initial)),
        "ExitTimeOut": max(1, round(spec.stop_timeout)),
        "ProcessType": "Background",
    }
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)
