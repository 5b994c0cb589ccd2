"""Review accounts: who may see and decide what, with argon2 password hashes.

Roles, most to least powerful: admin (accounts and everything), lead (everything but accounts;
reads the audit log), reviewer (reveals and categorises), observer (looks, changes nothing).
Every account change is written to the audit log with the acting user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from veriscan.review import audit
from veriscan.store import schema
from veriscan.store.case import Case

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES = ("admin", "lead", "reviewer", "observer")
MIN_PASSWORD = 12
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class UserError(Exception):
    """An account operation was refused; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    created_at: str


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise UserError("accounts need argon2: pip install 'veriscan[web]'") from exc
    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"passwords must have at least {MIN_PASSWORD} characters")
    return _hasher().hash(password)


def check_password(stored: str, password: str) -> bool:
    hasher = _hasher()
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _valid(username: str, role: str | None = None) -> None:
    if not _NAME.fullmatch(username):
        raise UserError(f"invalid user name {username!r}: 1-64 letters, digits, '.', '_' or '-'")
    if role is not None and role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def list_users(case: Case) -> list[User]:
    u = schema.users.c
    with case.engine.connect() as conn:
        rows = conn.execute(select(u.username, u.role, u.created_at).order_by(u.username))
        return [User(r.username, r.role, r.created_at) for r in rows]


def add_user(case: Case, actor: str, username: str, role: str, password: str) -> User:
    """The first account must be an admin: someone has to be able to manage the others."""
    _valid(username, role)
    digest = hash_password(password)
    with case.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(schema.users)).scalar_one()
    if count == 0 and role != "admin":
        raise UserError("the first account of a case must have the admin role")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with case.engine.begin() as conn:
            conn.execute(
                insert(schema.users).values(
                    username=username, role=role, password_hash=digest, created_at=created
                )
            )
    except IntegrityError as exc:
        raise UserError(f"user {username!r} already exists") from exc
    audit.append(case, actor, "user-add", username, {"role": role})
    return User(username, role, created)


def remove_user(case: Case, actor: str, username: str) -> None:
    _valid(username)
    users = {u.username: u for u in list_users(case)}
    if username not in users:
        raise UserError(f"no user {username!r}")
    admins = [u for u in users.values() if u.role == "admin"]
    if users[username].role == "admin" and len(admins) == 1:
        raise UserError("cannot remove the last admin")
    with case.engine.begin() as conn:
        conn.execute(delete(schema.users).where(schema.users.c.username == username))
    audit.append(case, actor, "user-remove", username)


def set_password(case: Case, actor: str, username: str, password: str) -> None:
    _valid(username)
    digest = hash_password(password)
    with case.engine.begin() as conn:
        result = conn.execute(
            update(schema.users)
            .where(schema.users.c.username == username)
            .values(password_hash=digest)
        )
    if result.rowcount == 0:
        raise UserError(f"no user {username!r}")
    audit.append(case, actor, "user-password", username)


def authenticate(case: Case, username: str, password: str, *, audited: bool = True) -> User | None:
    """The user when the password is right; both outcomes go to the audit log unless the caller
    audits them itself (the review app collapses repeated failures into counted rows)."""
    u = schema.users.c
    with case.engine.connect() as conn:
        row = conn.execute(
            select(u.username, u.role, u.created_at, u.password_hash).where(u.username == username)
        ).first()
    if row is None or not check_password(row.password_hash, password):
        if audited:
            audit.append(case, username[:64] or "-", "login-failed", username[:200])
        return None
    if audited:
        audit.append(case, username, "login", username)
    return User(row.username, row.role, row.created_at)
