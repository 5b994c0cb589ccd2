"""Case-wide toolchain step: link every image to the model files that made it, find installs.

It runs after each ingest over the whole case, because a model file on one suspect's laptop can
explain images found on another's phone; both tables are rebuilt from the store, so running it
again (after a resume, after adding evidence) always converges on the same result.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select

from veriscan.store import schema
from veriscan.store.case import Case
from veriscan.toolchain.installs import FileRow, find_installs
from veriscan.toolchain.linking import ModelFile, ModelIndex

BATCH = 500
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx")
_RELEVANT = (
    "%.py",
    "%.json",
    "%.yaml",
    "%.yml",
    "%.csv",
    "%.log",
    "%.bat",
    "%.sh",
    "%.db",
    "%.txt",
    "%.toml",
    "%.css",
    *(f"%{s}" for s in MODEL_SUFFIXES),
)


@dataclass
class ToolchainSummary:
    links: int
    installs: int


def _names(locators: list[str], output_name: str | None) -> tuple[str, ...]:
    names: set[str] = set()
    for loc in locators:
        base = posixpath.basename(loc.split("!/")[-1])
        names.add(base)
        names.add(posixpath.splitext(base)[0])
    if output_name:
        names.add(output_name)
    return tuple(sorted(names))


def _model_files(conn: Connection) -> Iterator[tuple[ModelFile, dict[str, Any] | None]]:
    c, loc = schema.contents.c, schema.locations.c
    rows = conn.execute(select(c.sha256, c.model).where(c.model_kind.is_not(None)))
    for sha, model in rows.all():
        if not isinstance(model, dict):  # JSON null stored for content that is not a model
            continue
        locators = [r[0] for r in conn.execute(select(loc.locator).where(loc.sha256 == sha))]
        training = model.get("training") or {}
        found = ModelFile(
            sha256=sha,
            kind=str(model.get("kind") or "unknown"),
            hashes={k: str(v) for k, v in (model.get("hashes") or {}).items()},
            names=_names(locators, training.get("output_name")),
        )
        yield found, training.get("base_model")


def _base_model_links(
    models: list[tuple[ModelFile, dict[str, Any] | None]], index: ModelIndex
) -> list[dict[str, str]]:
    """A trained LoRA names the checkpoint it was trained on; link it when that file is here too."""
    rows = []
    for model, base in models:
        if not base:
            continue
        refs = [
            {
                "model": base.get("name"),
                "model_hash": base.get("new_hash"),
                "model_hash_scheme": "sha256",
            },
            {
                "model": base.get("name"),
                "model_hash": base.get("hash"),
                "model_hash_scheme": "autov1",
            },
        ]
        for link in index.link(refs):
            if link.role == "checkpoint" and link.model_sha256 != model.sha256:
                rows.append(
                    {
                        "image_sha256": model.sha256,
                        "model_sha256": link.model_sha256,
                        "role": "base-model",
                        "strength": link.strength,
                        "via": link.via,
                    }
                )
    return rows


def _link_images(conn: Connection, reader: Connection, index: ModelIndex) -> int:
    """Streams the images through a second (read) connection so memory stays one batch."""
    c = schema.contents.c
    conn.execute(delete(schema.links))
    query = select(c.sha256, c.ai).where(c.ai_verdict.in_(["conclusive", "strong", "indicative"]))
    total = 0
    rows = []
    for sha, ai in reader.execute(query.execution_options(yield_per=BATCH)):
        for link in index.link((ai or {}).get("params") or []):
            rows.append(
                {
                    "image_sha256": sha,
                    "model_sha256": link.model_sha256,
                    "role": link.role,
                    "strength": link.strength,
                    "via": link.via,
                }
            )
        if len(rows) >= BATCH:
            conn.execute(insert(schema.links), rows)
            total += len(rows)
            rows = []
    if rows:
        conn.execute(insert(schema.links), rows)
        total += len(rows)
    return total


def _file_rows(conn: Connection, evidence_id: int) -> Iterator[FileRow]:
    """Only the rows an install can be recognised by: markers, configs, models, output images."""
    loc, c = schema.locations.c, schema.contents.c
    relevant = or_(
        *(loc.name.like(p) for p in _RELEVANT),
        loc.locator.like("%output%"),
        loc.locator.like("%/log/%"),
        loc.locator.like("%/logs/%"),
        loc.locator.like("%/modules%"),
        loc.locator.like("%/comfy/%"),
    )
    query = (
        select(loc.locator, loc.size, loc.mtime, c.mime, loc.sha256)
        .outerjoin(schema.contents, c.sha256 == loc.sha256)
        .where(loc.evidence_id == evidence_id, relevant)
    )
    for row in conn.execute(query.execution_options(yield_per=5000)):
        yield FileRow(row[0], row[1], row[2], row[3], row[4])


def refresh_toolchain(case: Case) -> ToolchainSummary:
    with case.engine.begin() as conn:
        models = list(_model_files(conn))
        index = ModelIndex([m for m, _ in models])
        if not models:
            conn.execute(delete(schema.links))
            links = 0
        else:
            with case.engine.connect() as reader:
                links = _link_images(conn, reader, index)
        base_links = _base_model_links(models, index)
        if base_links:
            conn.execute(insert(schema.links), base_links)
            links += len(base_links)
        conn.execute(delete(schema.installs))
        installs = 0
        evidence_ids = [r[0] for r in conn.execute(select(schema.evidence.c.id))]
        for evidence_id in evidence_ids:
            with case.engine.connect() as reader:
                found = find_installs(_file_rows(reader, evidence_id))
            for inst in found:
                conn.execute(
                    insert(schema.installs).values(
                        evidence_id=evidence_id,
                        app=inst.app,
                        root=inst.root,
                        details=inst.to_json(),
                    )
                )
                installs += 1
    return ToolchainSummary(links, installs)
