"""Priority groups on the policy page and API (admin and HQ only): create, rename, choose the
policy, delete (409 while a live or paused journey is in the group); a journey joins a group
with a priority (422 naming ``priority`` on a collision) in the editor's journey settings;
the journey list shows the group and priority."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db.models import Journey
from tests.api.test_permissions import app, signed_in  # noqa: F401 - fixture
from tests.tasks.conftest import people, shop  # noqa: F401 - fixtures


def _journey(client: Any, name: str) -> str:
    created = client.post("/api/journeys", json={"name": name})
    assert created.status_code in (200, 201), created.text
    return str(created.json()["id"])


def test_only_admin_and_hq_manage_groups(app: Any, people: Any) -> None:
    for name in ("manager", "g1"):
        other = signed_in(app, name)
        assert other.get("/api/policy/groups").status_code == 403
        assert other.post("/api/policy/groups", json={"name": "x"}).status_code == 403
        assert other.post("/policy/groups", data={"group_name": "x"}).status_code == 403
        assert other.put("/api/journeys/j/group", json={"group_id": 1}).status_code == 403
    for name in ("admin", "hq"):
        assert signed_in(app, name).get("/api/policy/groups").status_code == 200


def test_create_rename_policy_join_and_list(app: Any, people: Any) -> None:
    hq = signed_in(app, "hq")
    made = hq.post("/api/policy/groups", json={"name": "会员营销", "policy": "preempt"})
    assert made.status_code == 201, made.text
    gid = made.json()["id"]
    renamed = hq.put(f"/api/policy/groups/{gid}", json={"name": "VIP", "policy": "block"})
    assert renamed.json() | {"journeys": []} == {
        "id": gid,
        "name": "VIP",
        "policy": "block",
        "journeys": [],
    }
    a, b = _journey(hq, "生日关怀"), _journey(hq, "流失挽回")
    joined = hq.put(f"/api/journeys/{a}/group", json={"group_id": gid, "priority": 1})
    assert joined.status_code == 200 and joined.json()["priority"] == 1
    assert hq.put(f"/api/journeys/{b}/group", json={"group_id": gid, "priority": 2}).is_success
    [group] = hq.get("/api/policy/groups").json()
    assert [(j["name"], j["priority"]) for j in group["journeys"]] == [
        ("生日关怀", 1),
        ("流失挽回", 2),
    ]
    listed = hq.get("/journeys").text
    assert "VIP" in listed and "优先级 2" in listed  # zh-CN by default
    page = hq.get("/policy").text
    assert 'data-group="VIP"' in page and 'data-priority="1"' in page
    changes = hq.get("/api/policy").json()["changes"]
    assert ("group:会员营销", "会员营销", "VIP") in {
        (c["subject"], c["old"], c["new"]) for c in changes
    }
    assert ("journey_group:流失挽回", "", "VIP#2") in {
        (c["subject"], c["old"], c["new"]) for c in changes
    }
    # the editor's journey settings: its group and priority; leaving the group
    editor = hq.get(f"/journeys/{a}/edit").text
    assert 'id="journey-group-form"' in editor and 'value="1"' in editor
    left = hq.post(
        f"/journeys/{a}/group",
        data={"group_id": "", "priority": ""},
        headers={"HX-Request": "true"},
    )
    assert left.status_code == 200 and "✓" in left.text
    assert [j["name"] for j in hq.get("/api/policy/groups").json()[0]["journeys"]] == ["流失挽回"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "other", "policy": "merge"}, "policy"),
        ({"name": "taken"}, "name"),
    ],
)
def test_bad_group_input_is_a_422_naming_the_field(
    app: Any, people: Any, body: dict[str, Any], field: str
) -> None:
    hq = signed_in(app, "hq")
    assert hq.post("/api/policy/groups", json={"name": "taken"}).status_code == 201
    refused = hq.post("/api/policy/groups", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(field + ":")
    if field == "name":  # the page's form marks the field
        page = hq.post("/policy/groups", data={"group_name": body["name"]})
        assert page.status_code == 422 and 'id="grouperr-name"' in page.text


def test_a_priority_collision_is_a_422_naming_priority(app: Any, people: Any) -> None:
    hq = signed_in(app, "hq")
    gid = hq.post("/api/policy/groups", json={"name": "G"}).json()["id"]
    a, b = _journey(hq, "甲"), _journey(hq, "乙")
    assert hq.put(f"/api/journeys/{a}/group", json={"group_id": gid, "priority": 3}).is_success
    clash = hq.put(f"/api/journeys/{b}/group", json={"group_id": gid, "priority": 3})
    assert clash.status_code == 422
    assert clash.json()["detail"].startswith("priority:") and "甲" in clash.json()["detail"]
    for bad in ({"group_id": gid}, {"group_id": gid, "priority": 0}, {"group_id": 999}):
        refused = hq.put(f"/api/journeys/{b}/group", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    form = hq.post(f"/journeys/{b}/group", data={"group_id": str(gid), "priority": "3"})
    assert form.status_code == 422 and 'id="jgerr-priority"' in form.text and "甲" in form.text
    assert (
        hq.post(f"/journeys/{b}/group", data={"group_id": str(gid), "priority": "x"}).status_code
        == 422
    )
    assert (
        hq.put("/api/journeys/nope/group", json={"group_id": gid, "priority": 1}).status_code == 404
    )


def test_a_priority_taken_in_a_race_is_a_422_not_a_500(
    app: Any, people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two marketers give two journeys the same priority at the same moment: both pass the
    check, the unique index refuses the second commit — a 422 naming ``priority``."""
    from db.crud import priority_groups as groups_crud

    hq = signed_in(app, "hq")
    gid = hq.post("/api/policy/groups", json={"name": "G"}).json()["id"]
    a, b = _journey(hq, "甲"), _journey(hq, "乙")
    assert hq.put(f"/api/journeys/{a}/group", json={"group_id": gid, "priority": 3}).is_success
    monkeypatch.setattr(groups_crud, "member_at", lambda **_kw: None)  # the check missed it
    clash = hq.put(f"/api/journeys/{b}/group", json={"group_id": gid, "priority": 3})
    assert clash.status_code == 422, clash.text
    assert clash.json()["detail"].startswith("priority:")
    monkeypatch.undo()
    assert hq.put(f"/api/journeys/{b}/group", json={"group_id": gid, "priority": 4}).is_success


def test_deleting_a_group_a_live_journey_is_in_is_a_409(
    app: Any, people: Any, shop: sessionmaker[Session]
) -> None:
    hq = signed_in(app, "hq")
    gid = hq.post("/api/policy/groups", json={"name": "G"}).json()["id"]
    a = _journey(hq, "甲")
    assert hq.put(f"/api/journeys/{a}/group", json={"group_id": gid, "priority": 1}).is_success
    with shop() as s:
        journey = s.get(Journey, a)
        assert journey is not None
        journey.status = "live"
        s.add(journey)
        s.commit()
    refused = hq.delete(f"/api/policy/groups/{gid}")
    assert refused.status_code == 409 and "甲" in refused.json()["detail"]
    page = hq.post(f"/policy/groups/{gid}/delete")
    assert page.status_code == 409 and "甲" in page.json()["detail"]
    with shop() as s:
        journey = s.get(Journey, a)
        assert journey is not None
        journey.status = "draft"
        s.add(journey)
        s.commit()
    assert hq.delete(f"/api/policy/groups/{gid}").status_code == 204
    assert hq.get("/api/policy/groups").json() == []
    assert hq.delete(f"/api/policy/groups/{gid}").status_code == 404
