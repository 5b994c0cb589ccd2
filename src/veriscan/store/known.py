"""The one thing a worker asks the case: is this content already stored?

Workers never write the store (the coordinator commits every unit through ``unit_writer``); this
read-only lookup is their whole interface to it, so the costly analysis of content the case
already holds is skipped.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, create_engine, select

from veriscan.store import schema

_engines: dict[str, Engine] = {}


class KnownContents:
    """Asks the case whether a content is already stored, so its costly analysis is skipped.

    One connection is held for the whole unit; engines are cached per process because creating
    one per unit would cost more than the lookups it saves.
    """

    def __init__(self, db_url: str | None) -> None:
        self._conn: Connection | None = None
        if db_url is not None:
            engine = _engines.get(db_url)
            if engine is None:
                engine = _engines[db_url] = create_engine(db_url)
            self._conn = engine.connect()
        c = schema.contents.c
        self._query = select(c.sha256).where(c.sha256 == bindparam("sha"))

    def __contains__(self, sha256: object) -> bool:
        if self._conn is None:
            return False
        return self._conn.execute(self._query, {"sha": sha256}).first() is not None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
