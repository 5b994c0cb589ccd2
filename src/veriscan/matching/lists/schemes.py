"""Category schemes: how a list's numeric or named categories map to the keys veriscan stores.

Lists from different agencies grade the same material on different scales (the US 1-4 grading,
the UK A/B/C grading, a lab's own scheme). A scheme maps each category key to its label and to the
number VICS files use for it, so a list can be read in one scheme and exported again unchanged.

VICS code 0 is ambiguous in practice: some exporters write 0 for "looked at, not pertinent",
others for "not looked at yet". The default, ``"uncategorised"``, reads 0 as *not graded*:
treating 0 as harmless would let a relevant file be set aside unseen because a tool wrote 0 for
"unknown". An examiner who knows the source means "non-pertinent" chooses that explicitly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORY_ZERO_CHOICES = ("uncategorised", "non-pertinent")
DEFAULT_CATEGORY_ZERO = "uncategorised"
NON_PERTINENT = "non-pertinent"
_UNCATEGORISED_WORDS = frozenset({"uncategorised", "uncategorized"})
_CATEGORY_FIELDS = frozenset({"key", "label", "vics"})
_TOP_FIELDS = frozenset({"name", "category"})


class SchemeError(ValueError):
    """A scheme definition is unusable; the message says which file and which entry."""


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    vics: int | None


@dataclass(frozen=True)
class Scheme:
    """A named set of categories; tiny, so lookups are plain scans rather than cached indexes."""

    name: str
    categories: tuple[Category, ...]

    def __post_init__(self) -> None:
        _check_categories(self.name, self.categories)

    def from_vics(self, code: int | None, category_zero: str = DEFAULT_CATEGORY_ZERO) -> str | None:
        """The key for a VICS code; 0 follows ``category_zero`` (see the module docstring)."""
        if category_zero not in CATEGORY_ZERO_CHOICES:
            choices = ", ".join(CATEGORY_ZERO_CHOICES)
            raise ValueError(f"category_zero must be one of {choices}, got {category_zero!r}")
        if code is None:
            return None
        if code == 0 and category_zero == "uncategorised":
            return None
        for cat in self.categories:
            if cat.vics == code:
                return cat.key
        raise ValueError(f"category {code} is not in scheme {self.name}")

    def to_vics(self, key: str | None) -> int | None:
        """The VICS code for a key; a category without a code cannot be exported, so it raises."""
        if key is None:
            return None
        for cat in self.categories:
            if cat.key == key:
                if cat.vics is None:
                    raise ValueError(
                        f"category {key!r} of scheme {self.name} has no VICS code to export"
                    )
                return cat.vics
        raise ValueError(f"category {key!r} is not in scheme {self.name}")

    def key(self, raw: str) -> str | None:
        """Resolve what a person typed (key, label or VICS number) to a key.

        Keys win over numbers, so in a scheme whose key "2" carries VICS code 1, "2" means that
        key. An explicit "0" names non-pertinent: whoever types it is choosing, not defaulting.
        """
        text = raw.strip()
        folded = text.casefold()
        if not text or folded in _UNCATEGORISED_WORDS:
            return None
        for cat in self.categories:
            if cat.key == text:
                return cat.key
        for cat in self.categories:
            if cat.key.casefold() == folded or cat.label.casefold() == folded:
                return cat.key
        if text.isascii() and text.isdigit():
            for cat in self.categories:
                if cat.vics == int(text):
                    return cat.key
            raise ValueError(f"VICS category {text} is not in scheme {self.name}")
        known = ", ".join(cat.key for cat in self.categories)
        raise ValueError(
            f"{raw.strip()[:80]!r} is not a category of scheme {self.name} "
            f"(keys: {known}; labels and VICS numbers are accepted too)"
        )


def _check_categories(name: str, categories: tuple[Category, ...]) -> None:
    """Refuse ambiguity up front: a duplicate would make key() or from_vics() pick arbitrarily."""
    if not name.strip():
        raise SchemeError("a scheme needs a name")
    keys: set[str] = set()
    labels: set[str] = set()
    codes: set[int] = set()
    for cat in categories:
        where = f"scheme {name}, category {cat.key!r}"
        if not cat.key.strip() or not cat.label.strip():
            raise SchemeError(f"scheme {name}: a category has an empty key or label")
        if cat.key.casefold() in _UNCATEGORISED_WORDS:
            raise SchemeError(f"{where}: this word means 'no category' and cannot be a key")
        if cat.key.casefold() in keys:
            raise SchemeError(f"{where}: duplicate key")
        if cat.label.casefold() in labels:
            raise SchemeError(f"{where}: duplicate label {cat.label!r}")
        keys.add(cat.key.casefold())
        labels.add(cat.label.casefold())
        if cat.vics is None:
            continue
        if isinstance(cat.vics, bool) or not isinstance(cat.vics, int) or cat.vics < 0:
            raise SchemeError(f"{where}: vics must be a whole number >= 0, got {cat.vics!r}")
        if cat.vics == 0 and cat.key != NON_PERTINENT:
            raise SchemeError(f"{where}: VICS code 0 is reserved for {NON_PERTINENT!r}")
        if cat.vics in codes:
            raise SchemeError(f"{where}: duplicate VICS code {cat.vics}")
        codes.add(cat.vics)


US = Scheme(
    "US",
    (
        Category("1", "CAM (child abuse material)", 1),
        Category("2", "exploitative / age-difficult", 2),
        Category("3", "CGI / animation", 3),
        Category("4", "comparison", 4),
        Category(NON_PERTINENT, "non-pertinent", 0),
    ),
)
UK = Scheme(
    "UK",
    (
        Category("A", "Category A", 1),
        Category("B", "Category B", 2),
        Category("C", "Category C", 3),
        Category("prohibited", "prohibited / non-photographic", 4),
        Category(NON_PERTINENT, "non-pertinent", 0),
    ),
)
BUILTIN: dict[str, Scheme] = {"US": US, "UK": UK}


def load_scheme(name_or_path: str) -> Scheme:
    """A built-in scheme by name (case-insensitive), else a custom scheme from a TOML file.

    Built-in names win over a file of the same name in the working directory, so "us" always
    means the same thing on every examiner's machine.
    """
    builtin = BUILTIN.get(name_or_path.strip().upper())
    if builtin is not None:
        return builtin
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(BUILTIN)
        raise SchemeError(f"{name_or_path!r} is neither a built-in scheme ({names}) nor a file")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SchemeError(f"{path}: not a valid TOML file: {exc}") from None
    except OSError as exc:
        raise SchemeError(f"{path}: cannot be read: {exc}") from None
    return _scheme_from_toml(data, path)


def _scheme_from_toml(data: dict[str, Any], path: Path) -> Scheme:
    unknown = sorted(set(data) - _TOP_FIELDS)
    if unknown:
        raise SchemeError(f"{path}: unknown top-level keys {unknown} (expected name, [[category]])")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SchemeError(f"{path}: missing 'name' (a non-empty string)")
    name = name.strip()
    if name.upper() in BUILTIN:
        raise SchemeError(f"{path}: the name {name!r} is reserved for a built-in scheme")
    tables = data.get("category")
    if not isinstance(tables, list) or not tables:
        raise SchemeError(f"{path}: no [[category]] tables")
    categories = [_category_from_toml(table, path, n) for n, table in enumerate(tables, 1)]
    if not any(cat.key == NON_PERTINENT for cat in categories):
        categories.append(Category(NON_PERTINENT, "non-pertinent", 0))
    try:
        return Scheme(name, tuple(categories))
    except SchemeError as exc:
        raise SchemeError(f"{path}: {exc}") from None


def _category_from_toml(table: object, path: Path, n: int) -> Category:
    where = f"{path}: category {n}"
    if not isinstance(table, dict):
        raise SchemeError(f"{where}: not a table")
    unknown = sorted(set(table) - _CATEGORY_FIELDS)
    if unknown:
        raise SchemeError(f"{where}: unknown keys {unknown} (expected key, label, vics)")
    fields: dict[str, str] = {}
    for field_name in ("key", "label"):
        value = table.get(field_name)
        if not isinstance(value, str) or not value.strip():
            raise SchemeError(f"{where}: missing {field_name!r} (a non-empty string)")
        fields[field_name] = value.strip()
    vics = table.get("vics")
    if vics is not None and (isinstance(vics, bool) or not isinstance(vics, int) or vics < 0):
        raise SchemeError(f"{where}: 'vics' must be a whole number >= 0, got {vics!r}")
    return Category(fields["key"], fields["label"], vics)


def scheme_from_text(text: str, origin: str) -> Scheme:
    """A custom scheme from TOML text (a case keeps its scheme's text, not a path to it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError(f"{origin}: not a valid TOML file: {exc}") from None
    return _scheme_from_toml(data, Path(origin))
