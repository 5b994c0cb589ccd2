"""Category schemes: VICS codes both ways, what examiners type, and custom TOML schemes."""

from __future__ import annotations

from pathlib import Path

import pytest

from veriscan.matching.lists.schemes import (
    BUILTIN,
    CATEGORY_ZERO_CHOICES,
    DEFAULT_CATEGORY_ZERO,
    UK,
    US,
    Category,
    Scheme,
    SchemeError,
    load_scheme,
)


def test_default_category_zero_is_the_safe_choice() -> None:
    assert DEFAULT_CATEGORY_ZERO == "uncategorised"
    assert CATEGORY_ZERO_CHOICES == ("uncategorised", "non-pertinent")
    assert US.from_vics(0) is None


@pytest.mark.parametrize(
    ("scheme", "code", "key"),
    [(US, 1, "1"), (US, 4, "4"), (UK, 1, "A"), (UK, 3, "C"), (UK, 4, "prohibited")],
)
def test_from_vics_maps_codes_to_keys(scheme: Scheme, code: int, key: str) -> None:
    assert scheme.from_vics(code) == key
    assert scheme.to_vics(key) == code


def test_category_zero_follows_the_choice() -> None:
    assert US.from_vics(0, "uncategorised") is None
    assert US.from_vics(0, "non-pertinent") == "non-pertinent"
    assert UK.from_vics(0, "non-pertinent") == "non-pertinent"
    assert US.from_vics(None, "non-pertinent") is None
    with pytest.raises(ValueError, match="category_zero"):
        US.from_vics(0, "harmless")


def test_unknown_code_names_the_scheme() -> None:
    with pytest.raises(ValueError, match=r"^category 7 is not in scheme US$"):
        US.from_vics(7)


def test_to_vics() -> None:
    assert US.to_vics(None) is None
    assert US.to_vics("non-pertinent") == 0
    assert UK.to_vics("B") == 2
    with pytest.raises(ValueError, match="not in scheme UK"):
        UK.to_vics("1")


@pytest.mark.parametrize(
    ("scheme", "raw", "key"),
    [
        (UK, "A", "A"),
        (UK, "a", "A"),
        (UK, " category b ", "B"),
        (UK, "PROHIBITED / NON-PHOTOGRAPHIC", "prohibited"),
        (UK, "3", "C"),
        (UK, "0", "non-pertinent"),
        (US, "2", "2"),
        (US, "cgi / animation", "3"),
        (US, "Non-Pertinent", "non-pertinent"),
        (US, "", None),
        (US, "Uncategorised", None),
        (US, "uncategorized", None),
    ],
)
def test_key_accepts_keys_labels_and_numbers(scheme: Scheme, raw: str, key: str | None) -> None:
    assert scheme.key(raw) == key


def test_key_refusals_say_why() -> None:
    with pytest.raises(ValueError, match=r"'Z' is not a category of scheme UK \(keys: A, B, C"):
        UK.key("Z")
    with pytest.raises(ValueError, match="VICS category 9 is not in scheme US"):
        US.key("9")


def test_keys_win_over_vics_numbers() -> None:
    scheme = Scheme("swap", (Category("2", "two", 1), Category("1", "one", 2)))
    assert scheme.key("2") == "2"
    assert scheme.from_vics(2) == "1"


def test_builtin_names_are_case_insensitive() -> None:
    assert load_scheme("us") is US
    assert load_scheme(" Uk ") is UK
    assert set(BUILTIN) == {"US", "UK"}


def test_scheme_refuses_duplicates() -> None:
    with pytest.raises(SchemeError, match="duplicate key"):
        Scheme("x", (Category("a", "one", 1), Category("A", "two", 2)))
    with pytest.raises(SchemeError, match="duplicate VICS code 1"):
        Scheme("x", (Category("a", "one", 1), Category("b", "two", 1)))
    with pytest.raises(SchemeError, match="reserved for 'non-pertinent'"):
        Scheme("x", (Category("a", "one", 0),))


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scheme.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_scheme_from_toml(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        """
name = "lab-scheme"

[[category]]
key = "X1"
label = "Priority one"
vics = 1

[[category]]
key = "X2"
label = "Priority two"
vics = 2

[[category]]
key = "note"
label = "Reference only"
""",
    )
    scheme = load_scheme(str(path))
    assert scheme.name == "lab-scheme"
    assert [c.key for c in scheme.categories] == ["X1", "X2", "note", "non-pertinent"]
    assert scheme.categories[2] == Category("note", "Reference only", None)
    assert scheme.from_vics(2) == "X2"
    assert scheme.from_vics(0, "non-pertinent") == "non-pertinent"
    assert scheme.to_vics("non-pertinent") == 0
    assert scheme.key("priority ONE") == "X1"
    with pytest.raises(ValueError, match="has no VICS code"):
        scheme.to_vics("note")


def test_custom_scheme_may_declare_non_pertinent_itself(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'name = "lab"\n[[category]]\nkey = "X1"\nlabel = "one"\nvics = 1\n'
        '[[category]]\nkey = "non-pertinent"\nlabel = "Not relevant"\nvics = 0\n',
    )
    scheme = load_scheme(str(path))
    assert len(scheme.categories) == 2
    assert scheme.key("not relevant") == "non-pertinent"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [unclosed", "not a valid TOML file"),
        ('[[category]]\nkey = "a"\nlabel = "b"\n', "missing 'name'"),
        ('name = "lab"\n', r"no \[\[category\]\] tables"),
        ('name = "lab"\n[[category]]\nlabel = "b"\n', "category 1: missing 'key'"),
        ('name = "lab"\n[[category]]\nkey = "a"\n', "category 1: missing 'label'"),
        (
            'name = "lab"\n[[category]]\nkey = "a"\nlabel = "one"\n'
            '[[category]]\nkey = "a"\nlabel = "two"\n',
            "duplicate key",
        ),
        (
            'name = "lab"\n[[category]]\nkey = "a"\nlabel = "one"\nvics = 3\n'
            '[[category]]\nkey = "b"\nlabel = "two"\nvics = 3\n',
            "duplicate VICS code 3",
        ),
        ('name = "lab"\n[[category]]\nkey = "a"\nlabel = "b"\nvics = "1"\n', "whole number"),
        (
            'name = "lab"\n[[category]]\nkey = "a"\nlabel = "b"\nvic = 1\n',
            r"unknown keys \['vic'\]",
        ),
        ('name = "lab"\n[[category]]\nkey = "a"\nlabel = "b"\nvics = 0\n', "reserved"),
        ('name = "US"\n[[category]]\nkey = "a"\nlabel = "b"\n', "reserved for a built-in"),
        ('name = "lab"\ncategories = 1\n', "unknown top-level keys"),
    ],
)
def test_bad_custom_schemes_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(SchemeError, match=message) as info:
        load_scheme(str(path))
    assert str(path) in str(info.value)


def test_unknown_name_that_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SchemeError, match="neither a built-in scheme"):
        load_scheme(str(tmp_path / "missing.toml"))
    assert issubclass(SchemeError, ValueError)
