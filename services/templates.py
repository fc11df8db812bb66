"""Template use cases: the gallery list, instantiate with parameters, clone, save as template.

Built-in templates live in :mod:`templates_lib` (code, read-only); user templates in the
``user_template`` table (owned, editable and deletable by their owner). Every journey made
here is a new, independent *draft* (its own copy of the document) that records where it came
from: ``source_template_id``, or ``source_journey_id`` + ``source_version``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

import templates_lib
from db import crud
from db.errors import NotFoundError
from db.models import Journey, JourneyCreate, UserTemplate, UserTemplateCreate, UserTemplateUpdate
from services.journeys import coupon_template_ids
from templates_lib import ParameterError, ParamIssue, ParamType, Template


class TemplateReadOnlyError(Exception):
    """Built-in templates cannot be edited or deleted (clone them instead)."""

    def __init__(self, template_id: str) -> None:
        super().__init__(
            f"Template '{template_id}' is built in and cannot be changed; use it or clone the "
            "journey made from it instead."
        )
        self.template_id = template_id


class NotTemplateOwnerError(Exception):
    """Only the user who saved a template may edit or delete it."""

    def __init__(self, template_id: str, owner: str, user: str) -> None:
        super().__init__(
            f"Template '{template_id}' belongs to {owner}; {user} cannot change or delete it."
        )
        self.template_id = template_id
        self.owner = owner
        self.user = user


@dataclass(frozen=True)
class TemplateCard:
    """One gallery entry, built-in or user-made, with texts in the requested locale."""

    id: str
    builtin: bool
    name: str
    description: str
    goal: str
    audience: str
    category: str
    document: dict[str, Any]
    params: list[dict[str, Any]] = field(default_factory=list)
    owner: str | None = None
    editable: bool = False  # by the user asking

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "builtin": self.builtin,
            "name": self.name,
            "description": self.description,
            "goal": self.goal,
            "audience": self.audience,
            "category": self.category,
            "params": self.params,
            "owner": self.owner,
            "editable": self.editable,
        }


def builtin_card(template: Template, locale: str) -> TemplateCard:
    return TemplateCard(
        id=template.id,
        builtin=True,
        name=template.name.get(locale),
        description=template.description.get(locale),
        goal=template.goal.get(locale),
        audience=template.audience.get(locale),
        category=template.category,
        document=templates_lib.instantiate(template.id),
        params=[p.to_dict() for p in template.params],
    )


def user_card(template: UserTemplate, user: str) -> TemplateCard:
    return TemplateCard(
        id=template.id,
        builtin=False,
        name=template.name,
        description=template.description,
        goal=template.goal,
        audience="",
        category="mine",
        document=template.document,
        owner=template.owner,
        editable=template.owner == user,
    )


def list_templates(*, session: Session, user: str, locale: str = "zh-CN") -> list[TemplateCard]:
    """Built-ins in gallery order, then user templates newest first."""
    cards = [builtin_card(t, locale) for t in templates_lib.all_templates()]
    cards += [user_card(t, user) for t in crud.list_user_templates(session=session)]
    return cards


def get_card(*, session: Session, template_id: str, user: str, locale: str) -> TemplateCard:
    """One template's card; :class:`NotFoundError` if neither built in nor saved."""
    if templates_lib.is_builtin(template_id):
        return builtin_card(templates_lib.get_template(template_id), locale)
    return user_card(_require_user_template(session, template_id), user)


def build_document(
    *, session: Session, template_id: str, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The document ``template_id`` makes with ``params``.

    Raises :class:`ParameterError` naming each bad parameter — bounds and choices, and coupon
    template ids that do not exist in this database. User templates take no parameters.
    """
    if not templates_lib.is_builtin(template_id):
        template = _require_user_template(session, template_id)
        if params:
            raise ParameterError(
                template_id,
                [
                    ParamIssue(
                        name,
                        "unknown",
                        f"Template '{template_id}' has no parameter "
                        f"'{name}' (saved templates take none).",
                    )
                    for name in params
                ],
            )
        return copy.deepcopy(template.document)
    values = templates_lib.resolve_params(template_id, params)
    known = coupon_template_ids(session)
    spec = templates_lib.get_template(template_id)
    issues = [
        ParamIssue(
            p.name,
            "unknown_coupon",
            f"Parameter '{p.name}': coupon template '{values[p.name]}' does not exist "
            f"(have: {', '.join(sorted(known))}).",
            {"value": values[p.name]},
        )
        for p in spec.params
        if p.type is ParamType.COUPON and values[p.name] not in known
    ]
    if issues:
        raise ParameterError(template_id, issues)
    return spec.build(values)


def instantiate(
    *,
    session: Session,
    template_id: str,
    params: Mapping[str, Any] | None,
    by: str,
    name: str | None = None,
) -> Journey:
    """A new draft journey from a template, recording ``source_template_id``."""
    document = build_document(session=session, template_id=template_id, params=params)
    if name:
        document["name"] = name
    return crud.create_journey(
        session=session,
        journey_create=JourneyCreate(
            name=document["name"],
            description=document.get("description", ""),
            draft_document=document,
            source_template_id=template_id,
        ),
        by=by,
    )


def clone_journey(
    *,
    session: Session,
    journey_id: str,
    by: str,
    version: int | None = None,
    name: str | None = None,
    copy_name: str = "%(name)s（副本）",
) -> Journey:
    """An independent draft copy of ``journey_id``'s draft, or of published ``version``.

    The clone records ``source_journey_id`` and ``source_version`` (``None`` when the draft
    was copied). ``name`` defaults to ``copy_name`` of the source's name (the caller passes
    it in the user's language: "… (copy)", "…（副本）").
    """
    source = _require_journey(session, journey_id)
    if version is None:
        document = copy.deepcopy(source.draft_document)
    else:
        found = crud.get_version(session=session, journey_id=journey_id, version=version)
        if found is None:
            raise NotFoundError("journey version", f"{journey_id} v{version}")
        document = copy.deepcopy(found.document)
    base = document.get("name") or source.name
    document["name"] = (name or copy_name % {"name": base})[:120]
    return crud.create_journey(
        session=session,
        journey_create=JourneyCreate(
            name=document["name"],
            description=str(document.get("description") or source.description),
            draft_document=document,
            source_template_id=source.source_template_id,
            source_journey_id=journey_id,
            source_version=version,
        ),
        by=by,
    )


def save_as_template(
    *,
    session: Session,
    journey_id: str,
    by: str,
    name: str | None = None,
    description: str | None = None,
    goal: str = "",
    version: int | None = None,
) -> UserTemplate:
    """Save ``journey_id``'s draft (or published ``version``) as a template owned by ``by``."""
    source = _require_journey(session, journey_id)
    if version is None:
        document = copy.deepcopy(source.draft_document)
    else:
        found = crud.get_version(session=session, journey_id=journey_id, version=version)
        if found is None:
            raise NotFoundError("journey version", f"{journey_id} v{version}")
        document = copy.deepcopy(found.document)
    return crud.create_user_template(
        session=session,
        template_create=UserTemplateCreate(
            name=(name or source.name)[:120],
            description=description if description is not None else source.description,
            goal=goal or _goal_of(document),
            document=document,
            source_journey_id=journey_id,
            source_version=version,
        ),
        owner=by,
    )


def update_user_template(
    *, session: Session, template_id: str, user: str, update: UserTemplateUpdate
) -> UserTemplate:
    """Rename / re-describe a user template; only its owner may."""
    template = _owned(session, template_id, user)
    return crud.update_user_template(
        session=session, template_id=template.id, template_update=update
    )


def delete_user_template(*, session: Session, template_id: str, user: str) -> None:
    """Delete a user template; only its owner may. Journeys made from it are unaffected."""
    template = _owned(session, template_id, user)
    crud.delete_user_template(session=session, template_id=template.id)


def _goal_of(document: Mapping[str, Any]) -> str:
    goal = (document.get("settings") or {}).get("goal") or {}
    return str(goal.get("event_type") or "")


def _require_journey(session: Session, journey_id: str) -> Journey:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise NotFoundError("journey", journey_id)
    return journey


def _require_user_template(session: Session, template_id: str) -> UserTemplate:
    template = crud.get_user_template(session=session, template_id=template_id)
    if template is None:
        raise NotFoundError("template", template_id)
    return template


def _owned(session: Session, template_id: str, user: str) -> UserTemplate:
    if templates_lib.is_builtin(template_id):
        raise TemplateReadOnlyError(template_id)
    template = _require_user_template(session, template_id)
    if template.owner != user:
        raise NotTemplateOwnerError(template_id, template.owner, user)
    return template
