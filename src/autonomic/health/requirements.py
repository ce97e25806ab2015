"""The workspace's own requirements (`requirements*.txt`, `[project] dependencies` of its pyproject.toml)
and whether the interpreter the services use satisfies them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# Run in the target interpreter, which may lack `packaging`: only the stdlib there.
_INSTALLED_SCRIPT = (
    "import importlib.metadata as m, json, os, platform, sys\n"
    "dists = {}\n"
    "for d in m.distributions():\n"
    "    name = d.metadata['Name']\n"
    "    if name: dists[name] = d.version\n"
    "env = {'implementation_name': sys.implementation.name, 'os_name': os.name,\n"
    "  'platform_machine': platform.machine(),\n"
    "  'platform_python_implementation': platform.python_implementation(),\n"
    "  'platform_release': platform.release(), 'platform_system': platform.system(),\n"
    "  'platform_version': platform.version(), 'python_full_version': platform.python_version(),\n"
    "  'python_version': '.'.join(platform.python_version_tuple()[:2]), 'sys_platform': sys.platform,\n"
    "  'implementation_version': platform.python_version()}\n"
    "print(json.dumps({'dists': dists, 'env': env}))\n"
)


@dataclass(frozen=True)
class Declared:
    """One requirement and where it was declared."""

    requirement: Requirement
    source: Path

    def __str__(self) -> str:
        return str(self.requirement)


@dataclass(frozen=True)
class Installed:
    """What an interpreter has: distribution versions by canonical name, and its marker environment."""

    versions: dict[str, str]
    environment: dict[str, str]

    @classmethod
    def of(cls, interpreter: str, timeout: float = 2.0) -> Installed:
        """Read them from `interpreter` (in this process when it is this one). OSError / TimeoutExpired
        when the interpreter cannot run."""
        if os.path.abspath(interpreter) == os.path.abspath(sys.executable):
            import importlib.metadata

            found = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
            return cls(_canonical(found), {k: str(v) for k, v in default_environment().items()})
        done = subprocess.run(
            [interpreter, "-I", "-c", _INSTALLED_SCRIPT],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            raise OSError(f"{interpreter} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        raw = json.loads(done.stdout)
        return cls(_canonical(raw["dists"]), dict(raw["env"]))

    def satisfies(self, requirement: Requirement) -> bool:
        if requirement.marker is not None and not requirement.marker.evaluate(dict(self.environment)):
            return True  # not meant for this interpreter
        version = self.versions.get(canonicalize_name(requirement.name))
        if version is None:
            return False
        return requirement.specifier.contains(version, prereleases=True)


def _canonical(found: dict[str, str]) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in found.items() if name}


def declared(root: Path) -> list[Declared]:
    """Every requirement the workspace declares; lines pip options or URLs are not checked."""
    found: list[Declared] = []
    seen: set[Path] = set()  # a file both globbed and included with -r counts once
    for path in sorted(root.glob("requirements*.txt")):
        found.extend(_from_file(path, seen))
    found.extend(_from_pyproject(root / "pyproject.toml"))
    return found


def files_declaring(items: list[Declared]) -> list[Path]:
    """The requirement files (not pyproject.toml) among the sources of `items`, each once."""
    return sorted({d.source for d in items if d.source.suffix == ".txt"})


def _from_file(path: Path, seen: set[Path]) -> list[Declared]:
    if path in seen:
        return []
    seen.add(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found: list[Declared] = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for flag in ("-r ", "--requirement ", "--requirement="):
            if line.startswith(flag):
                found.extend(_from_file(path.parent / line[len(flag) :].strip(), seen))
                break
        else:
            if not line.startswith("-") and (requirement := _parse(line)):
                found.append(Declared(requirement, path))
    return found


def _from_pyproject(path: Path) -> list[Declared]:
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    dependencies = project.get("dependencies", []) if isinstance(project, dict) else []
    return [Declared(r, path) for item in dependencies if isinstance(item, str) and (r := _parse(item))]


def _parse(text: str) -> Requirement | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    return None if requirement.url else requirement
