from __future__ import annotations

from pathlib import Path

import pytest

from veriscan.settings import Settings, SettingsError, load_settings


def test_layers_in_order(tmp_path: Path) -> None:
    toml = tmp_path / "veriscan.toml"
    toml.write_text('[veriscan]\npdq = "exact"\nworkers = 3\nthumbnail_px = 128\n')
    s = load_settings(toml, environ={})
    assert (s.pdq, s.workers, s.thumbnail_px) == ("exact", 3, 128)
    s = load_settings(toml, environ={"VERISCAN_WORKERS": "5", "VERISCAN_PDQ": "fast"})
    assert (s.pdq, s.workers, s.thumbnail_px) == ("fast", 5, 128)
    s = load_settings(
        toml, environ={"VERISCAN_WORKERS": "5"}, overrides={"workers": 1, "pdq": None}
    )
    assert (s.pdq, s.workers) == ("exact", 1)


def test_defaults_without_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "missing.toml", environ={}) == Settings()


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('pdq = "sloppy"\n', {}),
        ("nonsense = 1\n", {}),
        ('workers = "many"\n', {}),
        ("", {"VERISCAN_WORKERS": "-1"}),
        ("[veriscan\n", {}),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    toml = tmp_path / "veriscan.toml"
    toml.write_text(text)
    with pytest.raises(SettingsError):
        load_settings(toml, environ=env)


def test_unrelated_env_vars_are_ignored() -> None:
    assert load_settings(None, environ={"VERISCAN_DB_PASSWORD_X": "1"}) == Settings()
