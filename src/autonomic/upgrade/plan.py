"""The diff between the applied commit and HEAD turned into an ordered plan: check the config, install
Python and npm dependencies, make new scripts executable, refresh the VS Code tasks, reload the config,
restart only the services whose files changed (in dependency order)."""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

import autonomic
from autonomic import config as configs
from autonomic.errors import ConfigError
from autonomic.supervisor.spec import ServiceSpec
from autonomic.upgrade.interpreter import Interpreter
from autonomic.upgrade.repository import Change, Repository
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.workspace import Workspace

PYTHON_LOCKS = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock", "pylock.toml")
NPM_FILES = ("package.json", "package-lock.json", "npm-shrinkwrap.json")
NODE_PROGRAMS = frozenset({"node", "npm", "npx", "yarn", "pnpm", "bun", "tsx", "ts-node", "deno"})


class StepKind(StrEnum):
    PIP = "pip"
    NPM = "npm"
    PERMISSIONS = "permissions"
    VSCODE = "vscode"


@dataclass(frozen=True)
class Step:
    """One command (or chmod) of the plan. `target` is the repository path it is about."""

    kind: StepKind
    target: str
    argv: list[str] = field(default_factory=list)
    cwd: str = ""
    summary: str = ""  # what it does, for a person

    def describe(self) -> str:
        if self.kind is StepKind.PERMISSIONS:
            return f"make {self.target} executable"
        return self.summary or " ".join(short_argv(self.argv))


@dataclass
class UpgradePlan:
    previous: str
    head: str
    changes: list[Change]
    config_changed: bool = False
    config_error: str | None = None
    steps: list[Step] = field(default_factory=list)
    restarts: dict[str, str] = field(default_factory=dict)  # service -> why, in dependency order
    python_services: list[str] = field(default_factory=list)  # restarted if an installed package moves
    npm_folders: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # every service, dependencies first
    python: str = ""  # the interpreter pip installs into
    self_upgrade: bool = False  # autonomic's own code is in this repository and changed

    def restarts_order(self, names: dict[str, str]) -> list[str]:
        """`names` in dependency order."""
        return [n for n in self.order if n in names]

    @property
    def pip_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind is StepKind.PIP]

    def describe(self) -> list[str]:
        """The plan as lines for a person (what `--dry-run` prints)."""
        lines = [f"{len(self.changes)} path(s) changed between {self.previous[:10]} and {self.head[:10]}"]
        if self.config_changed:
            lines.append(
                f"autonomic.toml changed: REFUSED, {self.config_error}"
                if self.config_error
                else "autonomic.toml changed: valid; the orchestrator reloads it"
            )
        elif self.config_error:
            lines.append(f"REFUSED until fixed: {self.config_error} (an edit in the work tree)")
        if self.pip_steps:
            lines.append(f"Python packages go to {self.python}")
        lines += [f"{s.kind.value}: {s.describe()}" for s in self.steps]
        lines += [f"restart {name}: {why}" for name, why in self.restarts.items()]
        if self.python_services and self.pip_steps:
            names = ", ".join(self.python_services)
            lines.append(f"restart if an installed Python package changes version: {names}")
        lines += [f"note: {n}" for n in self.notes]
        if len(lines) == 1:
            lines.append("nothing to install or restart")
        return lines


def build(
    workspace: Workspace,
    repo: Repository,
    previous: str,
    head: str,
    changes: list[Change],
    settings: UpgradeSettings,
    interpreter: Interpreter,
) -> UpgradePlan:
    """Everything an upgrade from `previous` to `head` would do, without doing any of it."""
    plan = UpgradePlan(previous, head, changes, python=str(interpreter.path))
    present = [c for c in changes if not c.removed]
    config_path = repo.relative(workspace.config_file)
    plan.config_changed = any(c.path == config_path for c in changes)
    try:
        config = configs.load(workspace)
    except ConfigError as exc:
        plan.config_error = str(exc)
        return plan
    plan.steps += _python_steps(repo, present, settings, interpreter, plan.notes)
    plan.steps += _npm_steps(repo, present, settings, plan.npm_folders)
    plan.steps += _permission_steps(repo, present)
    plan.steps += _vscode_steps(workspace, repo, changes)
    mapper = _ServiceFiles(workspace, repo, config)
    plan.restarts = mapper.restarts(changes, plan.npm_folders)
    plan.python_services = [n for n in mapper.order if interpreter.runs(mapper.argv[n])]
    plan.order = mapper.order
    plan.self_upgrade = any(_matches(c.path, mapper.package) for c in changes)
    if plan.self_upgrade:
        plan.notes.append("autonomic itself changed: the orchestrator restarts too (services keep running)")
    return plan


def _python_steps(
    repo: Repository,
    present: list[Change],
    settings: UpgradeSettings,
    interpreter: Interpreter,
    notes: list[str],
) -> list[Step]:
    projects: set[str] = set()
    requirements: list[str] = []
    for change in present:
        path = PurePosixPath(change.path)
        if fnmatch.fnmatch(path.name, "requirements*.txt"):
            requirements.append(change.path)
        elif path.name == "pyproject.toml" or path.name in PYTHON_LOCKS:
            folder = str(path.parent)
            if _is_project(repo.top / folder / "pyproject.toml"):
                projects.add(folder)
            elif path.name == "pyproject.toml":
                notes.append(f"{change.path}: no [project] table (tool settings only); nothing to install")
            else:
                notes.append(f"{change.path}: a lock file without a pyproject.toml project; not installed")
    steps = [
        Step(
            StepKind.PIP,
            "pyproject.toml" if folder == "." else f"{folder}/pyproject.toml",
            interpreter.pip("install", *settings.pip_args, "-e", str(repo.top / folder)),
            str(repo.top / folder),
            f"pip install -e {folder}",
        )
        for folder in sorted(projects)
    ]
    for requirement in requirements:
        full = repo.top / requirement
        steps.append(
            Step(
                StepKind.PIP,
                requirement,
                interpreter.pip("install", *settings.pip_args, "-r", str(full)),
                str(full.parent),
                f"pip install -r {requirement}",
            )
        )
    return steps


def _is_project(pyproject: Path) -> bool:
    try:
        return "project" in tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def npm_argv(folder: Path, settings: UpgradeSettings) -> list[str]:
    """`npm ci` when a lock file pins the tree, else `npm install`; never audit or fund calls."""
    locked = any((folder / name).exists() for name in NPM_FILES[1:])
    npm = shutil.which("npm") or "npm"
    return [npm, "ci" if locked else "install", "--no-audit", "--no-fund", *settings.npm_args]


def _npm_steps(
    repo: Repository, present: list[Change], settings: UpgradeSettings, folders_out: list[str]
) -> list[Step]:
    folders = sorted(
        {str(PurePosixPath(c.path).parent) for c in present if PurePosixPath(c.path).name in NPM_FILES}
    )
    steps = []
    for folder in folders:
        full = repo.top / folder
        if not (full / "package.json").is_file():
            continue
        folders_out.append(folder)
        target = "package.json" if folder == "." else f"{folder}/package.json"
        argv = npm_argv(full, settings)
        steps.append(Step(StepKind.NPM, target, argv, str(full), f"npm {argv[1]} in {folder}"))
    return steps


def _permission_steps(repo: Repository, present: list[Change]) -> list[Step]:
    if os.name != "posix":
        return []
    return [
        Step(StepKind.PERMISSIONS, change.path)
        for change in present
        if _wants_exec(repo.top / change.path, PurePosixPath(change.path))
    ]


def _wants_exec(full: Path, path: PurePosixPath) -> bool:
    try:
        if full.is_symlink() or not full.is_file() or full.stat().st_mode & 0o111:
            return False
        if "scripts" in path.parts[:-1]:
            return True
        with open(full, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _vscode_steps(workspace: Workspace, repo: Repository, changes: list[Change]) -> list[Step]:
    """Our tasks are merged into .vscode/tasks.json: if a pull replaced that file, merge them in again."""
    try:
        tasks = repo.relative(workspace.vscode_tasks)
    except ValueError:
        return []
    ours = (
        repo.relative(Path(autonomic.__file__).parent)
        if _inside(Path(autonomic.__file__), repo.top)
        else None
    )
    pulled = any(c.path == tasks and not c.removed for c in changes)  # the pull replaced the file
    upgraded = (
        ours is not None and workspace.vscode_tasks.exists() and any(_matches(c.path, ours) for c in changes)
    )
    if not pulled and not upgraded:  # (or autonomic itself, whose task list may have changed)
        return []
    if importlib.util.find_spec("autonomic.vscode") is None:
        return []
    argv = [sys.executable, "-m", "autonomic", "vscode", "install", "--workspace", str(workspace.root)]
    return [Step(StepKind.VSCODE, tasks, argv, str(workspace.root), "autonomic vscode install")]


class _ServiceFiles:
    """Which files belong to which user service: its `watch` globs if declared, else its `cwd` when that
    is a folder of its own, else the files its command names (e.g. `python bots/bot.py`)."""

    def __init__(self, workspace: Workspace, repo: Repository, config: configs.Config) -> None:
        self.repo = repo
        resolved = configs.plan(config, workspace)
        self.order = [s.name for s in _by_depth(resolved.services)]
        self.argv = {s.name: s.argv for s in resolved.services}
        self.cwd = {s.name: Path(s.cwd) for s in resolved.services}
        self.patterns: dict[str, list[str]] = {}
        for name, service in config.services.items():
            self.patterns[name] = self._patterns(workspace, service, self.cwd[name], self.argv[name])
        package = self._rel(Path(autonomic.__file__).parent)  # autonomic itself, when it lives here
        self.package = package
        for spec in resolved.services:
            if spec.core:
                self.patterns[spec.name] = [package]

    def _patterns(
        self, workspace: Workspace, service: configs.ServiceConfig, cwd: Path, argv: list[str]
    ) -> list[str]:
        if service.watch:
            return [self._rel(workspace.root / w) for w in service.watch]
        if cwd != workspace.root:
            return [self._rel(cwd)]
        named = [cwd / arg for arg in argv if not arg.startswith("-")]
        return [self._rel(p) for p in named if p.is_file() and _inside(p, cwd)]

    def _rel(self, path: Path) -> str:
        absolute = Path(os.path.normpath(path))
        try:
            return absolute.relative_to(self.repo.top).as_posix()
        except ValueError:
            return "\0outside"  # never matches a repository path

    def restarts(self, changes: list[Change], npm_folders: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in self.order:
            hits = [c.path for c in changes if any(_matches(c.path, p) for p in self.patterns.get(name, []))]
            if hits:
                found[name] = f"{len(hits)} of its file(s) changed ({', '.join(hits[:3])})"
                continue
            folders = [f for f in npm_folders if self._node_service_in(name, f)]
            if folders:
                found[name] = f"its npm dependencies changed ({folders[0]}/package.json)"
        return found

    def _node_service_in(self, name: str, folder: str) -> bool:
        argv = self.argv[name]
        program = os.path.basename(argv[0]).removesuffix(".cmd").removesuffix(".exe") if argv else ""
        return program in NODE_PROGRAMS and _inside(self.cwd[name], self.repo.top / folder)


def _matches(path: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    if pattern in ("", "."):
        return True
    return path == pattern or path.startswith(pattern + "/") or fnmatch.fnmatchcase(path, pattern)


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(os.path.normpath(folder))
        return True
    except ValueError:
        return False


def _by_depth(specs: list[ServiceSpec]) -> list[ServiceSpec]:
    """Dependencies first (the order the orchestrator starts services in)."""
    after = {s.name: s.after for s in specs}
    memo: dict[str, int] = {}

    def depth(name: str, trail: frozenset[str] = frozenset()) -> int:
        if name not in memo:
            deps = [d for d in after.get(name, []) if d in after and d not in trail]
            memo[name] = 1 + max((depth(d, trail | {name}) for d in deps), default=-1)
        return memo[name]

    return sorted(specs, key=lambda s: depth(s.name))


def short_argv(argv: list[str]) -> list[str]:
    shown = [os.path.basename(argv[0])] if argv else []
    return shown + argv[1:]
