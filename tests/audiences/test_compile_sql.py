"""Rule → SQL for every operator and rule kind, on SQLite and PostgreSQL, against the
hand-made shop of conftest.py (expected audiences worked out by hand from its table)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from audiences import Op, compile_segment, count, page_ids, parse_definition, sample
from audiences.query import audience_select
from tests.audiences.conftest import NOW


def f(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"type": "field", "field": field, "op": op, "value": value}


def ev(event_type: str, window: int, op: str, value: Any) -> dict[str, Any]:
    return {
        "type": "event",
        "event_type": event_type,
        "window_days": window,
        "op": op,
        "value": value,
    }


def tag(tags: list[str], match: str = "any") -> dict[str, Any]:
    return {"type": "tag", "tags": tags, "match": match}


def coupon(state: str, **kw: Any) -> dict[str, Any]:
    return {"type": "coupon", "state": state, **kw}


CASES: list[tuple[dict[str, Any], str]] = [
    # choice fields
    (f("member_level", "eq", "gold"), "A"),
    (f("member_level", "ne", "gold"), "BCD"),
    (f("member_level", "in", ["gold", "diamond"]), "AD"),
    (f("member_level", "not_in", ["gold"]), "BCD"),
    (f("gender", "exists"), "ABD"),
    (f("gender", "not_exists"), "C"),
    (f("rfm_class", "in", ["重要价值", "重要保持"]), "AD"),
    (f("rfm_class", "not_exists"), "C"),
    # references: store, region (through the store), bound guide
    (f("store_id", "eq", "S1"), "AD"),
    (f("guide_id", "exists"), "AD"),
    (f("guide_id", "not_exists"), "BC"),
    (f("region_id", "eq", "R1"), "AD"),
    (f("region_id", "ne", "R1"), "BC"),
    (f("region_id", "in", ["R2"]), "B"),
    (f("region_id", "not_in", ["R2"]), "ACD"),
    (f("region_id", "exists"), "ABD"),
    # days since: R (D bought exactly 90 days ago), first purchase, joining, visits, browses
    (f("r_days", "gte", 90), "BD"),
    (f("r_days", "gt", 90), "B"),
    (f("r_days", "lt", 90), "A"),
    (f("r_days", "lte", 90), "AD"),
    (f("r_days", "eq", 90), "D"),
    (f("r_days", "ne", 90), "ABC"),
    (f("r_days", "between", [1, 90]), "AD"),
    (f("r_days", "exists"), "ABD"),
    (f("r_days", "not_exists"), "C"),
    (f("first_purchase_days", "gte", 300), "D"),
    (f("member_days", "lt", 7), "C"),
    (f("member_days", "gt", 365), "AD"),
    (f("store_visit_days", "lte", 30), "D"),
    (f("store_visit_days", "not_exists"), "ABC"),
    (f("browse_days", "lt", 5), "AC"),
    (f("browse_days", "gte", 20), "B"),
    # counts and amounts
    (f("f_count", "gt", 2), "AD"),
    (f("f_count", "lte", 1), "BC"),
    (f("f_count", "eq", 0), "C"),
    (f("f_count", "ne", 3), "BCD"),
    (f("m_amount", "gte", 1000), "AD"),
    (f("m_amount", "lt", 150), "BC"),
    (f("m_amount", "between", [100, 1200]), "AB"),
    (f("l_days", "gte", 30), "AD"),
    (f("l_days", "eq", 0), "B"),
    (f("purchases_count", "eq", 0), "C"),
    (f("purchases_count", "gte", 3), "AD"),
    # birthday month (NOW is June in Shanghai)
    (f("birthday_month", "eq", 6), "A"),
    (f("birthday_month", "eq", "this_month"), "A"),
    (f("birthday_month", "eq", "next_month"), "B"),
    (f("birthday_month", "ne", 6), "BCD"),
    (f("birthday_month", "in", [7, 12]), "BD"),
    (f("birthday_month", "not_in", ["this_month"]), "BCD"),
    (f("birthday_month", "exists"), "ABD"),
    # custom attributes (text)
    (f("attributes.source", "eq", "小程序"), "A"),
    (f("attributes.source", "ne", "门店"), "ACD"),
    (f("attributes.source", "in", ["门店", "小程序"]), "AB"),
    (f("attributes.source", "not_in", ["门店"]), "ACD"),
    (f("attributes.source", "contains", "企业"), "D"),
    (f("attributes.source", "contains", "%"), ""),
    (f("attributes.source", "exists"), "ABD"),
    (f("attributes.source", "not_exists"), "C"),
    # tags
    (tag(["vip"]), "AC"),
    (tag(["vip", "企业微信好友"], "all"), "A"),
    (tag(["vip"], "none"), "BD"),
    (tag(["宝宝1岁", "nobody"]), "D"),
    # event counts in a window: (now - window, now]
    (ev("browse", 7, "gte", 2), "AC"),
    (ev("browse", 7, "gte", 1), "AC"),
    (ev("browse", 7, "eq", 0), "BD"),
    (ev("browse", 7, "gt", 1), "AC"),
    (ev("browse", 30, "lt", 2), "BD"),
    (ev("browse", 14, "eq", 3), "A"),
    (ev("browse", 14, "ne", 3), "BCD"),
    (ev("browse", 14, "lte", 2), "BCD"),
    (ev("browse", 14, "between", [1, 2]), "C"),
    (ev("purchase", 30, "gte", 2), "A"),
    (ev("purchase", 30, "eq", 0), "BCD"),
    (ev("purchase", 365, "gte", 4), "D"),
    (ev("store_visit", 30, "gte", 1), "D"),
    # coupons
    (coupon("held"), "A"),
    (coupon("held", present=False), "BCD"),
    (coupon("expiring", within_days=3), "A"),
    (coupon("expiring", within_days=1), ""),
    (coupon("redeemed"), "B"),
    (coupon("redeemed", within_days=2), ""),
    (coupon("held", template_id="WAKE30"), ""),
    (coupon("redeemed", template_id="WAKE30"), "B"),
]

COMBINED: list[tuple[dict[str, Any], str]] = [
    ({"match": "any", "rules": [f("member_level", "eq", "gold"), tag(["宝宝1岁"])]}, "AD"),
    (
        {
            "match": "all",
            "rules": [
                f("r_days", "exists"),
                {
                    "type": "group",
                    "match": "any",
                    "rules": [tag(["vip"]), ev("store_visit", 30, "gte", 1)],
                },
            ],
        },
        "AD",
    ),
    # "browsed ≥ 2 times in the last 7 days and no purchase" (lead activation)
    ({"rules": [ev("browse", 7, "gte", 2), ev("purchase", 7, "eq", 0)]}, "C"),
    ({"rules": []}, "ABCD"),
]


def _run(session: Session, raw: dict[str, Any]) -> str:
    compiled = compile_segment(parse_definition(raw), now=NOW)
    ids = page_ids(session, compiled, limit=100)
    assert count(session, compiled) == len(ids)
    return "".join(ids)


def test_every_operator_and_rule_kind(shop: Session) -> None:
    wrong = []
    for rule, expected in CASES:
        got = _run(shop, {"match": "all", "rules": [rule]})
        if got != expected:
            wrong.append(f"{rule} → {got!r}, expected {expected!r}")
    for raw, expected in COMBINED:
        got = _run(shop, raw)
        if got != expected:
            wrong.append(f"{raw} → {got!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_cases_cover_every_operator() -> None:
    used = {Op(r["op"]) for r, _ in CASES if "op" in r}
    assert used == set(Op)


def test_sample_and_pages(shop: Session) -> None:
    compiled = compile_segment(parse_definition({"rules": []}), now=NOW)
    assert [r.id for r in sample(shop, compiled, limit=2)] == ["A", "B"]
    assert page_ids(shop, compiled, after="B", limit=1) == ["C"]


def test_values_are_bound_parameters_never_sql_text() -> None:
    evil = "x'); DROP TABLE customer; --"
    raw = {"rules": [f("attributes.source", "eq", evil), tag([evil])]}
    compiled = compile_segment(parse_definition(raw), now=NOW)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(audience_select(compiled, 1).compile(dialect=dialect))
        assert "DROP TABLE" not in sql
