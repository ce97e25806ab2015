"""`autonomic init`: make a folder a workspace. Idempotent; never overwrites a file the user has."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autonomic import api_token, atomic
from autonomic.values import Capability
from autonomic.workspace import Workspace

CONFIG_TEMPLATE = """\
# autonomic.toml: what autonomic keeps running in this workspace.
# Durations are strings like "500ms", "30s", "5m"; sizes like "10MB".
# Reference: every key is checked; an unknown key is an error that names it.

[queue]                      # the Task Queue Server (built-in service "queue")
port = 8091
bind = "127.0.0.1"           # any non-loopback bind requires the token
require_token = true         # the token is in .autonomic/token (0600); the CLI and client read it
# store = "sqlite:///.autonomic/queue.db"   # the default
# store = "postgresql://app:${QUEUE_DB_PASSWORD}@db-host/autonomic"   # several servers, one queue
# lease = "120s"             # how long a claimed task is held before it is handed out again
# max_attempts = 5           # then the task goes to the dead-letter queue
# busy_poll = "0.2ms"        # stay awake this long after answering, for the caller's next request; "0s": off

[worker]                     # the RPA Worker (built-in service "worker", starts after "queue")
concurrency = 2
allow = []                   # opt-in, any of: CAPABILITIES
# prefetch = 4               # tasks held in reserve per slot (claimed in one request); 0 for long tasks
# lease = "60s"              # how long a claimed task is held; extended while it runs or waits
# task_timeout = "300s"
# python_modules = ["mypkg.jobs", "tools.*"]   # what `python` tasks may call
# shell_commands = ["git status*"]             # globs a `shell` command line must match
# drain_timeout = "20s"      # on stop: time running tasks get to finish before they are released
# server = "http://queue-host:8091"            # run against another host's queue

[logs]                       # logs/<service>.log, rotated by size
max_size = "10MB"
keep = 5

# [monitor]                  # the Monitoring Daemon (built-in service "monitor"): samples in
#                            # outputs/system_metrics.jsonl, reports in outputs/, `autonomic dashboard`
# interval = "10s"           # one sample of the system, every service and the queue
# port = 8092                # the live dashboard and /metrics (loopback; the token or a dashboard login)
# notify = false             # also show alerts as desktop notifications
# keep_days = 14             # daily sample files kept (gzipped); max_size = "50MB" bounds them all
# [monitor.alerts]           # thresholds; an alert fires once a condition held `for`, then resolves once
# for = "30s"
# cooldown = "15m"
# disk_percent = 90
# memory_percent = 90
# restarts_per_hour = 5

[backup]                     # daily snapshots in backups/YYYYMMDD_HHMMSS/ (autonomic backup run|list|...)
at = "03:30"                 # local time of the daily run (autonomic backup schedule register)
keep_days = 14               # older snapshots are pruned; the newest good one is always kept
# keep_daily = 30            # also keep the newest snapshot of each of 30 more days
# keep_weekly = 8            # ... and of each of 8 more weeks
# dir = "/mnt/backup/myproj" # another disk (default: backups/ in the workspace)
# include = ["data/*.csv"]   # extra files into configs/ (globs relative to the workspace)
# exclude = ["outputs/big_*"]

[boot]                       # start the orchestrator at logon (autonomic boot register|unregister|status)
enabled = true               # `autonomic health --fix` re-registers the entry when missing or stale
delay = "30s"                # after logon, before the orchestrator starts (read at boot time)
# restart_after = "5s"       # how soon the OS restarts an orchestrator that died (systemd RestartSec)

[upgrade]                    # after a git pull: install deps, restart what changed, roll back if unhealthy
enabled = true               # checks at start, then every `interval`; git hooks: upgrade install-hooks
interval = "5m"
health_timeout = "60s"       # restarted services must be running with probes passing by then
# python = ".venv/bin/python"  # where pip installs (default: the workspace's .venv, else autonomic's)
# pip_args = ["--no-index", "--find-links", "wheels"]
# npm_args = ["--prefer-offline"]

[watchdog]                   # the Self-Healing Watchdog (built-in service "watchdog")
interval = "30s"             # one look at the orchestrator and every service (the original looked every "5m")
# timeout = "5s"             # the orchestrator's time to answer; two unanswered looks: killed, revived

# A service of your own. Uncomment and adapt:
# [services.bot]
# command = ["python", "bots/telegram.py"]   # or a string: "python bots/telegram.py"
# cwd = "."                                  # relative to this file
# after = ["queue"]                          # start once these pass their health probe
# restart = "always"                         # always | on-failure | never
# env = { LOG_LEVEL = "info" }               # .env is loaded for every service too
# health = { http = "http://127.0.0.1:9000/health", interval = "5s", timeout = "2s", failures = 3 }
# # other probes: { tcp = "127.0.0.1:5432" }, { heartbeat = "outputs/bot.heartbeat", max_age = "60s" },
# #               { command = ["./check.sh"] }; no health = "the process is alive"
# stop_signal = "SIGTERM"
# stop_timeout = "10s"                       # then SIGKILL for the whole process group
# backoff = { initial = "0.5s", max = "30s", reset_after = "10s", max_failures = 8, cooldown = "5m" }
# watch = ["bots/", "shared/*.py"]           # files whose change in a pull restarts it (default: its cwd,
# #                                            or the files its command names when cwd is this folder)
"""

CONFIG_TEMPLATE = CONFIG_TEMPLATE.replace("CAPABILITIES", Capability.words())

ENV_TEMPLATE = """\
# Secrets for your services: KEY=value lines, loaded into every service's environment.
# Never logged; this file is readable by you alone and listed in .gitignore.
"""

GITIGNORE_LINES = (".env", ".autonomic/", "logs/", "backups/")


@dataclass
class InitReport:
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def init(workspace: Workspace) -> InitReport:
    """Create what is missing of the workspace layout and report what was created and what was kept."""
    report = InitReport()
    workspace.root.mkdir(parents=True, exist_ok=True)
    for folder in (workspace.outputs, workspace.logs, workspace.state_dir, workspace.records_dir):
        if not folder.exists():
            report.created.append(folder)
    workspace.ensure_dirs()
    _create(workspace.config_file, CONFIG_TEMPLATE, 0o644, report)
    _create(workspace.env_file, ENV_TEMPLATE, 0o600, report)
    if workspace.env_file.exists() and os.name == "posix":
        os.chmod(workspace.env_file, 0o600)
    _token, minted = api_token.mint(workspace)
    (report.created if minted else report.kept).append(workspace.token_file)
    _extend_gitignore(workspace.gitignore, report)
    return report


def _create(path: Path, text: str, mode: int, report: InitReport) -> None:
    if path.exists():
        report.kept.append(path)
        return
    atomic.write_text(path, text, mode)
    report.created.append(path)


def _extend_gitignore(path: Path, report: InitReport) -> None:
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        report.kept.append(path)
        return
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    atomic.write_text(path, prefix + "# autonomic\n" + "\n".join(missing) + "\n", 0o644)
    (report.kept if existing else report.created).append(path)
