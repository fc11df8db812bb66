"""The contact policy page (admin / HQ only): quiet hours, frequency caps and every guide's
daily capacity in one place, with the list of changes (who, when, old → new). htmx posts
answer the page's ``policy`` block; a refused input is a 422 with the field marked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from canvas_ui.deps import CurrentPrincipal, SessionDep
from canvas_ui.i18n import gettext, lazy
from canvas_ui.templating import is_htmx, render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.models import Journey
from db.models.contact_policy import PolicyChange
from engine.contact_policy import CAP_CATEGORIES, CAP_CHANNELS
from services import approvals
from services import contact_policy as policy
from services import priority_groups as groups

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=UnitOfWorkRoute)

CHANNEL_LABELS = {
    "any": lazy("Every contact"),
    "message": lazy("Every message"),
    "sms": lazy("SMS"),
    "wecom": lazy("WeCom"),
    "wechat_template": lazy("WeChat template message"),
    "wechat_subscribe": lazy("WeChat subscribe message"),
    "email": lazy("Email"),
    "webhook": lazy("Webhook"),
    "coupon": lazy("Coupons"),
    "guide_task": lazy("Guide tasks"),
}
CATEGORY_LABELS = {"all": lazy("Marketing and service"), "marketing": lazy("Marketing only")}
#: What the form says for each refused field (the service's own text is English), by the
#: last part of the field's name.
FIELD_ERRORS = {
    "start": lazy("Give a start and an end as HH:MM (or leave both empty)."),
    "end": lazy("Give a start and an end as HH:MM at different times (or leave both empty)."),
    "fallback_timezone": lazy("Unknown time zone: use an IANA name such as Asia/Shanghai."),
    "id": lazy("1–40 lower-case letters, digits, '_' or '-', not used by another cap."),
    "channel": lazy("Pick one of the listed channels."),
    "category": lazy("Pick one of the listed categories."),
    "max_contacts": lazy("Between 1 and 100: a cap of 0 would block every contact."),
    "window_days": lazy("Between 1 and 365 days."),
    "caps": lazy("At most 20 caps."),
    "capacity": lazy("Between 0 (no limit) and 500."),
    "name": lazy("Give the group a name (at most 80 characters) no other group has."),
    "policy": lazy("Pick what the group does when a higher priority journey wants a customer."),
    "max_points_per_step": lazy("A whole number between 1 and 1,000,000."),
}
GROUP_POLICY_LABELS = {
    "block": lazy("Block the newcomer"),
    "preempt": lazy("Stop the lower priority journey"),
}


def _error_text(field: str) -> str:
    tail = field.split(".")[-1].split("-")[0]
    return gettext(FIELD_ERRORS.get(tail, FIELD_ERRORS["channel"]))


def change_words(change: PolicyChange, guide_names: dict[str, str]) -> tuple[str, str, str]:
    """A change as the page lists it: (what, before, after), in the reader's language."""
    subject, _, key = change.subject.partition(":")

    def value(raw: str) -> str:
        if not raw:
            return gettext("none")
        if subject == "quiet_hours":
            return raw.replace("-", "–")
        if subject == "cap":
            n, days, channel, category = (raw.split("/") + ["", "", "", ""])[:4]
            return " · ".join(
                (
                    gettext("%(n)s per %(days)s days") % {"n": n, "days": days},
                    gettext(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else channel,
                    gettext(CATEGORY_LABELS[category]) if category in CATEGORY_LABELS else category,
                )
            )
        return raw

    if subject in ("group", "journey_group"):
        return _group_change_words(subject, key, change)
    if subject == "publish_requires_approval":
        words = {"on": gettext("Required"), "off": gettext("Not required")}
        return (
            gettext("Publishing requires approval"),
            words.get(change.old, change.old),
            words.get(change.new, change.new),
        )
    if subject == "max_points_per_step":
        return gettext("Points per step"), change.old, change.new
    if subject == "quiet_hours":
        what = gettext("Quiet hours")
    elif subject == "fallback_timezone":
        what = gettext("Time zone for customers without one")
    elif subject == "cap":
        what = gettext("Frequency cap %(name)s") % {"name": key}
    else:
        what = gettext("Daily capacity of %(guide)s") % {"guide": guide_names.get(key, key)}
    return what, value(change.old), value(change.new)


def _group_change_words(subject: str, key: str, change: PolicyChange) -> tuple[str, str, str]:
    def value(raw: str) -> str:
        if not raw:
            return gettext("none")
        if raw in GROUP_POLICY_LABELS:
            return gettext(GROUP_POLICY_LABELS[raw])
        name, sep, priority = raw.rpartition("#")
        if sep and priority.isdigit():  # a journey's place: "group#priority"
            return gettext("%(group)s, priority %(n)s") % {"group": name, "n": priority}
        return raw

    if subject == "group":
        what = gettext("Priority group %(name)s") % {"name": key}
    else:
        what = gettext("Priority group of journey %(name)s") % {"name": key}
    return what, value(change.old), value(change.new)


def _page(
    request: Request,
    session: Any,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    v = policy.view(session=session)
    return render(
        request,
        "policy.html",
        {
            "policy": v.policy,
            "guides": v.guides,
            "changes": [
                change_words(c, {g.id: g.name for g in v.guides}) + (c,) for c in v.changes
            ],
            "channels": {c: gettext(CHANNEL_LABELS[c]) for c in CAP_CHANNELS},
            "categories": {c: gettext(CATEGORY_LABELS[c]) for c in CAP_CATEGORIES},
            "groups": groups.overview(session=session),
            "group_policies": {k: gettext(v) for k, v in GROUP_POLICY_LABELS.items()},
            "errors": errors or {},
            "form": form or {},
            "notice": notice,
        },
        block="policy",
        status_code=status_code,
    )


def _saved(
    request: Request, session: Any, new: policy.PolicyIn, by: str, form: dict[str, str]
) -> Response:
    try:
        changes = policy.save(session=session, policy=new, by=by)
    except policy.PolicyInputError as exc:
        field = _form_field(exc.field)
        return _page(
            request,
            session,
            errors={field: _error_text(exc.field)},
            form=form,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    notice = gettext("Saved.") if changes else gettext("Nothing changed.")
    return _page(request, session, notice=notice)


def _form_field(field: str) -> str:
    """``caps[3].window_days`` → ``cap.window_days`` (the page edits one cap at a time)."""
    return "cap." + field.split(".", 1)[1] if field.startswith("caps[") else field


@router.get("/policy")
def policy_page(request: Request, session: SessionDep) -> Response:
    return _page(request, session)


@router.post("/policy/approval")
def set_approval_rule(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    required: str = Form(default="", max_length=8),
) -> Response:
    """The chain's launch rule: publishing requires an approver (issue 17)."""
    was = approvals.requires_approval(session=session)
    now = approvals.set_requires_approval(
        session=session, required=bool(required), by=actor.username
    )
    notice = gettext("Saved.") if was != now else gettext("Nothing changed.")
    return _page(request, session, notice=notice)


@router.post("/policy/points")
def set_points_per_step(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    max_points_per_step: str = Form(default="", max_length=16),
) -> Response:
    """The chain's most points one award_points step may give (issue 13); the compiler
    checks every journey against it at its next save, publish or test run."""
    field = "max_points_per_step"
    raw = max_points_per_step.strip().replace(",", "")
    try:
        most = int(raw) if raw.isascii() and raw.isdigit() else 0  # "2,000" too; else refused
        changed = policy.set_max_points_per_step(session=session, most=most, by=actor.username)
    except policy.PolicyInputError:
        return _page(
            request,
            session,
            errors={field: _error_text(field)},
            form={field: max_points_per_step},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return _page(
        request, session, notice=gettext("Saved.") if changed else gettext("Nothing changed.")
    )


@router.post("/policy/quiet-hours")
def set_quiet_hours(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    quiet_start: str = Form(default="", max_length=5),
    quiet_end: str = Form(default="", max_length=5),
    fallback_timezone: str = Form(default="", max_length=64),
) -> Response:
    new = policy.current(session=session)
    new.quiet_start, new.quiet_end, new.fallback_timezone = (
        quiet_start,
        quiet_end,
        fallback_timezone,
    )
    form = {
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "fallback_timezone": fallback_timezone,
    }
    return _saved(request, session, new, actor.username, form)


@router.post("/policy/caps")
def save_cap(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    cap_id: str = Form(default="", max_length=40),
    channel: str = Form(default="", max_length=32),
    max_contacts: int = Form(default=0, ge=-1_000_000, le=1_000_000),
    window_days: int = Form(default=0, ge=-1_000_000, le=1_000_000),
    category: str = Form(default="all", max_length=16),
) -> Response:
    """Add a cap, or change the one of that id."""
    new = policy.current(session=session)
    cap = policy.CapIn(cap_id.strip(), channel, max_contacts, window_days, category)
    ids = [c.id for c in new.caps]
    if cap.id in ids:
        new.caps[ids.index(cap.id)] = cap
    else:
        new.caps.append(cap)
    form = {
        "cap_id": cap_id,
        "channel": channel,
        "max_contacts": str(max_contacts),
        "window_days": str(window_days),
        "category": category,
    }
    return _saved(request, session, new, actor.username, form)


@router.post("/policy/caps/{cap_id}/delete")
def delete_cap(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    cap_id: str = Path(max_length=40),
) -> Response:
    new = policy.current(session=session)
    new.caps = [c for c in new.caps if c.id != cap_id]
    return _saved(request, session, new, actor.username, {})


@router.post("/policy/guides/{guide_id}/capacity")
def set_capacity(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    guide_id: str = Path(max_length=32),
    capacity: int = Form(ge=-1_000_000, le=1_000_000),
) -> Response:
    try:
        change = policy.set_guide_capacity(
            session=session, guide_id=guide_id, capacity=capacity, by=actor.username
        )
    except policy.PolicyInputError as exc:
        return _page(
            request,
            session,
            errors={exc.field: _error_text(exc.field)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return _page(
        request, session, notice=gettext("Saved.") if change else gettext("Nothing changed.")
    )


# ---------------------------------------------------------------------- priority groups


def _group_refused(
    request: Request, session: Any, exc: groups.GroupInputError, prefix: str, form: dict[str, str]
) -> Response:
    return _page(
        request,
        session,
        errors={f"{prefix}.{exc.field}": _error_text(exc.field)},
        form=form,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/policy/groups")
def add_group(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    group_name: str = Form(default="", max_length=200),
    group_policy: str = Form(default="block", max_length=16),
) -> Response:
    try:
        groups.create_group(
            session=session, name=group_name, policy=group_policy, by=actor.username
        )
    except groups.GroupInputError as exc:
        form = {"group_name": group_name, "group_policy": group_policy}
        return _group_refused(request, session, exc, "group", form)
    return _page(request, session, notice=gettext("Saved."))


@router.post("/policy/groups/{group_id}")
def edit_group(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    group_id: int = Path(ge=1, le=2**31),
    name: str = Form(default="", max_length=200),
    group_policy: str = Form(default="block", max_length=16),
) -> Response:
    """Rename a group or change its policy (applies to entries from now on)."""
    try:
        groups.update_group(
            session=session, group_id=group_id, name=name, policy=group_policy, by=actor.username
        )
    except groups.GroupNotFoundError:
        return _page(request, session, status_code=status.HTTP_404_NOT_FOUND)
    except groups.GroupInputError as exc:
        return _group_refused(request, session, exc, f"group-{group_id}", {})
    return _page(request, session, notice=gettext("Saved."))


@router.post("/policy/groups/{group_id}/delete")
def remove_group(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    group_id: int = Path(ge=1, le=2**31),
) -> Response:
    """Delete a group; one a live or paused journey is in → 409 naming them (a toast)."""
    try:
        groups.delete_group(session=session, group_id=group_id, by=actor.username)
    except groups.GroupNotFoundError:
        return _page(request, session, status_code=status.HTTP_404_NOT_FOUND)
    except groups.GroupInUseError as exc:
        detail = gettext(
            "The group %(group)s is used by %(journeys)s: take them out of the group in their "
            "journey settings, or archive them, first."
        ) % {"group": exc.group.name, "journeys": ", ".join(j.name for j in exc.journeys)}
        return JSONResponse({"detail": detail}, status_code=status.HTTP_409_CONFLICT)
    return _page(request, session, notice=gettext("Saved."))


@router.post("/journeys/{journey_id}/group")
def set_journey_group(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    journey_id: str = Path(max_length=64),
    group_id: str = Form(default="", max_length=12),
    priority: str = Form(default="", max_length=12),
) -> Response:
    """The editor's journey settings: the journey's priority group and priority (the
    editor's ``journey_group`` block); a taken or missing priority → 422 on the field."""
    journey = session.get(Journey, journey_id)
    if journey is None:
        return JSONResponse(
            {"detail": gettext("No such journey.")}, status_code=status.HTTP_404_NOT_FOUND
        )
    errors: dict[str, str] = {}
    notice = ""
    code = status.HTTP_200_OK
    try:
        groups.set_journey_group(
            session=session,
            journey_id=journey_id,
            group_id=int(group_id) if group_id.strip() else None,
            priority=int(priority) if priority.strip() else None,
            by=actor.username,
        )
        notice = gettext("Saved.")
    except ValueError as exc:  # GroupInputError, or not a number
        field = (
            exc.field
            if isinstance(exc, groups.GroupInputError)
            else ("group_id" if group_id.strip() and not group_id.strip().isdigit() else "priority")
        )
        errors[field] = _journey_group_error(exc, field)
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
        session.rollback()
    if not errors and not is_htmx(request):  # a plain form post: back to the editor
        return RedirectResponse(f"/journeys/{journey_id}/edit", status_code=303)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "readonly": False,
            "journey_group": groups.editor_settings(session=session, journey_id=journey_id),
            "group_errors": errors,
            # a refused form keeps what was chosen and typed
            "group_form": {"group_id": group_id.strip(), "priority": priority} if errors else None,
            "group_notice": notice,
        },
        block="journey_group",
        status_code=code,
        force_block=True,
    )


def _journey_group_error(exc: ValueError, field: str) -> str:
    if isinstance(exc, groups.GroupInputError) and exc.taken_by:
        return gettext("%(journey)s already has this priority in the group; choose another.") % {
            "journey": exc.taken_by
        }
    if field == "group_id":
        return gettext("Pick one of the listed groups.")
    return gettext("Give a priority from 1 (the highest) to 999.")
