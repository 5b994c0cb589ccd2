"""Near-duplicate groups: chains of close PDQ hashes, one representative, rebuilt idempotently."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from veriscan.domain import RunInfo
from veriscan.matching.groups import refresh_groups
from veriscan.store import schema
from veriscan.store.case import Case


def _flip(hex_hash: str, bits: range) -> str:
    value = int(hex_hash, 16)
    for b in bits:
        value ^= 1 << b
    return f"{value:064x}"


def _case(tmp_path: Path, rows: list[tuple[str, str | None, int, int]]) -> Case:
    case = Case.init(tmp_path / "case", "T", "E")
    run = case.start_run(RunInfo("test", "0", {}, {}), None)
    with case.engine.begin() as conn:
        for sha, pdq, quality, width in rows:
            conn.execute(
                insert(schema.contents).values(
                    sha256=sha,
                    md5="0" * 32,
                    sha1="0" * 40,
                    size=width,
                    mime="image/png",
                    width=width,
                    height=width,
                    pdq_hash=pdq,
                    pdq_quality=quality,
                    findings={},
                    run_id=run,
                )
            )
    return case


def _groups(case: Case) -> dict[str, tuple[str, int, int]]:
    g = schema.dup_groups.c
    with case.engine.connect() as conn:
        return {
            r.sha256: (r.group_id, r.size, r.distance)
            for r in conn.execute(select(g.sha256, g.group_id, g.size, g.distance))
        }


def test_chains_join_and_the_best_member_represents(tmp_path: Path) -> None:
    base = "a5" * 32
    b = _flip(base, range(0, 25))  # 25 from a
    c = _flip(base, range(0, 50))  # 25 from b, 50 from a: joined through b
    far = _flip(base, range(100, 228))  # far from all
    low = _flip(base, range(0, 3))  # close, but quality too low to count
    same = base  # identical hash, other file
    rows = [
        ("1" * 64, base, 90, 100),
        ("2" * 64, b, 95, 100),
        ("3" * 64, c, 90, 400),
        ("4" * 64, far, 90, 100),
        ("5" * 64, low, 20, 100),
        ("6" * 64, same, 90, 50),
        ("7" * 64, None, 0, 10),
    ]
    case = _case(tmp_path, rows)
    assert refresh_groups(case) == 1
    groups = _groups(case)
    assert set(groups) == {"1" * 64, "2" * 64, "3" * 64, "6" * 64}
    rep = "2" * 64  # highest quality wins before size
    assert {g[0] for g in groups.values()} == {rep}
    assert {g[1] for g in groups.values()} == {4}
    assert groups["3" * 64][2] == 25 and groups[rep][2] == 0
    assert refresh_groups(case) == 1
    assert _groups(case) == groups, "rebuilding gives the same table"


def test_no_pdq_no_groups(tmp_path: Path) -> None:
    case = _case(tmp_path, [("1" * 64, None, 0, 1)])
    assert refresh_groups(case) == 0
    assert _groups(case) == {}
