from __future__ import annotations

import pickle

import pytest

from veriscan.domain import Locator


def test_locator_round_trip_and_nesting() -> None:
    loc = Locator.parse("photos.zip!/dir/inner.zip!/a.jpg")
    assert loc.segments == ("photos.zip", "dir/inner.zip", "a.jpg")
    assert str(loc) == "photos.zip!/dir/inner.zip!/a.jpg"
    assert loc.depth == 2
    assert loc.name == "a.jpg"
    assert loc.parent == Locator(("photos.zip", "dir/inner.zip"))
    assert Locator(("x.zip",)).child("b/c.png") == Locator.parse("x.zip!/b/c.png")
    assert pickle.loads(pickle.dumps(loc)) == loc


def test_locator_rejects_empty_segments() -> None:
    with pytest.raises(ValueError):
        Locator(())
    with pytest.raises(ValueError):
        Locator.parse("a.zip!/")
