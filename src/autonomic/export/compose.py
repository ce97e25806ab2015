"""A Compose file (`compose.yaml`): one service per workspace service, on the host's network, with the
workspace mounted at its own path so every path in the plan holds inside the container.

The image must hold the project's Python environment (`--image`, default `python:3.12-slim` plus
what the README says); this interpreter's path in a command becomes `python`. Probes become
healthchecks run with that Python (http, tcp, heartbeat age, or the probe's own command), and `after`
becomes `depends_on` with `service_healthy` where the dependency has one. `.env` is an `env_file`.
Written as YAML by hand (every string a double-quoted scalar), so exporting needs no YAML library.
"""

from __future__ import annotations

import json
import re
from typing import Any

from autonomic.export.app import App
from autonomic.probes import ProbeKind, ProbeSpec
from autonomic.supervisor.spec import RestartPolicy, ServiceSpec

DEFAULT_IMAGE = "python:3.12-slim"
RESTART = {RestartPolicy.ALWAYS: "always", RestartPolicy.ON_FAILURE: "on-failure", RestartPolicy.NEVER: "no"}
HTTP_CHECK = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))"
TCP_CHECK = (
    "import socket, sys; h, _, p = sys.argv[1].rpartition(':'); socket.create_connection((h, int(p)), 5)"
)
AGE_CHECK = "import os, sys, time; sys.exit(time.time() - os.path.getmtime(sys.argv[1]) > float(sys.argv[2]))"


def render(app: App, image: str = DEFAULT_IMAGE) -> dict[str, str]:
    checks = {s.name: _healthcheck(app, s.probe) for s in app.services}
    services = {s.name: _service(app, s, image, checks) for s in app.services}
    document = {"name": app.name, "services": services}
    return {"compose.yaml": f"# autonomic export compose: the services of {app.root}\n" + dump(document)}


def _service(
    app: App, spec: ServiceSpec, image: str, checks: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    root = str(app.root)
    out: dict[str, Any] = {
        "image": image,
        "command": app.plain_argv(spec.argv),
        "working_dir": spec.cwd,
        "volumes": [f"{root}:{root}"],
        "network_mode": "host",
        "env_file": [str(app.env_file)],
        "environment": {"PYTHONUNBUFFERED": "1", **spec.env},
        "restart": RESTART[spec.restart],
        "stop_signal": spec.stop_signal,
        "stop_grace_period": _duration(spec.stop_timeout),
    }
    if not spec.autostart:
        out["profiles"] = ["manual"]
    if spec.after:
        out["depends_on"] = {
            name: {"condition": "service_healthy" if checks.get(name) else "service_started"}
            for name in spec.after
        }
    if checks[spec.name]:
        out["healthcheck"] = checks[spec.name]
    return out


def _healthcheck(app: App, probe: ProbeSpec | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    target = probe.target
    if probe.kind is ProbeKind.HTTP:
        test = ["CMD", "python", "-c", HTTP_CHECK, str(target), f"{probe.timeout:g}"]
    elif probe.kind is ProbeKind.TCP:
        test = ["CMD", "python", "-c", TCP_CHECK, str(target)]
    elif probe.kind is ProbeKind.HEARTBEAT:
        test = ["CMD", "python", "-c", AGE_CHECK, str(target), f"{probe.max_age:g}"]
    elif probe.kind is ProbeKind.COMMAND and isinstance(target, list) and target:
        test = ["CMD", *app.plain_argv(list(target))]
    else:
        return None
    return {
        "test": test,
        "interval": _duration(probe.interval),
        "timeout": _duration(probe.timeout),
        "retries": probe.failures,
    }


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


# --- a small YAML writer: block maps and lists, double-quoted strings --------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def dump(value: dict[str, Any]) -> str:
    return "".join(_lines(value, 0))


def _lines(value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{name}:\n")
                out.extend(_lines(item, depth + 1))
            else:
                out.append(f"{pad}{name}: {_scalar(item)}\n")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = _lines(item, depth + 1)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}\n")
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    # `$$` is Compose's escape for a literal `$` (it interpolates variables in every value)
    return json.dumps(str(value).replace("$", "$$"), ensure_ascii=False)
