"""The review app over HTTP: every route refuses strangers, state changes need a CSRF token and
the right role, images stay blurred until a logged reveal, decisions reach the audit log."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from conftest import REVIEW_PASSWORD as PASSWORD
from conftest import build_review_case
from veriscan.review import audit
from veriscan.store.case import Case
from veriscan.web.app import create_app

PUBLIC = {("GET", "/login"), ("POST", "/login")}
ROLE_LIMITED = {
    ("GET", "/audit"): "reviewer",
    ("POST", "/categorise"): "observer",
    ("POST", "/undo"): "observer",
}


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    users = (("boss", "admin"), ("ann", "reviewer"), ("bob", "reviewer"), ("olga", "observer"))
    return build_review_case(tmp_path_factory.mktemp("web"), users)


def client(case_dir: Path) -> TestClient:
    return TestClient(create_app(case_dir))


def login(c: TestClient, username: str) -> str:
    page = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    home = c.get("/")
    return re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]


def routes(case_dir: Path) -> list[tuple[str, str]]:
    out = []
    for route in create_app(case_dir).routes:
        if isinstance(route, APIRoute):
            for method in route.methods:
                out.append((method, route.path))
    return out


def _url(path: str, sha: str) -> str:
    return path.replace("{sha256}", sha)


def _sha(case_dir: Path) -> str:
    c = client(case_dir)
    login(c, "ann")
    return re.search(r'data-sha="([0-9a-f]{64})"', c.get("/").text).group(1)  # type: ignore[union-attr]


def test_every_route_refuses_an_anonymous_request(case_dir: Path) -> None:
    sha = _sha(case_dir)
    c = client(case_dir)
    seen = routes(case_dir)
    assert {("GET", "/"), ("POST", "/categorise"), ("GET", "/reveal/{sha256}")} <= set(seen)
    for method, path in seen:
        if (method, path) in PUBLIC:
            continue
        r = c.request(method, _url(path, sha), follow_redirects=False)
        assert r.status_code in (401, 303), f"{method} {path} answered {r.status_code}"
        if r.status_code == 303:
            assert r.headers["location"] == "/login"
    assert c.get("/static/review.js").status_code == 200


def test_every_state_change_needs_csrf_and_the_role(case_dir: Path) -> None:
    sha = _sha(case_dir)
    c = client(case_dir)
    token = login(c, "ann")
    posts = [(m, p) for m, p in routes(case_dir) if m == "POST" and (m, p) not in PUBLIC]
    assert posts
    for method, path in posts:
        r = c.request(method, path, data={"sha256": sha, "version": "0", "category": "1"})
        assert r.status_code == 403, f"{path} without CSRF answered {r.status_code}"
        r = c.request(method, path, data={"sha256": sha, "version": "0", "csrf": "forged"})
        assert r.status_code == 403
    r = c.post("/login", data={"username": "ann", "password": PASSWORD})
    assert r.status_code == 403, "login needs its own CSRF token too"
    for (method, path), weak in ROLE_LIMITED.items():
        w = client(case_dir)
        weak_token = login(w, {"reviewer": "bob", "observer": "olga"}[weak])
        r = w.request(
            method,
            path,
            headers={"X-CSRF-Token": weak_token},
            data={"sha256": sha, "version": "0", "category": "1"},
        )
        assert r.status_code == 403, f"{weak} reached {method} {path}"
    assert token


def test_blurred_until_revealed_and_decisions_are_audited(case_dir: Path) -> None:
    c = client(case_dir)
    token = login(c, "ann")
    sha = _sha(case_dir)
    blurred = Image.open(io.BytesIO(c.get(f"/thumb/{sha}").content))
    assert blurred.mode == "L", "thumbnails reach the browser greyscale"
    before = [e.action for e in audit.entries(Case.open(case_dir))]
    revealed = Image.open(io.BytesIO(c.get(f"/reveal/{sha}").content))
    assert revealed.mode == "RGB"
    after = list(audit.entries(Case.open(case_dir)))
    assert after[-1].action == "reveal" and after[-1].object == sha and after[-1].user == "ann"
    assert len(after) == len(before) + 1
    h = {"X-CSRF-Token": token}
    r = c.post("/categorise", headers=h, data={"sha256": sha, "version": "0", "category": "3"})
    assert r.status_code == 200 and r.json() == {"sha256": sha, "category": "3", "version": 1}
    stale = c.post("/categorise", headers=h, data={"sha256": sha, "version": "0", "category": "1"})
    assert stale.status_code == 409 and stale.json()["version"] == 1
    r = c.post("/undo", headers=h, data={"sha256": sha, "version": "1"})
    assert r.status_code == 200 and r.json()["category"] is None
    bad = c.post("/categorise", headers=h, data={"sha256": sha, "version": "2", "category": "Z"})
    assert bad.status_code == 400
    detail = c.get(f"/file/{sha}")
    assert "undo of v1" in detail.text and sha in detail.text
    actions = [e.action for e in audit.entries(Case.open(case_dir))]
    assert actions[-3:] == ["categorise", "categorise-conflict", "undo"]
    assert audit.verify(Case.open(case_dir)).ok
    boss = client(case_dir)
    login(boss, "boss")
    page = boss.get("/audit")
    assert page.status_code == 200 and "Chain intact" in page.text and "reveal" in page.text


def test_grid_filters_priority_and_login_limits(case_dir: Path) -> None:
    c = client(case_dir)
    login(c, "bob")
    page = c.get("/")
    assert "files" in page.text and 'class="cell"' in page.text
    ai = c.get("/grid", params={"verdict": "conclusive"})
    assert ai.status_code == 200 and "AI: conclusive" in ai.text
    shas_all = re.findall(r'data-sha="([0-9a-f]{64})"', page.text)
    shas_none = re.findall(
        r'data-sha="([0-9a-f]{64})"', c.get("/grid", params={"verdict": "none found"}).text
    )
    assert shas_all[: len(shas_none)] == shas_none, "files without AI evidence come first"
    r = c.post("/logout", headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    stranger = client(case_dir)
    token = re.search(r'name="csrf" value="([^"]+)"', stranger.get("/login").text).group(1)  # type: ignore[union-attr]
    codes = [
        stranger.post(
            "/login",
            data={"username": "olga", "password": "wrong password!!", "csrf": token},
            follow_redirects=False,
        ).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [303] * 5 and codes[5] == 429
    failed = [
        e
        for e in audit.entries(Case.open(case_dir))
        if e.action in ("login-failed", "login-blocked")
    ]
    # Issue 15: repeated failures collapse into counted rows instead of one row per request.
    assert [e.action for e in failed[-2:]] == ["login-failed", "login-blocked"]
    assert failed[-1].details["failures"] == 5 and failed[-1].object == "olga"


def test_dashboard_settings_and_group_categorisation(case_dir: Path) -> None:
    c = client(case_dir)
    token = login(c, "ann")
    board = c.get("/dashboard")
    assert board.status_code == 200 and "<svg" in board.text and "Review progress" in board.text
    h = {"X-CSRF-Token": token}
    r = c.post("/settings", headers=h, data={"blur": "20", "size": "96"})
    assert r.status_code == 200 and r.json() == {"blur": 20, "greyscale": False, "size": 96}
    assert list(audit.entries(Case.open(case_dir)))[-1].action == "settings"
    colour = Image.open(io.BytesIO(c.get(f"/thumb/{_sha(case_dir)}").content))
    assert colour.mode == "RGB" and max(colour.size) <= 96
    from sqlalchemy import select

    from veriscan.store import schema

    with Case.open(case_dir).engine.connect() as conn:
        grouped = conn.execute(select(schema.dup_groups.c.sha256)).scalars().all()
    assert grouped, "the demo has a group of three near-duplicates"
    r = c.post(
        "/categorise",
        headers=h,
        data={"sha256": grouped[0], "version": "99", "category": "4", "scope": "group"},
    )
    assert r.status_code == 200 and r.json()["group"] == 3 and r.json()["conflicts"] == []
    four = c.get("/grid", params={"category": "4"}).text
    assert len(re.findall(r'data-sha="', four)) == 3


def test_detail_form_records_notes_and_tags(case_dir: Path) -> None:
    c = client(case_dir)
    token = login(c, "bob")
    sha = _sha(case_dir)
    page = c.get(f"/file/{sha}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/categorise",
        data={
            "csrf": token,
            "sha256": sha,
            "version": version,
            "category": "non-pertinent",
            "note": "a drawing of a lake",
            "tags": "scenery, batch-2",
        },
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/file/{sha}"
    page = c.get(f"/file/{sha}").text
    assert "a drawing of a lake" in page and "scenery, batch-2" in page
    olga = client(case_dir)
    login(olga, "olga")
    assert "Record decision" not in olga.get(f"/file/{sha}").text
    assert "Custodian" in c.get("/").text


def test_priority_is_configurable(case_dir: Path) -> None:
    import pytest as _pytest

    plain = TestClient(create_app(case_dir, priority="sha256"))
    login(plain, "ann")
    shas = re.findall(r'data-sha="([0-9a-f]{64})"', plain.get("/").text)
    assert shas == sorted(shas)
    fresh = TestClient(create_app(case_dir, priority="unreviewed-first"))
    login(fresh, "ann")
    decided = set(
        re.findall(
            r'data-sha="([0-9a-f]{64})"', fresh.get("/grid", params={"reviewed": "yes"}).text
        )
    )
    order = re.findall(r'data-sha="([0-9a-f]{64})"', fresh.get("/").text)
    flags = [s in decided for s in order]
    assert flags == sorted(flags), "undecided files come before decided ones"
    with _pytest.raises(ValueError, match="priority"):
        create_app(case_dir, priority="random")


def test_origin_filter_finds_deleted_and_carved_files(case_dir: Path) -> None:
    from sqlalchemy import select, update

    from veriscan.store import schema

    loc = schema.locations.c
    case = Case.open(case_dir)
    with case.engine.begin() as conn:
        sha = conn.execute(
            select(loc.sha256).where(loc.name.like("%.jpg")).order_by(loc.sha256).limit(1)
        ).scalar_one()
        conn.execute(update(schema.locations).where(loc.sha256 == sha).values(deleted=True))
    c = client(case_dir)
    login(c, "bob")
    deleted = re.findall(
        r'data-sha="([0-9a-f]{64})"', c.get("/grid", params={"origin": "deleted"}).text
    )
    assert deleted == [sha]
    assert 'data-sha="' not in c.get("/grid", params={"origin": "carved"}).text
    allocated = c.get("/grid", params={"origin": "allocated"}).text
    assert f'data-sha="{sha}"' not in allocated and 'data-sha="' in allocated
