"""The login limiter (issue 15, item 7): parallel requests never pass the limit, memory and audit
rows stay bounded whatever names are sent, and one locked account locks no one else out."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import REVIEW_PASSWORD as PASSWORD
from conftest import build_review_case
from support.web_server import log_in, login_form_token, serving
from veriscan.review import audit
from veriscan.store.case import Case
from veriscan.web.app import create_app
from veriscan.web.login_limits import Attempt, LoginLimiter, Refusal, client_key

LOGIN_ROWS = ("login-failed", "login-blocked", "login-failures")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    users = (("boss", "admin"), ("ann", "reviewer"), ("olga", "observer"))
    return build_review_case(tmp_path_factory.mktemp("limits"), users)


def _login_rows(case_dir: Path) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(Case.open(case_dir)) if e.action in LOGIN_ROWS]


def test_parallel_reservations_never_pass_the_limit() -> None:
    limiter = LoginLimiter(per_user=5)
    start = threading.Barrier(40)
    checked: list[Attempt] = []

    def one() -> None:
        start.wait()
        attempt = limiter.begin("10.0.0.9", "olga")
        if isinstance(attempt, Attempt):
            checked.append(attempt)
            limiter.failed(attempt)

    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) == 5
    assert isinstance(limiter.begin("10.0.0.9", "olga"), Refusal)
    assert isinstance(limiter.begin("10.0.0.9", "ann"), Attempt), "other accounts still work"


def test_keys_stay_bounded_whatever_names_and_addresses_are_sent() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_keys=200, clock=clock)
    for i in range(5000):
        attempt = limiter.begin(f"10.{i // 250}.{i % 250}.1", f"name-{i}-" + "x" * 100)
        if isinstance(attempt, Attempt):
            limiter.failed(attempt)
        assert len(limiter) <= 200
    one_address = LoginLimiter(per_address=30, clock=clock)
    refused = 0
    for i in range(3000):
        attempt = one_address.begin("10.0.0.7", f"user{i}")
        if isinstance(attempt, Refusal):
            refused += 1
        else:
            one_address.failed(attempt)
    assert refused == 3000 - 30
    assert len(one_address) == 31, "refused requests never add a key"


def test_a_run_of_failures_is_summarised_once_with_its_counts() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_user=5, window=300, clock=clock)
    counts = []
    for _ in range(5):
        attempt = limiter.begin("10.0.0.1", "olga")
        assert isinstance(attempt, Attempt)
        failure = limiter.failed(attempt)
        counts.append((failure.failures, failure.locked))
    assert counts[0] == (1, ()) and counts[-1] == (5, ("user",))
    refusals = [limiter.begin("10.0.0.1", "olga") for _ in range(50)]
    assert all(isinstance(r, Refusal) and r.retry_after == 300 for r in refusals)
    assert limiter.ended() == []
    clock.now += 301
    assert isinstance(limiter.begin("10.0.0.2", "ann"), Attempt)
    [summary] = limiter.ended()
    assert (summary.username, summary.failures, summary.refused) == ("olga", 5, 50)
    assert limiter.ended() == [], "each summary is given once"
    assert isinstance(limiter.begin("10.0.0.1", "olga"), Attempt), "the lock ends with the window"


def test_ipv6_clients_are_keyed_by_their_64_prefix() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.4") == "192.0.2.4"
    assert client_key(None) == "-"


def test_parallel_wrong_passwords_over_http_lock_only_that_account(case_dir: Path) -> None:
    clock = Clock()
    app = create_app(case_dir)
    app.state.limiter = LoginLimiter(clock=clock)
    before = len(_login_rows(case_dir))
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as c:
        token = login_form_token(c)
        wrong = {"username": "olga", "password": "not the password", "csrf": token}

        def attempt(_: int) -> int:
            return c.post("/login", data=wrong, follow_redirects=False).status_code

        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(attempt, range(40)))
        assert codes.count(303) == 5 and codes.count(429) == 35, codes
        rows = _login_rows(case_dir)[before:]
        # parallel requests: the first failure's row may land after the block's
        assert sorted((e.action, e.details.get("failures") or 0) for e in rows) == [
            ("login-blocked", 5),
            ("login-failed", 0),
        ]
        with httpx.Client(base_url=base, timeout=60) as ann:
            assert log_in(ann, "ann", PASSWORD), "another account logs in from the same address"
        right = {"username": "olga", "password": PASSWORD, "csrf": token}
        refused = c.post("/login", data=right, follow_redirects=False)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) <= 300
        clock.now += 301
        assert log_in(c, "olga", PASSWORD), "the right password works once the window passed"
        nobody = {**wrong, "username": "nobody", "csrf": login_form_token(c)}
        codes = [c.post("/login", data=nobody, follow_redirects=False) for _ in range(3)]
        assert [r.status_code for r in codes] == [303] * 3
    summary = [e for e in _login_rows(case_dir)[before:] if e.action == "login-failures"]
    assert [(e.object, e.details["failures"], e.details["refused"]) for e in summary] == [
        ("olga", 5, 36),
        ("nobody", 3, 0),
    ], "counts not yet in the log are written when the window passes or the server stops"


def test_long_names_are_refused_before_any_work(case_dir: Path) -> None:
    app = create_app(case_dir)
    c = TestClient(app)
    token = login_form_token(c)
    before = len(list(audit.entries(Case.open(case_dir))))
    huge = c.post("/login", data={"username": "n" * 200_000, "password": "x", "csrf": token})
    assert huge.status_code == 422 and "username" in huge.json()["detail"]
    assert len(huge.text) < 300, "the refused value is not echoed back"
    assert len(app.state.limiter) == 0
    assert len(list(audit.entries(Case.open(case_dir)))) == before


def test_thousands_of_names_from_one_address_add_bounded_keys_and_rows(case_dir: Path) -> None:
    app = create_app(case_dir)
    c = TestClient(app)
    token = login_form_token(c)
    before = len(_login_rows(case_dir))
    codes = [
        c.post(
            "/login",
            data={"username": f"{i:04d}" + "n" * 124, "password": "guess", "csrf": token},
            follow_redirects=False,
        ).status_code
        for i in range(1000)
    ]
    assert codes.count(303) == 30 and codes.count(429) == 970
    assert len(app.state.limiter) == 31
    rows = _login_rows(case_dir)[before:]
    assert len(rows) == 31, "one row per name's first failure and one for the address lock"
    assert rows[-1].action == "login-blocked" and rows[-1].details["by"] == "address"
