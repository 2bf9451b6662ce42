"""table: the compiled routing table's pieces that can be checked on their own."""

from __future__ import annotations

from rollouts.gateway.table import QueryParams


def test_query_params_take_the_first_value_and_keep_blank_ones() -> None:
    q = QueryParams("a=1&b=&a=2&c=x%20y&d")
    assert (q.get("a"), q.get("b"), q.get("c"), q.get("d"), q.get("zz")) == (
        "1", "", "x y", "", None)


def test_query_params_are_parsed_once_for_all_candidate_matches() -> None:
    q = QueryParams("id=7")
    assert q.parsed is None  # nothing parsed until a match asks
    assert q.get("id") == "7"
    parsed = q.parsed
    assert parsed == {"id": "7"}  # cached by the first get (else `is` below holds on None)
    assert q.get("other") is None and q.parsed is parsed
