"""The review app in a real Chromium: log in, filter, reveal, categorise and undo by keyboard,
see the audit entries, log out. Screenshots land in test-artifacts/ (and docs/ when asked)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REVIEW_PASSWORD as PASSWORD
from conftest import build_review_case
from veriscan.review import audit
from veriscan.store.case import Case

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    import uvicorn

    from veriscan.web.app import create_app

    case_dir = build_review_case(
        tmp_path_factory.mktemp("e2e"), (("boss", "admin"), ("ann", "reviewer"))
    )
    port = _free_port()
    config = uvicorn.Config(create_app(case_dir), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the review app did not start within 10 s"
    yield f"http://127.0.0.1:{port}", case_dir
    server.should_exit = True
    thread.join(10)


def test_keyboard_review_flow(server: tuple[str, Path]) -> None:
    base, case_dir = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(base + "/")
        assert page.url.endswith("/login")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.click("button")
        page.wait_for_selector(".cell")
        assert not [u for u in requested if "/reveal/" in u], "nothing unblurred before a reveal"
        page.select_option("select[name=verdict]", "none found")
        page.wait_for_timeout(500)
        cell = page.locator(".cell").first
        sha = cell.get_attribute("data-sha")
        cell.focus()
        page.screenshot(path=str(ARTIFACTS / "review-grid.png"))
        page.keyboard.press(" ")
        page.wait_for_timeout(300)
        assert [u for u in requested if u.endswith(f"/reveal/{sha}")], "space reveals the image"
        page.keyboard.press("3")
        sync_api.expect(page.locator(".cell .category").first).to_have_text("3", timeout=5000)
        page.keyboard.press("u")
        sync_api.expect(page.locator(".cell .category").first).to_have_text(
            "uncategorised", timeout=5000
        )
        page.goto(f"{base}/file/{sha}")
        page.screenshot(path=str(ARTIFACTS / "review-detail.png"))
        assert "undo of v1" in page.content()
        page.click("header button")
        page.wait_for_url("**/login")
        browser.close()
    actions = [(e.user, e.action, e.object) for e in audit.entries(Case.open(case_dir))]
    assert ("ann", "reveal", sha) in actions
    assert ("ann", "categorise", sha) in actions and ("ann", "undo", sha) in actions
    assert actions[-1][:2] == ("ann", "logout")
    if os.environ.get("VERISCAN_DOCS_SCREENSHOTS"):
        docs = Path(__file__).resolve().parents[2] / "docs"
        docs.mkdir(exist_ok=True)
        for name in ("review-grid.png", "review-detail.png"):
            shutil.copy(ARTIFACTS / name, docs / name)
