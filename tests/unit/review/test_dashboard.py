"""The dashboard's figures come from the store as one typed summary, without a web request."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert

from veriscan.domain import RunInfo
from veriscan.matching.lists.schemes import US
from veriscan.review.dashboard import dashboard_counts
from veriscan.review.decisions import categorise
from veriscan.review.users import User
from veriscan.store import schema
from veriscan.store.case import Case


def test_counts_by_type_verdict_progress_and_category(tmp_path: Path) -> None:
    case = Case.init(tmp_path / "case", "T", "E")
    run = case.start_run(RunInfo("test", "0", {}, {}), None)
    rows = [
        ("a" * 64, "image/jpeg", "conclusive"),
        ("b" * 64, "image/png", None),
        ("c" * 64, "video/mp4", None),
        ("d" * 64, "text/plain", None),
    ]
    with case.engine.begin() as conn:
        for sha, mime, verdict in rows:
            conn.execute(
                insert(schema.contents).values(
                    sha256=sha,
                    md5="0" * 32,
                    sha1="0" * 40,
                    size=1,
                    mime=mime,
                    ai_verdict=verdict,
                    findings={},
                    run_id=run,
                )
            )
    categorise(case, User("ann", "reviewer", ""), "a" * 64, "non-pertinent", US, seen_version=0)
    counts = dashboard_counts(case)
    assert counts.by_type == {"image/jpeg": 1, "image/png": 1, "video/mp4": 1, "text/plain": 1}
    assert counts.verdicts == {"conclusive": 1, "not analysed": 2}
    assert counts.progress == {"reviewed": 1, "not yet": 2}
    assert counts.categories == {"non-pertinent": 1}
    assert counts.matches == {"on flagged lists": 0, "known-good": 0}
    case.close()
