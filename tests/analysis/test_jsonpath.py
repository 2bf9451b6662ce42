"""The JSONPath subset of the web provider."""

from __future__ import annotations

import pytest

from rollouts.analysis.jsonpath import JSONPathError, select

DOC = {"data": {"ok": True, "items": [{"v": 1}, {"v": 2}], "a-b": 3, "x y": 4}}


@pytest.mark.parametrize(("path", "value"), [
    ("{$.data.ok}", True),
    ("$.data.ok", True),
    ("data.ok", True),
    ("$.data.items[1].v", 2),
    ("$.data.items[-1].v", 2),
    ("$.data.items[*].v", [1, 2]),
    ("$['data']['x y']", 4),
    ("$.data.a-b", 3),
    ("$", DOC),
])
def test_paths(path, value):
    assert select(DOC, path) == value


@pytest.mark.parametrize("path", ["$.data.nope", "$.data.items[5]", "$..x", "$.data[", "$."])
def test_bad_or_missing_paths(path):
    with pytest.raises(JSONPathError):
        select(DOC, path)
