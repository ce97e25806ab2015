"""systemd units: one `<app>-<service>.service` per service and an `<app>.target` that wants them all.

Command lines are written by the orchestrator's own renderer (`autonomic.platform.systemd`), so they
quote exactly as `autonomic boot register` does. Restart policies map to `Restart=`; `after` to
`After=`/`Wants=`; `.env` is read through `EnvironmentFile=` (never copied into a unit). Without
`--user` they are user units (`~/.config/systemd/user`); with it, system units run as that user.
"""

from __future__ import annotations

from autonomic.export.app import App
from autonomic.platform.systemd import command_line
from autonomic.supervisor.spec import RestartPolicy, ServiceSpec

RESTART = {RestartPolicy.ALWAYS: "always", RestartPolicy.ON_FAILURE: "on-failure", RestartPolicy.NEVER: "no"}


def render(app: App, user: str | None = None) -> dict[str, str]:
    files = {f"{app.unit(s.name)}.service": _service(app, s, user) for s in app.services}
    files[f"{app.name}.target"] = _target(app, user)
    return files


def _target(app: App, user: str | None) -> str:
    wanted = " ".join(f"{app.unit(s.name)}.service" for s in app.services if s.autostart)
    return (
        "[Unit]\n"
        f"Description=autonomic services of {_text(str(app.root))}\n"
        + (f"Wants={wanted}\n" if wanted else "")
        + "\n[Install]\n"
        f"WantedBy={'multi-user.target' if user else 'default.target'}\n"
    )


def _service(app: App, spec: ServiceSpec, user: str | None) -> str:
    deps = " ".join(f"{app.unit(name)}.service" for name in spec.after)
    lines = [
        "[Unit]",
        f"Description={app.name}: {spec.name}",
        f"PartOf={app.name}.target",
        *([f"After={deps}", f"Wants={deps}"] if deps else []),
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
        *([f"User={user}"] if user else []),
        f"WorkingDirectory={_text(spec.cwd)}",
        f"EnvironmentFile=-{_text(str(app.env_file))}",
        "Environment=PYTHONUNBUFFERED=1",
        *(f"Environment={_assignment(k, v)}" for k, v in sorted(spec.env.items())),
        f"ExecStart={command_line(app.absolute_argv(spec))}",
        f"Restart={RESTART[spec.restart]}",
        f"RestartSec={_seconds(max(spec.backoff.initial, 0.1))}",
        f"KillSignal={spec.stop_signal}",
        f"TimeoutStopSec={_seconds(spec.stop_timeout)}",
        "",
        "[Install]",
        f"WantedBy={app.name}.target",
    ]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    """A plain setting: the rest of the line, with specifiers (`%`) escaped."""
    return value.replace("%", "%%").replace("\n", " ")


def _assignment(key: str, value: str) -> str:
    body = f"{key}={value}".replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


def _seconds(value: float) -> str:
    return f"{value:g}s" if value < 1 else f"{round(value)}s"
