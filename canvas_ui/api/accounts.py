"""JSON API of accounts (admins only, see ``canvas_ui.access``): list, create, set a new
password, switch on/off. Handlers stay thin over ``services.accounts``; bad input is a 422
whose ``detail`` names the field, a taken username a 409."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentPrincipal, CurrentUser, SessionDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.errors import NotFoundError
from db.models import UserAccount
from services import accounts

router = APIRouter(prefix="/api", tags=["accounts"], route_class=UnitOfWorkRoute)


class AccountIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: str = Field(max_length=16)
    display_name: str = Field(default="", max_length=64)
    guide_id: str | None = Field(default=None, max_length=32)


class PasswordIn(BaseModel):
    password: str = Field(max_length=256)


class ActiveIn(BaseModel):
    active: bool


def account_json(account: UserAccount) -> dict[str, Any]:
    """The public fields of an account (never its password hash)."""
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role,
        "guide_id": account.guide_id,
        "store_id": account.store_id,
        "active": account.active,
        "permissions": sorted(account.permissions.split()),
        "created_at": account.created_at.isoformat(),
        "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
    }


@contextmanager
def account_errors() -> Iterator[None]:
    """The services' typed failures as status codes (shared with the accounts page)."""
    try:
        yield
    except accounts.AccountInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except accounts.AccountExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.get("/accounts")
def list_accounts(session: SessionDep) -> list[dict[str, Any]]:
    """Every account, by username."""
    return [account_json(a) for a in crud.list_accounts(session=session)]


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def create_account(body: AccountIn, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Create an account (guide and store manager accounts name their guide id)."""
    with account_errors():
        account = accounts.add_account(session=session, **body.model_dump(), by=user)
    return account_json(account)


@router.post("/accounts/{user_id}/password")
def set_password(
    body: PasswordIn, session: SessionDep, user: CurrentUser, user_id: int = Path(ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Set a new password; the account's open sessions end."""
    with account_errors():
        account = accounts.change_password(
            session=session, user_id=user_id, password=body.password, by=user
        )
    return account_json(account)


@router.post("/accounts/{user_id}/active")
def set_active(
    body: ActiveIn,
    session: SessionDep,
    actor: CurrentPrincipal,
    user_id: int = Path(ge=1, le=MAX_ID),
) -> dict[str, Any]:
    """Switch an account on or off (off ends its sessions; not your own account)."""
    with account_errors():
        account = accounts.set_active(
            session=session, actor=actor, user_id=user_id, active=body.active
        )
    return account_json(account)


class PermissionsIn(BaseModel):
    """Body of ``PUT /api/accounts/{id}/permissions``: the permissions granted."""

    permissions: list[str] = Field(default_factory=list, max_length=10)


@router.put("/accounts/{user_id}/permissions")
def set_permissions(
    body: PermissionsIn,
    session: SessionDep,
    actor: CurrentPrincipal,
    user_id: int = Path(ge=1, le=MAX_ID),
) -> dict[str, Any]:
    """Grant exactly these permissions (``approve_journeys``: an HQ lead who signs off
    launches); 422 naming ``permissions`` for one the account's role cannot hold."""
    with account_errors():
        account = accounts.set_permissions(
            session=session, actor=actor, user_id=user_id, permissions=set(body.permissions)
        )
    return account_json(account)
