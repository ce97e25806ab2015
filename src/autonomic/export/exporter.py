"""Write the files of one export into a folder: each atomically, our own earlier ones replaced, and a
README.txt saying how to install them and what the engine does not take over from the orchestrator."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from autonomic import atomic
from autonomic.errors import UsageError
from autonomic.export import compose, launchd, systemd
from autonomic.export.app import App
from autonomic.probes import ProbeKind


class Format(StrEnum):
    SYSTEMD = "systemd"
    LAUNCHD = "launchd"
    COMPOSE = "compose"


def render(fmt: Format, app: App, *, user: str | None = None, image: str | None = None) -> dict[str, bytes]:
    """The files of the export, by name (nothing written)."""
    if not app.services:
        raise UsageError("this workspace has no services to export (autonomic.toml enables none)")
    if fmt is Format.SYSTEMD:
        files: dict[str, str | bytes] = dict(systemd.render(app, user))
    elif fmt is Format.LAUNCHD:
        files = dict(launchd.render(app))
    else:
        files = dict(compose.render(app, image or compose.DEFAULT_IMAGE))
    files["README.txt"] = _readme(fmt, app, list(files), user)
    return {name: data.encode() if isinstance(data, str) else data for name, data in files.items()}


def write(dest: Path, files: dict[str, bytes]) -> list[Path]:
    """Write `files` into `dest` (created if missing); returns the paths written."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest}: exists and is not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in files.items():
            atomic.write_bytes(dest / name, data, mode=0o644)
            written.append(dest / name)
    except OSError as exc:
        raise UsageError(f"{dest}: cannot write the export ({exc.strerror or exc})") from None
    return written


def _readme(fmt: Format, app: App, names: list[str], user: str | None) -> str:
    heartbeat = [s.name for s in app.services if s.probe is not None and s.probe.kind is ProbeKind.HEARTBEAT]
    probed = [s.name for s in app.services if s.probe is not None]
    lines = [f"autonomic export {fmt.value} of {app.root} ({len(app.services)} services)", ""]
    if fmt is Format.SYSTEMD:
        where = "/etc/systemd/system" if user else "~/.config/systemd/user"
        ctl = "systemctl" if user else "systemctl --user"
        lines += [
            f"Install: copy the files to {where}, then",
            f"  {ctl} daemon-reload && {ctl} enable --now {app.name}.target",
            "The services read the workspace's .env through EnvironmentFile= (its values are not copied).",
        ]
    elif fmt is Format.LAUNCHD:
        lines += [
            "Install: copy the .plist files to ~/Library/LaunchAgents, then for each:",
            "  launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/<file>.plist",
            "launchd has no env file and no dependencies: .env values are NOT in the plists (no secrets",
            "in ~/Library); services that need them must read .env themselves. All start at once.",
        ]
    else:
        lines += [
            "Run: docker compose -f compose.yaml up -d   (the image must hold the project's Python",
            "environment: autonomic and the project's requirements; this interpreter became `python`).",
            "Every service uses the host's network and the workspace mounted at its own path.",
        ]
    lines += ["", "Not taken over from the orchestrator:"]
    if probed and fmt is not Format.COMPOSE:
        lines.append(f"- health probes ({', '.join(probed)}): a hung service is not restarted")
    if heartbeat and fmt is Format.COMPOSE:
        lines.append("- a failing healthcheck marks a container unhealthy; Compose does not restart it")
    lines += ["- jobs (upgrade checks, overdue backups) and the backoff's cooldown", "", "Files:"]
    lines += [f"- {name}" for name in names]
    return "\n".join(lines) + "\n"
