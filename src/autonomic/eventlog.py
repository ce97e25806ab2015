"""The JSON-lines activity logs other tools read (outputs/*_log.jsonl): one object a line with at least
`timestamp` (ISO 8601 with offset), `action`, `target`, `status`, `details`."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from autonomic.clock import iso_now


class EventLog:
    """Appends events to one JSONL file, rotating it to `.1` past `max_bytes` so it stays bounded."""

    def __init__(self, path: Path, max_bytes: int = 20 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(
        self, action: str, target: str, status: str, details: str = "", **fields: Any
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "timestamp": iso_now(),
            "action": action,
            "target": target,
            "status": status,
            "details": details,
            **fields,
        }
        line = json.dumps(event, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate_if_full()
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
        return event

    def _rotate_if_full(self) -> None:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
