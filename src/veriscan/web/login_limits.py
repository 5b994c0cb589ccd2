"""Login rate limiting: bounded, atomic, keyed per client address and user name.

Rule (documented in the README): a client address may have at most ``per_user`` failed password
checks for one user name, and ``per_address`` for all user names together, within a sliding
``window``. The pair limit stops guessing one account; the looser address limit stops spraying
many names, yet one mistyping examiner cannot lock colleagues out of a shared address (the team
server, or every user of a loopback-bound app). A success clears its pair but never the address
count, so an attacker holding one account cannot reset the spray limit by logging in.

A check is counted before the password is verified (a reservation taken under the lock), so
parallel requests cannot pass the limit. Refused requests never create a key and are not checked.
At most ``max_keys`` keys are tracked: expired ones go first, then the least recently active.
Each key's run of failures (an episode) yields a few audit rows with counts, never one per request.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

PER_USER = 5
PER_ADDRESS = 30
WINDOW = 300.0
MAX_KEYS = 10_000
NAME_MAX = 128

Scope = Literal["user", "address"]


def client_key(host: str | None) -> str:
    """An IPv6 client is keyed by its /64, which one machine usually holds whole."""
    if not host:
        return "-"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:NAME_MAX]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Entry:
    scope: Scope
    address: str
    username: str
    failures: deque[float] = field(default_factory=deque)
    pending: int = 0
    total: int = 0
    refused: int = 0
    first: float = 0.0
    last: float = 0.0
    seen: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """A reserved password check; finish it with ``failed`` or ``succeeded``."""

    address: str
    username: str


@dataclass(frozen=True)
class Refusal:
    scope: Scope
    retry_after: int


@dataclass(frozen=True)
class Failure:
    """What one failed check changed: the pair's failures this episode, and which limits it hit."""

    failures: int
    locked: tuple[Scope, ...]


@dataclass(frozen=True)
class Summary:
    """An ended episode whose counts were not all audited yet (wall-clock first and last)."""

    scope: Scope
    address: str
    username: str
    failures: int
    refused: int
    first: float
    last: float


Key = tuple[str, str]


@dataclass
class LoginLimiter:
    per_user: int = PER_USER
    per_address: int = PER_ADDRESS
    window: float = WINDOW
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[Key, _Entry] = field(default_factory=dict)
    _ended: list[Summary] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _swept: float = -math.inf

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def begin(self, address: str, username: str) -> Attempt | Refusal:
        """Reserves one password check, or refuses it while a limit is reached."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            for key, limit in self._limits(address, username):
                entry = self._entries.get(key)
                if entry is None:
                    continue
                self._expire(entry, now)
                if len(entry.failures) + entry.pending >= limit:
                    entry.refused += 1
                    entry.seen = now
                    oldest = entry.failures[0] if entry.failures else now
                    return Refusal(entry.scope, max(1, math.ceil(oldest + self.window - now)))
            for key, _ in self._limits(address, username):
                self._entry(key, now).pending += 1
        return Attempt(address, username)

    def failed(self, attempt: Attempt) -> Failure:
        now, wall = self.clock(), time.time()
        locked: list[Scope] = []
        counts = []
        with self._lock:
            for key, limit in self._limits(attempt.address, attempt.username):
                entry = self._entry(key, now)
                self._expire(entry, now)
                entry.pending = max(0, entry.pending - 1)
                entry.failures.append(now)
                entry.total += 1
                entry.first = entry.first or wall
                entry.last = wall
                counts.append(entry.total)
                if len(entry.failures) == limit:
                    locked.append(entry.scope)
        return Failure(counts[0], tuple(locked))

    def succeeded(self, attempt: Attempt) -> int:
        """Clears the pair's failures and returns how many this episode had (for the audit)."""
        now = self.clock()
        with self._lock:
            before = 0
            for key, _ in self._limits(attempt.address, attempt.username):
                entry = self._entry(key, now)
                entry.pending = max(0, entry.pending - 1)
                if entry.scope == "user":
                    before = entry.total
                    if not entry.pending:
                        del self._entries[key]
                    else:
                        entry.failures.clear()
                        entry.total = entry.refused = 0
        return before

    def ended(self, *, everything: bool = False) -> list[Summary]:
        """Summaries of ended episodes (all tracked ones when the server stops), each given once."""
        with self._lock:
            if everything:
                for key in list(self._entries):
                    self._drop(key)
            out, self._ended = self._ended, []
        return out

    def _limits(self, address: str, username: str) -> tuple[tuple[Key, int], tuple[Key, int]]:
        return ((address, username), self.per_user), ((address, ""), self.per_address)

    def _entry(self, key: Key, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.max_keys:
                self._sweep(now, force=True)
            if len(self._entries) >= self.max_keys:
                self._evict()
            scope: Scope = "address" if key[1] == "" else "user"
            entry = self._entries[key] = _Entry(scope, key[0], key[1])
        entry.seen = now
        return entry

    def _expire(self, entry: _Entry, now: float) -> None:
        """Forgets failures older than the window; when none is left the episode ends."""
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
        if not entry.failures and not entry.pending and (entry.total or entry.refused):
            self._summarise(entry)
            entry.total = entry.refused = 0
            entry.first = entry.last = 0.0

    def _sweep(self, now: float, *, force: bool = False) -> None:
        """Ends the episodes whose failures all expired; at most every tenth of a window."""
        if not force and now - self._swept < self.window / 10:
            return
        self._swept = now
        for key, entry in list(self._entries.items()):
            self._expire(entry, now)
            if not entry.failures and not entry.pending:
                del self._entries[key]

    def _evict(self) -> None:
        """Frees a tenth of the table, least recently active first, so eviction stays rare."""
        by_age = sorted(self._entries, key=lambda k: self._entries[k].seen)
        for key in by_age[: max(1, self.max_keys // 10)]:
            self._drop(key)

    def _drop(self, key: Key) -> None:
        self._summarise(self._entries.pop(key))

    def _summarise(self, entry: _Entry) -> None:
        """Queues the counts the immediate rows (first failure, lockout) did not already give."""
        untold = entry.scope == "user" and entry.total > 1 and entry.total != self.per_user
        if entry.refused or untold:
            self._ended.append(
                Summary(
                    entry.scope,
                    entry.address,
                    entry.username,
                    entry.total,
                    entry.refused,
                    entry.first,
                    entry.last,
                )
            )
