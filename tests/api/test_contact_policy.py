"""The contact policy page and API: admin and HQ only; quiet hours, caps and a guide's daily
capacity saved, every change listed (who, old → new); bad input a 422 naming the field."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_permissions import app, signed_in  # noqa: F401 - fixture
from tests.tasks.conftest import people, shop  # noqa: F401 - fixtures

CAP = {"id": "mkt7", "channel": "message", "max_contacts": 2, "window_days": 7}


def test_only_admin_and_hq_open_the_policy(app: Any, people: Any) -> None:
    for name in ("manager", "g1"):
        other = signed_in(app, name)
        assert other.get("/policy").status_code == 403
        assert other.get("/api/policy").status_code == 403
        assert other.put("/api/policy", json={"caps": [CAP]}).status_code == 403
        assert other.post("/policy/caps", data={"cap_id": "x"}).status_code == 403
    for name in ("admin", "hq"):
        page = signed_in(app, name).get("/policy")
        assert page.status_code == 200
        nav = page.text.split('<nav class="mainnav"', 1)[1].split("</nav>")[0]
        assert 'href="/policy"' in nav
    nav = signed_in(app, "manager").get("/tasks").text.split('<nav class="mainnav"', 1)[1]
    assert 'href="/policy"' not in nav.split("</nav>")[0]


def test_the_api_saves_the_policy_and_records_each_change(app: Any, people: Any) -> None:
    hq = signed_in(app, "hq")
    body = {"quiet_hours": {"start": "21:00", "end": "08:00"}, "caps": [CAP]}
    saved = hq.put("/api/policy", json=body)
    assert saved.status_code == 200, saved.text
    data = saved.json()
    assert data["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert data["caps"] == [{**CAP, "category": "all"}]
    assert {(c["by"], c["subject"], c["old"], c["new"]) for c in data["changes"]} == {
        ("hq", "quiet_hours", "", "21:00-08:00"),
        ("hq", "cap:mkt7", "", "2/7/message/all"),
    }
    admin = signed_in(app, "admin")
    body["caps"] = [{**CAP, "max_contacts": 3}]
    again = admin.put("/api/policy", json=body).json()
    assert again["changes"][0]["by"] == "admin"
    assert (again["changes"][0]["old"], again["changes"][0]["new"]) == (
        "2/7/message/all",
        "3/7/message/all",
    )
    assert len(again["changes"]) == 3  # the unchanged quiet hours are not a change
    capacities = {g["id"]: g["daily_capacity"] for g in again["guides"]}
    assert capacities["G1"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours.end"),
        ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "22:00", "end": ""}}, "quiet_hours.end"),
        ({"fallback_timezone": "Mars/Olympus"}, "fallback_timezone"),
        ({"caps": [{**CAP, "max_contacts": 0}]}, "caps[0].max_contacts"),
        ({"caps": [{**CAP, "window_days": 0}]}, "caps[0].window_days"),
        ({"caps": [{**CAP, "channel": "fax"}]}, "caps[0].channel"),
        ({"caps": [CAP, CAP]}, "caps[1].id"),
    ],
)
def test_bad_policy_input_is_a_422_naming_the_field(
    app: Any, people: Any, body: dict[str, Any], field: str
) -> None:
    hq = signed_in(app, "hq")
    refused = hq.put("/api/policy", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(field + ":")
    assert hq.get("/api/policy").json()["changes"] == []  # nothing saved


def test_the_page_edits_quiet_hours_caps_and_capacity(app: Any, people: Any) -> None:
    admin = signed_in(app, "admin")
    quiet = admin.post(
        "/policy/quiet-hours",
        data={"quiet_start": "21:30", "quiet_end": "08:00", "fallback_timezone": ""},
        headers={"HX-Request": "true"},
    )
    assert quiet.status_code == 200, quiet.text
    assert 'value="21:30"' in quiet.text and "<html" not in quiet.text  # the block only
    cap = admin.post(
        "/policy/caps",
        data={"cap_id": "coupon3", "channel": "coupon", "max_contacts": "1", "window_days": "3"},
    )
    assert cap.status_code == 200 and 'data-cap="coupon3"' in cap.text
    capacity = admin.post("/policy/guides/G1/capacity", data={"capacity": "5"})
    assert capacity.status_code == 200
    assert 'data-subject="guide_capacity:G1"' in capacity.text
    policy = admin.get("/api/policy").json()
    assert [c["id"] for c in policy["caps"]] == ["coupon3"]
    assert {g["id"]: g["daily_capacity"] for g in policy["guides"]}["G1"] == 5
    assert [c["subject"] for c in policy["changes"]] == [
        "guide_capacity:G1",
        "cap:coupon3",
        "quiet_hours",
    ]
    removed = admin.post("/policy/caps/coupon3/delete")
    assert removed.status_code == 200 and 'data-cap="coupon3"' not in removed.text


@pytest.mark.parametrize(
    ("path", "data", "marked"),
    [
        ("/policy/quiet-hours", {"quiet_start": "08:00", "quiet_end": "08:00"}, "polerr-quiet_end"),
        ("/policy/quiet-hours", {"fallback_timezone": "Nowhere/Land"}, "polerr-fallback_timezone"),
        (
            "/policy/caps",
            {"cap_id": "c", "channel": "sms", "max_contacts": "0", "window_days": "7"},
            "caperr-max_contacts",
        ),
        (
            "/policy/caps",
            {"cap_id": "c", "channel": "sms", "max_contacts": "1", "window_days": "0"},
            "caperr-window_days",
        ),
    ],
)
def test_the_page_marks_the_refused_field(
    app: Any, people: Any, path: str, data: dict[str, str], marked: str
) -> None:
    refused = signed_in(app, "hq").post(path, data=data, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert f'id="{marked}"' in refused.text
