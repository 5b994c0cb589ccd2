"""JSON Lines: one object per unique content, the interchange format of veriscan (see README)."""

from __future__ import annotations

import json
from typing import TextIO

from veriscan.reports.base import Exporter
from veriscan.store.case import Case
from veriscan.store.queries import content_objects


class JsonlExporter(Exporter):
    id = "jsonl"
    suffix = ".jsonl"

    def write(
        self,
        case: Case,
        out: TextIO,
        *,
        thumbnails: bool = False,
        prompts: bool = False,
        known_good: bool = True,
    ) -> int:
        n = 0
        for obj in content_objects(case, prompts=prompts):
            if not known_good and any(m["known_good"] for m in obj["matches"]):
                continue
            obj.pop("thumbnail", None)
            out.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
        return n
