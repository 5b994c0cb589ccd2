"""The telemetry switches: set over whatever the shell says, FastAPI's hook off in the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from veriscan.offline import CLEARED, SWITCHES, quiet_environment


def test_switches_override_the_shell_and_the_opt_in_is_cleared() -> None:
    env = {
        "ORT_DISABLE_TELEMETRY": "0",
        "RAY_USAGE_STATS_ENABLED": "1",
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "NUMBA_CACHE_DIR": "/somewhere",
    }
    quiet_environment(env)
    assert {k: env[k] for k in SWITCHES} == SWITCHES
    assert env["ORT_DISABLE_TELEMETRY"] == "1"
    assert not any(name in env for name in CLEARED)
    assert env["NUMBA_CACHE_DIR"] == "/somewhere"  # an examiner's own choice is kept


def test_importing_veriscan_sets_them_for_child_processes() -> None:
    import os

    import veriscan  # noqa: F401

    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    assert "FASTAPI_OTEL_AUTO_CONFIGURE" not in os.environ


def test_the_review_app_ignores_fastapis_otel_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set after veriscan was imported and with OpenTelemetry's own switch lifted, so only the
    app's off switch stands in the way."""
    pytest.importorskip("opentelemetry.sdk", reason="the OTLP exporter path needs the SDK")
    from fastapi.testclient import TestClient
    from opentelemetry import trace

    from veriscan.store.case import Case
    from veriscan.web.app import create_app

    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://192.0.2.1:4318")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    Case.init(tmp_path / "case", "T", "E")
    with TestClient(create_app(tmp_path / "case")) as client:
        assert client.get("/login").status_code == 200
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
