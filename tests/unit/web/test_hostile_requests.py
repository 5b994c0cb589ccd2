"""Hostile requests to the review app (issue 15, items 8 and 18): every parameter of every route
refuses huge, negative, non-numeric, long and NUL values with 4xx, never 500; foreign Host
headers are refused and redirects never echo one; framing is forbidden; observers never reveal."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from conftest import REVIEW_PASSWORD as PASSWORD
from conftest import build_review_case
from support.web_server import log_in, login_form_token, serving
from veriscan.review import audit
from veriscan.store.case import Case
from veriscan.web.app import create_app
from veriscan.web.hosts import HostPort, parse_host, relative

HOSTILE = (
    "99999999999999999999999",
    "-99999999999999999999999",
    "-1",
    "1e308",
    "abc",
    "x" * 20_000,
    "a\x00b",
    "%",
    "../../../etc/passwd",
    "\u202e\ufeff",
)


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    users = (("boss", "admin"), ("lee", "lead"), ("ann", "reviewer"), ("olga", "observer"))
    return build_review_case(tmp_path_factory.mktemp("hostile"), users)


def _parameters(dependant: Dependant) -> list[str]:
    """Query, form and path parameter names of a route and of every dependency it has."""
    own = (*dependant.query_params, *dependant.body_params, *dependant.path_params)
    names = [p.alias for p in own]
    for sub in dependant.dependencies:
        names += _parameters(sub)
    return names


def _sha(c: TestClient) -> str:
    found = re.search(r'data-sha="([0-9a-f]{64})"', c.get("/").text)
    assert found
    return found.group(1)


def test_every_parameter_of_every_route_refuses_hostile_values(case_dir: Path) -> None:
    app = create_app(case_dir)
    c = TestClient(app, raise_server_exceptions=False)
    token = log_in(c, "boss", PASSWORD)
    sha = _sha(c)
    valid = {"sha256": sha, "version": "0", "category": "1", "csrf": token}
    tried = 0
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path == "/logout":
            continue
        for name in _parameters(route.dependant):
            for value in HOSTILE:
                in_path = quote(value, safe="") if name == "sha256" else sha
                url = route.path.replace("{sha256}", in_path)
                for method in route.methods or ():
                    if method == "GET":
                        params = {} if "{" in route.path else {name: value}
                        r = c.get(url, params=params, follow_redirects=False)
                    else:
                        form = {**valid, name: value}
                        if route.path == "/login":
                            form = {"username": "boss", "password": "p", name: value}
                            form.setdefault("csrf", login_form_token(c))
                        r = c.post(url, data=form, headers={"X-CSRF-Token": token})
                    tried += 1
                    shown = f"{method} {route.path} {name}={value[:30]!r}"
                    assert r.status_code < 500, f"{shown} answered {r.status_code}"
                    assert len(r.text) < 20_000 or r.status_code == 200, f"{shown} echoed it"
    assert tried > 150


def test_out_of_range_values_get_a_clear_422(case_dir: Path) -> None:
    c = TestClient(create_app(case_dir), raise_server_exceptions=False)
    log_in(c, "ann", PASSWORD)
    r = c.get("/", params={"page": "99999999999999999999999"})
    assert r.status_code == 422 and r.json() == {
        "detail": "page: Input should be less than or equal to 1000000"
    }
    nul = c.get("/grid", params={"verdict": "a\x00b"})
    assert nul.status_code == 422 and "control characters" in nul.json()["detail"]
    kind = c.get("/grid", params={"kind": "x" * 5000})
    assert kind.status_code == 422 and "'image' or 'video'" in kind.json()["detail"]
    assert len(kind.text) < 200, "the refused value is not echoed back"
    assert c.get("/", params={"page": "2"}).status_code == 200


def test_foreign_hosts_are_refused_and_redirects_are_relative(case_dir: Path) -> None:
    c = TestClient(create_app(case_dir), raise_server_exceptions=False)
    evil = c.get("/static", headers={"Host": "evil.example"}, follow_redirects=False)
    assert evil.status_code == 400 and "--allow-host" in evil.text
    assert "location" not in evil.headers
    ok = c.get("/static", follow_redirects=False)
    assert ok.status_code == 307 and ok.headers["location"] == "/static/"
    bad_hosts = ("", "a b", "testserver:99999", "testserver:8x", "[::1", "x" * 400)
    for bad in (*(h.encode() for h in bad_hosts), "\u00e9.example".encode()):
        assert c.get("/login", headers={"Host": bad}).status_code == 400, bad
    named = TestClient(create_app(case_dir, allowed_hosts=("0.0.0.0", "review.lab:8443")))
    assert named.get("/login", headers={"Host": "review.lab:8443"}).status_code == 200
    assert named.get("/login", headers={"Host": "Review.Lab.:8443"}).status_code == 200
    assert named.get("/login", headers={"Host": "review.lab:8444"}).status_code == 400
    assert named.get("/login", headers={"Host": "review.lab.evil"}).status_code == 400
    with pytest.raises(ValueError, match="not a host name"):
        create_app(case_dir, allowed_hosts=("bad name",))


def test_loopback_names_with_the_port_only(case_dir: Path) -> None:
    with serving(create_app(case_dir)) as base:
        port = int(base.rsplit(":", 1)[1])
        with httpx.Client(base_url=base, timeout=60) as c:
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
                assert c.get("/login", headers={"Host": host}).status_code == 200, host
            for host in ("localhost", f"localhost:{port + 1}", f"attacker.example:{port}"):
                assert c.get("/login", headers={"Host": host}).status_code == 400, host
            r = c.get("/static", follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"] == "/static/"


def test_host_parsing_and_relative_redirects() -> None:
    assert parse_host("[::1]:8765") == HostPort("::1", 8765)
    assert parse_host("LOCALHOST.") == HostPort("localhost", None)
    assert parse_host("::1") == HostPort("::1", None)
    assert parse_host("[::ffff:192.0.2.4]:80") == HostPort("192.0.2.4", 80)
    for bad in ("a:b:c", "host:0", "host:", "-x.example", "a..b", "[zz]:1", "h\x00"):
        assert parse_host(bad) is None, bad
    assert relative("http://evil.example//evil.example/a?b=1") == "/evil.example/a?b=1"
    assert relative("/static/") == "/static/"


def test_pages_may_not_be_framed(case_dir: Path) -> None:
    r = TestClient(create_app(case_dir)).get("/login")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY"


def test_observers_see_blurred_images_only(case_dir: Path) -> None:
    olga = TestClient(create_app(case_dir))
    log_in(olga, "olga", PASSWORD)
    sha = _sha(olga)
    before = len(list(audit.entries(Case.open(case_dir))))
    assert olga.get(f"/reveal/{sha}").status_code == 403
    assert olga.get(f"/prompt/{sha}").status_code == 403
    assert len(list(audit.entries(Case.open(case_dir)))) == before
    assert olga.get(f"/thumb/{sha}").status_code == 200
    for page in (olga.get("/").text, olga.get("/grid").text, olga.get(f"/file/{sha}").text):
        assert "data-reveal" not in page and "space reveals" not in page
        assert "/prompt/" not in page
    for name in ("ann", "lee", "boss"):
        c = TestClient(create_app(case_dir))
        log_in(c, name, PASSWORD)
        assert "data-reveal" in c.get(f"/file/{sha}").text
        assert c.get(f"/reveal/{sha}").status_code == 200, name
        assert c.get(f"/prompt/{sha}").status_code == 200, name
