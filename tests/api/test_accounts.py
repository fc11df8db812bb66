"""Account administration: admins add accounts, set passwords and switch accounts off, on the
API and on the /accounts page; everyone else gets a 403; bad input names the field."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from tests.api.test_permissions import app, signed_in, signed_out  # noqa: F401 - fixture
from tests.tasks.conftest import people, shop  # noqa: F401 - fixtures


def _login(app: Any, username: str, password: str) -> int:
    response = signed_out(app).post("/login", data={"username": username, "password": password})
    return response.status_code


def test_only_admins_manage_accounts(app: Any, people: Any) -> None:
    for name in ("hq", "manager", "g1"):
        other = signed_in(app, name)
        assert other.get("/accounts").status_code == 403
        assert other.get("/api/accounts").status_code == 403
        body = {"username": "x1", "password": "long-enough", "role": "admin"}
        assert other.post("/api/accounts", json=body).status_code == 403
    admin = signed_in(app, "admin")
    listed = admin.get("/api/accounts").json()
    assert {a["username"] for a in listed} >= {"admin", "hq", "g1"}
    assert all("password_hash" not in a for a in listed)
    nav = admin.get("/accounts").text.split('<nav class="mainnav"', 1)[1].split("</nav>")[0]
    assert 'href="/accounts"' in nav


def test_add_an_account_and_sign_in_with_it(app: Any, people: Any) -> None:
    admin = signed_in(app, "admin")
    created = admin.post(
        "/api/accounts",
        json={"username": "g3", "password": "first-pass", "role": "guide", "guide_id": "G2"},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["role"], created.json()["store_id"]) == ("guide", "S1")
    assert _login(app, "g3", "first-pass") == 303
    again = admin.post(
        "/api/accounts", json={"username": "g3", "password": "first-pass", "role": "hq"}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "Bad Name", "password": "long-enough", "role": "hq"}, "username"),
        ({"username": "ok", "password": "short", "role": "hq"}, "password"),
        ({"username": "ok", "password": "long-enough", "role": "boss"}, "role"),
        ({"username": "ok", "password": "long-enough", "role": "guide"}, "guide_id"),
        (
            {"username": "ok", "password": "long-enough", "role": "guide", "guide_id": "NOPE"},
            "guide_id",
        ),
        (
            {"username": "ok", "password": "long-enough", "role": "hq", "guide_id": "G1"},
            "guide_id",
        ),
    ],
)
def test_bad_account_input_names_the_field(
    app: Any, people: Any, body: dict[str, str], field: str
) -> None:
    response = signed_in(app, "admin").post("/api/accounts", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}:")


def test_new_password_and_deactivation_end_sessions(app: Any, people: Any) -> None:
    admin = signed_in(app, "admin")
    guide = signed_in(app, "g1")
    g1 = people["g1"].user_id
    assert admin.post(f"/api/accounts/{g1}/password", json={"password": "x"}).status_code == 422
    assert admin.post(f"/api/accounts/{g1}/password", json={"password": "new-secret"}).is_success
    assert guide.get("/api/me").status_code == 401  # signed out everywhere
    assert _login(app, "g1", "pw-g1") == 422 and _login(app, "g1", "new-secret") == 303

    guide = signed_out(app)
    assert guide.post("/login", data={"username": "g1", "password": "new-secret"}).is_redirect
    off = admin.post(f"/api/accounts/{g1}/active", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert guide.get("/api/me").status_code == 401
    assert _login(app, "g1", "new-secret") == 422
    assert admin.post(f"/api/accounts/{g1}/active", json={"active": True}).json()["active"]
    assert _login(app, "g1", "new-secret") == 303
    me = people["admin"].user_id
    own = admin.post(f"/api/accounts/{me}/active", json={"active": False})
    assert own.status_code == 422 and own.json()["detail"].startswith("active:")
    assert admin.post("/api/accounts/99999/active", json={"active": False}).status_code == 404


def test_accounts_page_adds_and_names_the_wrong_field(app: Any, people: Any) -> None:
    admin = signed_in(app, "admin")
    admin.headers["Accept-Language"] = "en"
    htmx = {"HX-Request": "true"}
    form = {"username": "m3", "display_name": "店长三", "role": "store_manager", "password": "x"}
    refused = admin.post("/accounts", data={**form, "guide_id": "HM"}, headers=htmx)
    assert refused.status_code == 422
    assert 'id="accerr-password"' in refused.text and "at least 8 characters" in refused.text
    assert 'value="m3"' in refused.text  # what was typed is kept
    added = admin.post(
        "/accounts", data={**form, "guide_id": "HM", "password": "manager-3"}, headers=htmx
    )
    assert added.status_code == 201 and "Account m3 created." in added.text
    assert "<html" not in added.text  # the accounts block only
    assert _login(app, "m3", "manager-3") == 303
    taken = admin.post(
        "/accounts", data={**form, "guide_id": "HM", "password": "manager-3"}, headers=htmx
    )
    assert taken.status_code == 422 and "This username is taken." in taken.text
    me = people["admin"].user_id
    own = admin.post(f"/accounts/{me}/active", data={"active": "false"}, headers=htmx)
    assert own.status_code == 422 and "cannot deactivate your own account" in own.text


def test_create_user_cli(app: Any, people: Any, db_url: str, monkeypatch: Any) -> None:
    from journeys import cli
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        args = ["create-user", "ops", "--role", "admin"]
        made = runner.invoke(cli.app, args, env={"JOURNEYS_NEW_PASSWORD": "ops-secret-1"})
        assert made.exit_code == 0, made.output
        assert "Created ops (admin)" in made.output
        bad = runner.invoke(
            cli.app, [*args[:2], "--role", "boss"], env={"JOURNEYS_NEW_PASSWORD": "ops-secret-1"}
        )
        assert bad.exit_code == 2 and "role" in bad.output
    finally:
        get_settings.cache_clear()
    assert _login(app, "ops", "ops-secret-1") == 303
