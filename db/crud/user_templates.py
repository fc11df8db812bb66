"""User templates: journeys saved for reuse, owned by whoever saved them."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from db.crud._util import read_back
from db.errors import NotFoundError
from db.models import UserTemplate, UserTemplateCreate, UserTemplateUpdate, utcnow

#: Prefix of user template ids, so they never collide with built-in ids (``second_purchase``).
USER_TEMPLATE_PREFIX = "ut-"


def create_user_template(
    *, session: Session, template_create: UserTemplateCreate, owner: str
) -> UserTemplate:
    """Insert a template owned by ``owner``."""
    now = utcnow()
    template = UserTemplate(
        id=f"{USER_TEMPLATE_PREFIX}{uuid.uuid4().hex[:12]}",
        owner=owner,
        created_at=now,
        updated_at=now,
        **template_create.model_dump(),
    )
    session.add(template)
    session.commit()
    read_back(session, template)
    return template


def get_user_template(*, session: Session, template_id: str) -> UserTemplate | None:
    """The template ``template_id``, or ``None``."""
    return session.get(UserTemplate, template_id)


def list_user_templates(*, session: Session, owner: str | None = None) -> list[UserTemplate]:
    """User templates, newest first (only ``owner``'s when given)."""
    stmt = select(UserTemplate).order_by(col(UserTemplate.created_at).desc())
    if owner is not None:
        stmt = stmt.where(UserTemplate.owner == owner)
    return list(session.exec(stmt))


def update_user_template(
    *, session: Session, template_id: str, template_update: UserTemplateUpdate
) -> UserTemplate:
    """Change name, description or goal (ownership is the caller's check)."""
    template = session.get(UserTemplate, template_id)
    if template is None:
        raise NotFoundError("user template", template_id)
    template.sqlmodel_update(template_update.model_dump(exclude_unset=True, exclude_none=True))
    template.updated_at = utcnow()
    session.add(template)
    session.commit()
    read_back(session, template)
    return template


def delete_user_template(*, session: Session, template_id: str) -> None:
    """Delete the template (journeys made from it keep their copy and their source id)."""
    template = session.get(UserTemplate, template_id)
    if template is None:
        raise NotFoundError("user template", template_id)
    session.delete(template)
    session.commit()
