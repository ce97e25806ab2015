"""`Sessions`: how a browser gets in, the way Jupyter does it. `autonomic dashboard` asks the monitor
(with the workspace token) for a one-time login code and opens `/login?code=...`; the code is good
once, for a minute, and turns into a session cookie (HttpOnly, SameSite=Strict) with its own CSRF
token, which the page sends back on every state-changing request."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from autonomic.clock import Clock

CODE_TTL = 60.0
SESSION_IDLE = 12 * 3600.0
MAX_SESSIONS = 64
MAX_CODES = 64


@dataclass
class Session:
    csrf: str
    last_seen: float


class Sessions:
    """One-time login codes and the sessions they open, in memory (a monitor restart logs you out)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._codes: dict[str, float] = {}
        self._sessions: dict[str, Session] = {}

    def new_code(self) -> str:
        now = self.clock.monotonic()
        self._codes = {c: t for c, t in self._codes.items() if t > now}
        if len(self._codes) >= MAX_CODES:
            self._codes.pop(next(iter(self._codes)))
        code = secrets.token_urlsafe(32)
        self._codes[code] = now + CODE_TTL
        return code

    def redeem(self, code: str) -> tuple[str, Session] | None:
        """Spend a login code: a new session (id, session), or None if the code is unknown or old."""
        expires = self._codes.pop(code, None)
        if expires is None or expires <= self.clock.monotonic():
            return None
        self._expire()
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self.clock.monotonic())
        self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None or self.clock.monotonic() - session.last_seen > SESSION_IDLE:
            return None
        session.last_seen = self.clock.monotonic()
        return session

    def _expire(self) -> None:
        now = self.clock.monotonic()
        self._sessions = {k: s for k, s in self._sessions.items() if now - s.last_seen <= SESSION_IDLE}


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
