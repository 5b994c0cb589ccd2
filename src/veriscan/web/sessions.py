"""Login sessions and CSRF tokens, kept in the server process (login limits: ``login_limits``).

Sessions live in memory on purpose: the app runs on the examiner's machine or one team server,
a restart logging everyone out is acceptable, and nothing that grants access is written to disk.
The cookie holds only a random token; each session has its own CSRF token, required on every
state-changing request.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

SESSION_SECONDS = 8 * 3600


@dataclass
class Session:
    username: str
    role: str
    csrf: str
    expires: float
    blur: int = 12
    greyscale: bool = True
    size: int = 160


@dataclass
class SessionStore:
    lifetime: float = SESSION_SECONDS
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, username: str, role: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(username, role, secrets.token_urlsafe(32), time.time() + self.lifetime)
        with self._lock:
            self._sessions[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires < time.time():
                del self._sessions[token]
                return None
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)
