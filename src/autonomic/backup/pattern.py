"""The `[backup] include` globs: `*` and `?` within a folder name, `[...]` classes, `**` for any depth.

Matching walks the folders once with `os.scandir` from the pattern's literal prefix and keeps each
file's stat, which the snapshot needs anyway: on a 10,000-file tree this is several times quicker
than `glob.glob` followed by a stat per file. Hidden files match like any other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

MAGIC = re.compile(r"[*?\[]")

Found = tuple[str, os.stat_result]  # a path relative to the root ("/"-separated) and its stat


def translate(pattern: str) -> re.Pattern[str]:
    """A regular expression matching the "/"-separated relative paths that `pattern` names."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:.*/)?"
        else:
            regex += _segment(part) + ("" if last else "/")
    return re.compile(regex + r"\Z", re.DOTALL)


def matching_files(root: Path, pattern: str, skip_dir: Callable[[str], bool]) -> list[Found]:
    """Regular files under `root` matching `pattern`, sorted; folders for which `skip_dir(rel)` holds
    are not entered."""
    parts = pattern.strip("/").split("/")
    literal = 0
    while literal < len(parts) - 1 and not MAGIC.search(parts[literal]) and parts[literal] != "**":
        literal += 1
    base = "/".join(parts[:literal])
    depth = None if "**" in parts else len(parts) - literal
    regex = translate(pattern)
    found = [(rel, st) for rel, st in _walk(root, base, depth, skip_dir) if regex.match(rel)]
    return sorted(found)


def _walk(root: Path, rel_dir: str, depth: int | None, skip_dir: Callable[[str], bool]) -> Iterator[Found]:
    if depth == 0 or (rel_dir and skip_dir(rel_dir)):
        return
    try:
        entries = list(os.scandir(root / rel_dir if rel_dir else root))
    except OSError:
        return
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(root, rel, None if depth is None else depth - 1, skip_dir)
            elif entry.is_file():
                yield rel, entry.stat()
        except OSError:
            continue


def _segment(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := part.find("]", i + 2)) != -1:
            body = part[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
