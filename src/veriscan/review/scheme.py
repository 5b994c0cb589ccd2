"""The category scheme a case is reviewed in, kept in the case so every reviewer and every
export agrees on it; a custom scheme is stored as its TOML text, not as a path that may move."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from veriscan.matching.lists.schemes import (
    BUILTIN,
    US,
    Scheme,
    SchemeError,
    load_scheme,
    scheme_from_text,
)
from veriscan.review import audit
from veriscan.store import schema
from veriscan.store.case import Case

KEY = "scheme"


def case_scheme(case: Case) -> Scheme:
    """The case's scheme; Project VIC US until one is chosen."""
    s = schema.case_settings.c
    with case.engine.connect() as conn:
        value = conn.execute(select(s.value).where(s.key == KEY)).scalar()
    if not value:
        return US
    if value.get("builtin"):
        return BUILTIN[value["builtin"]]
    return scheme_from_text(value["toml"], value.get("origin", "case scheme"))


def set_case_scheme(case: Case, actor: str, name_or_path: str) -> Scheme:
    """Validates, stores and audits the choice; raises SchemeError for an unusable scheme."""
    scheme = load_scheme(name_or_path)
    if scheme.name in BUILTIN and BUILTIN[scheme.name] is scheme:
        value: dict[str, str] = {"builtin": scheme.name}
    else:
        path = Path(name_or_path)
        value = {"toml": path.read_text(encoding="utf-8"), "origin": path.name}
    for _ in range(audit.RETRIES):
        try:
            with case.engine.connect() as conn, audit.durable(conn), conn.begin():
                conn.execute(delete(schema.case_settings).where(schema.case_settings.c.key == KEY))
                conn.execute(insert(schema.case_settings).values(key=KEY, value=value))
                entry = audit.append_in(
                    conn, actor, "settings", "case scheme", {"scheme": scheme.name}
                )
        except (IntegrityError, OperationalError):
            continue  # another writer took the audit sequence number: the whole change again
        audit.committed(case, entry)
        return scheme
    raise SchemeError("the case database is busy: the scheme was not changed, try again")
