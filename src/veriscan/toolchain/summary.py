"""Read side for reports: what each evidence item could generate, and links across devices."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select

from veriscan.store import schema
from veriscan.store.case import Case

MAX_ROWS = 2000


def toolchain_summary(case: Case) -> dict[str, Any]:
    """Per evidence item: installs and model files; plus images made with another item's models."""
    ev, loc, c, lk = schema.evidence.c, schema.locations.c, schema.contents.c, schema.links.c
    per_item: dict[str, dict[str, Any]] = defaultdict(lambda: {"installs": [], "models": []})
    with case.engine.connect() as conn:
        installs = select(
            ev.label, schema.installs.c.app, schema.installs.c.root, schema.installs.c.details
        ).join(schema.evidence, ev.id == schema.installs.c.evidence_id)
        for label, app, root, details in conn.execute(
            installs.order_by(ev.label, schema.installs.c.root)
        ):
            per_item[label]["installs"].append({"app": app, "root": root, **(details or {})})
        models = (
            select(ev.label, loc.locator, c.model_kind, c.model_family, c.sha256)
            .join(schema.evidence, ev.id == loc.evidence_id)
            .join(schema.contents, c.sha256 == loc.sha256)
            .where(c.model_kind.is_not(None))
            .order_by(ev.label, loc.locator)
            .limit(MAX_ROWS)
        )
        for label, locator, kind, family, sha in conn.execute(models):
            per_item[label]["models"].append(
                {"locator": locator, "kind": kind, "family": family, "sha256": sha}
            )
        image_loc = schema.locations.alias("image_loc")
        model_loc = schema.locations.alias("model_loc")
        image_ev = schema.evidence.alias("image_ev")
        model_ev = schema.evidence.alias("model_ev")
        cross = (
            select(
                image_ev.c.label,
                image_loc.c.locator,
                model_ev.c.label,
                model_loc.c.locator,
                lk.role,
                lk.strength,
                lk.via,
            )
            .join(image_loc, image_loc.c.sha256 == lk.image_sha256)
            .join(model_loc, model_loc.c.sha256 == lk.model_sha256)
            .join(image_ev, image_ev.c.id == image_loc.c.evidence_id)
            .join(model_ev, model_ev.c.id == model_loc.c.evidence_id)
            .where(and_(image_loc.c.evidence_id != model_loc.c.evidence_id))
            .order_by(image_ev.c.label, image_loc.c.locator)
            .limit(MAX_ROWS)
        )
        cross_rows = [
            {
                "image_evidence": r[0],
                "image": r[1],
                "model_evidence": r[2],
                "model": r[3],
                "role": r[4],
                "strength": r[5],
                "via": r[6],
            }
            for r in conn.execute(cross)
        ]
        link_count = conn.execute(select(func.count()).select_from(schema.links)).scalar_one()
    return {"items": dict(per_item), "cross_device": cross_rows, "links": int(link_count)}
