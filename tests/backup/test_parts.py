"""Issue 13: small pieces on their own (credential stripping, durability without syncfs, manifest text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autonomic.backup import durability
from autonomic.backup.gitstate import strip_credentials
from autonomic.backup.manifest import FileEntry, Manifest
from autonomic.backup.pattern import matching_files, translate


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://alice:ghp_x@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://ghp_tokenonly@github.com/a/b.git", "https://github.com/a/b.git"),
        ("ssh://git@host:2222/a/b.git", "ssh://host:2222/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("/srv/git/b.git", "/srv/git/b.git"),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
    ],
)
def test_strip_credentials(url: str, stored: str) -> None:
    assert strip_credentials(url) == stored


def test_sync_tree_without_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "_syncfs", lambda root: False)  # the macOS / Windows path
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x")
    durability.sync_tree(tmp_path, [tmp_path / "a" / "f"], [tmp_path, tmp_path / "a"])
    with pytest.raises(FileNotFoundError):
        durability.sync_tree(tmp_path, [tmp_path / "missing"], [])


def test_manifest_text_is_json_with_a_line_per_file() -> None:
    manifest = Manifest("20270115_120000", 1.0, 2.0, str(Path.cwd()))
    manifest.files['odd},"name'] = FileEntry(3, "ab" * 32, 'src},"', 5, 0o644)
    manifest.files["configs/.env"] = FileEntry(4, "cd" * 32, ".env", 6)
    text = manifest.to_text()
    assert len(text.splitlines()) == 4
    again = Manifest.from_json(json.loads(text))
    assert again.files == manifest.files and again.total_bytes == 7


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("data/*.csv", ["data/a.csv", "data/.h.csv"], ["data/sub/b.csv", "data/a.csvx", "x/data/a.csv"]),
        ("data/**", ["data/a", "data/s/t/u"], ["datax/a", "data"]),
        ("**/*.yaml", ["a.yaml", "x/y/a.yaml"], ["a.yml"]),
        ("conf/app-?.ini", ["conf/app-1.ini"], ["conf/app-12.ini"]),
        ("conf/[ab]*.ini", ["conf/a.ini", "conf/bz.ini"], ["conf/c.ini"]),
        ("conf/[!ab]*.ini", ["conf/c.ini"], ["conf/a.ini"]),
        ("notes (1).txt", ["notes (1).txt"], ["notes 1.txt"]),
    ],
)
def test_include_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = translate(pattern)
    assert all(regex.match(p) for p in matches), pattern
    assert not any(regex.match(p) for p in misses), pattern


def test_matching_files_walks_once_and_skips_folders(tmp_path: Path) -> None:
    for rel in ("data/a.csv", "data/deep/b.csv", "backups/x/data/c.csv", "data/skip/d.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\n", encoding="utf-8")
    found = matching_files(tmp_path, "**/*.csv", lambda rel: rel in ("backups", "data/skip"))
    assert [rel for rel, _ in found] == ["data/a.csv", "data/deep/b.csv"]
    assert all(st.st_size == 2 for _, st in found)
    assert [rel for rel, _ in matching_files(tmp_path, "data/*.csv", lambda rel: False)] == ["data/a.csv"]
