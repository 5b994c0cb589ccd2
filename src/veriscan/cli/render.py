"""`veriscan show` for a person: the facts an examiner reads first, then the AI evidence.

The JSON form (`--json`) stays the complete record; this view leaves out nothing that changes a
decision, but drops raw graphs and per-check details that only matter when reading the JSON.
Both withhold prompt text unless `--prompts` is given, and a `--prompts` view is an audit entry.
"""

from __future__ import annotations

import getpass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from veriscan.redaction import redact
from veriscan.reports.classifier_text import classifier_lines
from veriscan.review import audit
from veriscan.store.case import Case

PARAM_FIELDS = (
    "generator",
    "version",
    "model",
    "model_hash",
    "model_hash_scheme",
    "vae",
    "seed",
    "steps",
    "sampler",
    "scheduler",
    "cfg",
    "width",
    "height",
    "prompt",
    "negative_prompt",
)


def guard_prompts(
    case: Case, objects: list[dict[str, Any]], *, prompts: bool
) -> tuple[list[dict[str, Any]], int]:
    """The objects as `show` may print them, and how many fields were withheld.

    With ``prompts`` every content shown is logged as a prompt view, as the review app's reveal is.
    """
    if prompts:
        for obj in objects:
            if obj.get("sha256"):
                actor = f"cli:{getpass.getuser()}"
                audit.append(case, actor, "prompt-view", str(obj["sha256"]), {"via": "show"})
        return objects, 0
    shown: list[dict[str, Any]] = []
    withheld = 0
    for obj in objects:
        result = redact(obj)
        assert isinstance(result.value, dict)
        shown.append(result.value)
        withheld += len(result.fields)
    return shown, withheld


def withheld_note(console: Console, withheld: int) -> None:
    if withheld:
        console.print(
            Text(
                f"{withheld} field(s) withheld: they may hold prompts or workflows. "
                "`veriscan show --prompts` displays them (logged in the audit trail)."
            )
        )


def _kv(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", expand=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        if value not in (None, "", [], {}):
            table.add_row(Text(key), Text(str(value)))
    return table


def render_content(console: Console, obj: dict[str, Any]) -> None:
    if obj.get("content", True) is None:
        console.print(Text(f"{obj['locator']}: no readable content", style="bold"))
        for p in obj["problems"]:
            console.print(Text(f"  problem [{p['code']}] {p['analyzer']}: {p['message']}"))
        return
    image = obj.get("image") or {}
    pdq = obj.get("pdq") or {}
    console.print(
        _kv(
            "File",
            [
                ("SHA-256", obj["sha256"]),
                ("MD5", obj["md5"]),
                ("SHA-1", obj["sha1"]),
                ("size", obj["size"]),
                ("type", obj["mime"]),
                ("image", f"{image['width']}x{image['height']}" if image else None),
                (
                    "PDQ",
                    f"{pdq['hash']} (quality {pdq['quality']}, {pdq['mode']})" if pdq else None,
                ),
            ],
        )
    )
    locations = Table(
        "evidence", "locator", "mtime", "note", title="Locations", title_justify="left"
    )
    for loc in obj["locations"]:
        flags = [
            ("extension does not match content", loc.get("extension_mismatch")),
            ("deleted", loc.get("deleted")),
            ("carved", loc.get("carved")),
        ]
        note = ", ".join(text for text, on in flags if on)
        cells = (loc["evidence"], loc["locator"], str(loc.get("mtime") or ""), note)
        locations.add_row(*(Text(c) for c in cells))
    console.print(locations)
    if obj.get("exif"):
        console.print(_kv("EXIF", sorted(obj["exif"].items())))
    _render_matches(console, obj)
    line = detector_line(obj)
    if line:
        console.print(Text(line))
    for line in classifier_lines(obj.get("classifiers")):
        console.print(Text(line))
    ai = obj.get("ai")
    if ai:
        generator = f" ({ai['generator']})" if ai.get("generator") else ""
        console.print(Text(f"AI-generation evidence: {ai['verdict']}{generator}", style="bold"))
        console.print(Text(ai["explanation"]))
        for params in ai.get("params", []):
            console.print(
                _kv(
                    f"Generation parameters from {params['source']}",
                    [(key, params.get(key)) for key in PARAM_FIELDS]
                    + [
                        (
                            "LoRAs",
                            ", ".join(
                                f"{lo['name']}"
                                + (f":{lo['weight']}" if lo.get("weight") is not None else "")
                                for lo in params.get("loras", [])
                            ),
                        )
                    ],
                )
            )
    for p in obj["problems"]:
        where = f" at {p['locator']}" if p.get("locator") else ""
        console.print(Text(f"problem [{p['code']}] {p['analyzer']}{where}: {p['message']}"))


def detector_line(obj: dict[str, Any]) -> str | None:
    """One line for images: the score with its threshold and model, or that it did not run."""
    det = obj.get("detector")
    if not det:
        return "Pixel detector: not run" if obj.get("image") else None
    verdict = (
        "flagged: indicative at most" if det["flagged"] else "below the threshold: no indication"
    )
    return (
        f"Pixel detector: score {det['score']:.4f} (threshold {det['threshold']:.2f}, "
        f"model {det['model']}), {verdict}; a statistical estimate, not proof"
    )


def _render_matches(console: Console, obj: dict[str, Any]) -> None:
    if obj.get("matches"):
        table = Table(title="Hash-list matches", title_justify="left")
        for column in ("list", "entry", "hash", "distance", "category", "series", "labels"):
            table.add_column(column, overflow="fold")
        table.add_column("note", no_wrap=True, min_width=10)
        for m in obj["matches"]:
            cells = (
                m["list"],
                str(m["entry"]),
                m["hash_type"],
                str(m["distance"]),
                m["category"] or "uncategorised",
                m["series"] or "",
                ", ".join(m["labels"]),
                "known-good" if m["known_good"] else "",
            )
            table.add_row(*(Text(c) for c in cells))
        console.print(table)
    group = obj.get("group")
    if group:
        role = "its representative" if group["representative"] else f"distance {group['distance']}"
        console.print(
            Text(f"Near-duplicate group {group['id'][:16]}... of {group['size']} files ({role})")
        )
