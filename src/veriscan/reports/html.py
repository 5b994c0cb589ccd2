"""A self-contained HTML report: no external assets, no network, opened straight from the case.

Thumbnails are off by default; with ``thumbnails=True`` they are embedded as data URIs, converted
to greyscale and heavily blurred server-side, so unblurred pixels never enter the report file.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, PackageLoader, select_autoescape

from veriscan import __version__
from veriscan.previews import blurred_jpeg
from veriscan.redaction import withhold_text
from veriscan.reports.base import Exporter
from veriscan.reports.classifier_text import NOTICE, classifier_lines
from veriscan.review.audit import audit_head
from veriscan.store.case import Case, now
from veriscan.store.match_queries import matching_summary
from veriscan.store.queries import ai_summary, content_objects, problem_rows, summary
from veriscan.toolchain.summary import toolchain_summary

BLUR_RADIUS = 12
MAX_ROWS = 20_000


def blurred_thumbnail(path: Path) -> str | None:
    try:
        data = blurred_jpeg(path, BLUR_RADIUS, quality=60)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


class HtmlExporter(Exporter):
    id = "html"
    suffix = ".html"

    def write(
        self,
        case: Case,
        out: TextIO,
        *,
        thumbnails: bool = False,
        prompts: bool = False,
        known_good: bool = True,
    ) -> int:
        env = Environment(
            loader=PackageLoader("veriscan.reports", "templates"),
            autoescape=select_autoescape(["html"]),
        )
        files: list[dict[str, Any]] = []
        truncated = False
        hidden = 0
        for obj in content_objects(case, prompts=prompts):
            if not known_good and any(m["known_good"] for m in obj["matches"]):
                hidden += 1
                continue
            if len(files) >= MAX_ROWS:
                truncated = True
                break
            obj["classifier_lines"] = classifier_lines(obj.get("classifiers"))
            if thumbnails and obj.get("thumbnail"):
                obj["thumb_uri"] = blurred_thumbnail(case.root / obj["thumbnail"])
            files.append(obj)
        problems = problem_rows(case)
        if not prompts:
            for row in problems:
                row["message"] = withhold_text(str(row["message"]))
        html = env.get_template("report.html").render(
            s=summary(case),
            ai=ai_summary(case),
            toolchain=toolchain_summary(case),
            matching=matching_summary(case),
            hidden_known_good=hidden,
            prompts=prompts,
            files=files,
            truncated=truncated,
            max_rows=MAX_ROWS,
            problems=problems,
            thumbnails=thumbnails,
            generated=now(),
            version=__version__,
            audit_head=audit_head(case),
            classifier_notice=NOTICE if any(f["classifier_lines"] for f in files) else None,
        )
        out.write(html)
        return len(files)
