"""Merging our tasks into the user's `.vscode/tasks.json` (JSON with comments and trailing commas).

The file is read with a JSONC-capable parser (json-five, which also reports where each value sits); it
is rewritten by editing the text at those places only, so everything outside our tasks (the user's
tasks, comments, formatting) stays byte for byte. Our tasks are recognised by label. Removing what an
install added gives back the file as it was."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import json5
from json5.loader import ModelLoader
from json5.model import JSONArray, JSONObject, Node

from autonomic.errors import UsageError

EMPTY = '{\n  "version": "2.0.0",\n  "tasks": []\n}\n'
"""A tasks.json holding nothing but ours is this once ours are removed (and is then deleted)."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int


class TasksFile:
    """One tasks.json text and the edits that bring it to a wanted set of our tasks."""

    def __init__(self, text: str, name: str = "tasks.json") -> None:
        self.name = name
        self.crlf = "\r\n" in text  # edited with \n, written back with the file's own line ends
        self.text = text.replace("\r\n", "\n") if text.strip() else EMPTY
        self._parse()

    @property
    def output(self) -> str:
        """The text to write, with the line endings the file came with."""
        return self.text.replace("\n", "\r\n") if self.crlf else self.text

    def _parse(self) -> None:
        try:
            data = _joined_surrogates(json5.loads(self.text))
            model = json5.loads(self.text, loader=ModelLoader())
        except (ValueError, RecursionError) as exc:  # JSON5DecodeError is a ValueError
            raise UsageError(
                f"{self.name}: not valid JSON with comments ({_first_line(exc)}); not changed"
            ) from None
        if not isinstance(data, dict) or not isinstance(model.value, JSONObject):
            raise UsageError(f"{self.name}: the top level is not an object; not changed")
        tasks = data.get("tasks")
        if tasks is not None and not isinstance(tasks, list):
            raise UsageError(f"{self.name}: 'tasks' is not a list; not changed")
        self.data: dict[str, Any] = data
        self._root: JSONObject = model.value
        self._starts = _line_starts(self.text)

    # --- what is there -------------------------------------------------------------------------
    def tasks(self) -> list[Any]:
        return list(self.data.get("tasks") or [])

    def labels(self) -> list[str]:
        return [str(t.get("label")) for t in self.tasks() if isinstance(t, dict)]

    # --- edits -----------------------------------------------------------------------------------
    def install(self, ours: list[dict[str, Any]], our_labels: frozenset[str]) -> None:
        """Update our tasks in place (by label), add the missing ones at the end, drop our tasks that
        are no longer wanted. Nothing else changes."""
        wanted = {t["label"]: t for t in ours}
        for index in reversed(range(len(self.tasks()))):
            label = self._label_at(index)
            if label in wanted:
                self._replace(index, wanted.pop(label))
            elif label in our_labels:
                self._remove(index)
        for task in ours:
            if task["label"] in wanted:
                self._append(task)

    def uninstall(self, our_labels: frozenset[str]) -> int:
        """Remove our tasks; how many were removed."""
        removed = 0
        for index in reversed(range(len(self.tasks()))):
            if self._label_at(index) in our_labels:
                self._remove(index)
                removed += 1
        return removed

    def _label_at(self, index: int) -> str | None:
        task = self.tasks()[index]
        return str(task.get("label")) if isinstance(task, dict) else None

    def _array(self) -> JSONArray | None:
        for key, value in zip(self._root.keys, self._root.values, strict=False):
            if getattr(key, "characters", None) == "tasks" and isinstance(value, JSONArray):
                return value
        return None

    def _values(self) -> list[Node]:
        array = self._array()
        return list(array.values) if array is not None else []

    def _replace(self, index: int, task: dict[str, Any]) -> None:
        span = self._span(self._values()[index])
        new = _dump(task, self._column(span.start))
        self._set(self.text[: span.start] + new + self.text[span.end :])

    def _remove(self, index: int) -> None:
        """Cut the task the way an install put it there: with the comma after it (and its own lines),
        or, for the last task, with the line break before it and the comma after the task before it."""
        values = self._values()
        span = self._span(values[index])
        text = self.text
        line_start = text.rfind("\n", 0, span.start) + 1
        alone = text[line_start : span.start].strip() == "" and line_start > 0
        after = _skip_spaces(text, span.end)
        if after < len(text) and text[after] == ",":
            start, end = span.start, after + 1
            rest = _skip_spaces(text, end, newline=False)
            if alone and text[rest : rest + 1] == "\n":
                start, end = line_start, rest + 1
            elif alone:
                start = line_start - 1
            self._set(text[:start] + text[end:])
        else:
            comma: int | None = None
            if index > 0:
                before = _skip_spaces(text, self._span(values[index - 1]).end)
                comma = before if before < span.start and text[before] == "," else None
            text = text[: line_start - 1 if alone else span.start] + text[span.end :]
            if comma is not None:
                text = text[:comma] + text[comma + 1 :]
            self._set(text)
        self._collapse_if_empty()

    def _collapse_if_empty(self) -> None:
        array = self._array()
        if array is not None and not array.values:
            span = self._span(array)
            if self.text[span.start + 1 : span.end - 1].strip() == "":
                self._set(self.text[: span.start] + "[]" + self.text[span.end :])

    def _append(self, task: dict[str, Any]) -> None:
        """Add after the last task, in the array's own style (a trailing comma if it has one)."""
        if self._array() is None:
            self._add_tasks_key()
        array = self._array()
        assert array is not None
        span = self._span(array)
        close = span.end - 1  # the `]`
        if not array.values:
            outer = self._column(self._key_start("tasks"))
            body = "\n" + " " * (outer + 2) + _dump(task, outer + 2) + "\n" + " " * outer
            self._set(self.text[: span.start + 1] + body + self.text[close:])
            return
        last = self._span(array.values[-1])
        indent = self._column(last.start)
        trailing = array.trailing_comma is not None
        text = self.text
        line_start = text.rfind("\n", 0, close) + 1
        if text[line_start:close].strip() == "" and line_start > last.end:  # `]` on its own line
            body = " " * indent + _dump(task, indent) + ("," if trailing else "")
            text = text[:line_start] + body + "\n" + text[line_start:]
            if not trailing:
                text = text[: last.end] + "," + text[last.end :]
        else:  # `]` right after the last task: go right after it (or after its trailing comma)
            at = self._span(array.trailing_comma).end if array.trailing_comma is not None else last.end
            body = "\n" + " " * indent + _dump(task, indent) + ("," if trailing else "")
            text = text[:at] + ("" if trailing else ",") + body + text[at:]
        self._set(text)

    def _add_tasks_key(self) -> None:
        span = self._span(self._root)
        close = span.end - 1
        if self._root.values:
            last = self._span(self._root.values[-1])
            indent = self._column(self._key_start(None))
            prefix = "" if self._root.trailing_comma is not None else ","
            text = (
                self.text[: last.end] + prefix + "\n" + " " * indent + '"tasks": []' + self.text[last.end :]
            )
        else:
            text = self.text[: span.start + 1] + '\n  "tasks": []\n' + self.text[close:]
        self._set(text)

    def _key_start(self, name: str | None) -> int:
        """Where the key `name` (None: the last key) of the top-level object starts."""
        keys = self._root.keys
        key = keys[-1] if name is None else next(k for k in keys if getattr(k, "characters", None) == name)
        return self._span(key).start

    # --- text plumbing ---------------------------------------------------------------------------
    def _set(self, text: str) -> None:
        self.text = text
        self._parse()

    def _span(self, node: Node) -> Span:
        assert (
            node.lineno
            and node.end_lineno
            and node.col_offset is not None
            and node.end_col_offset is not None
        )
        start = self._starts[node.lineno - 1] + node.col_offset
        end = self._starts[node.end_lineno - 1] + node.end_col_offset
        return Span(start, end)

    def _column(self, offset: int) -> int:
        return offset - (self.text.rfind("\n", 0, offset) + 1)


def _dump(task: dict[str, Any], indent: int) -> str:
    text = json.dumps(task, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + " " * indent)


def _skip_spaces(text: str, index: int, newline: bool = True) -> int:
    blanks = " \t\r\n" if newline else " \t\r"
    while index < len(text) and text[index] in blanks:
        index += 1
    return index


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def _joined_surrogates(value: Any) -> Any:
    """json-five decodes an escaped pair like \\ud83c\\udfe5 into two lone surrogates; join them into the
    character they encode (the emoji of our labels), as JSON means."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_joined_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_joined_surrogates(k): _joined_surrogates(v) for k, v in value.items()}
    return value


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
