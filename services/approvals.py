"""Launch approval (issue 17 item 4): the chain's setting "publishing requires approval",
submitting a version, and an approver's decision.

A marketer submits the draft as it is (a snapshot: what goes live when approved, whatever
the draft becomes meanwhile) with a diff against the live version (``engine.document_diff``:
steps added, removed and changed — the pages word them with the canvas's step summaries)
and the latest backtest of the journey, when there is one. An approver — an admin, or an
HQ account granted ``approve_journeys`` (``services.accounts.PERMISSIONS``), never the
submitter — approves (the snapshot is published in the same transaction as the decision)
or rejects with a comment. A new submission of the same journey withdraws the pending one.
Every step is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from db import crud
from db.crud import backtests
from db.crud import contact_policy as policy_crud
from db.errors import NotFoundError
from db.models import JourneyApproval, JourneyVersion, utcnow
from db.session import begin_write, end_transaction, in_thread
from engine.compiler import Diagnostic
from engine.document_diff import diff_counts, diff_documents, diff_summary
from services import audit, segments
from services.accounts import Principal
from services.journeys import JourneyStateError, publish, validate_draft
from services.temporal import TemporalGateway

PERMISSION = "approve_journeys"
MAX_COMMENT = 2000


class ApprovalForbiddenError(Exception):
    """The user may not decide this submission (no permission, or it is their own)."""


class ApprovalStateError(Exception):
    """The submission was decided (or withdrawn) already."""


class ApprovalInputError(ValueError):
    """Bad input; ``field`` names it (a 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SubmissionInvalidError(Exception):
    """The draft does not compile: nothing to submit (or, at approval, to publish)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("The journey has errors; fix them before submitting.")
        self.diagnostics = diagnostics


# ----------------------------------------------------------------------------- the setting


def requires_approval(*, session: Session) -> bool:
    """The chain's setting: does publishing need an approver?"""
    return policy_crud.get_policy_row(session=session).publish_requires_approval


def set_requires_approval(*, session: Session, required: bool, by: str) -> bool:
    """Switch the setting (admin / HQ, the policy page); recorded with the policy's changes
    (``publish_requires_approval``: ``off`` → ``on``) and in the audit log."""
    policy_crud.set_policy_setting(
        session=session,
        name="publish_requires_approval",
        value=required,
        by=by,
        words=lambda on: "on" if on else "off",
    )
    return required


# ----------------------------------------------------------------------------- submissions


def latest_backtest(session: Session, journey_id: str) -> dict[str, Any]:
    """What the submission keeps of the journey's latest backtest (issue 17 item 1): its
    page, status, period and, when done, the candidate's difference from the live version
    in the headline numbers. Without any backtest: the backtest page's address only."""
    found: dict[str, Any] = {"url": f"/journeys/{journey_id}/backtest"}
    row = backtests.latest_backtest(session=session, journey_id=journey_id)
    if row is None:
        return found
    result = row.result if isinstance(row.result, dict) else {}
    found_diff = result.get("diff")
    diff: dict[str, Any] = found_diff if isinstance(found_diff, dict) else {}
    found.update(
        id=row.id,
        url=f"/journeys/{journey_id}/backtest/{row.id}",
        status=row.status,
        candidate=row.candidate,
        period_start=row.period_start.isoformat(),
        period_end=row.period_end.isoformat(),
        summary={
            key: value
            for key, value in (
                ("customers", result.get("customers")),
                ("coupons", diff.get("coupons")),
                ("coupon_value", diff.get("coupon_value")),
                ("conversions", diff.get("conversions")),
                ("revenue", diff.get("revenue")),
                ("guide_days_over_capacity", diff.get("guide_days_over_capacity")),
            )
            if value is not None
        },
    )
    return found


def submit(*, session: Session, journey_id: str, by: str, note: str = "") -> JourneyApproval:
    """Submit the journey's draft for approval (any time: with the setting off it is a
    second pair of eyes on request). Raises :class:`SubmissionInvalidError` with the
    diagnostics when the draft does not compile."""
    if len(note) > MAX_COMMENT:
        raise ApprovalInputError("note", f"at most {MAX_COMMENT} characters")
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise NotFoundError("journey", journey_id)
    if journey.status == "archived":
        raise JourneyStateError(journey_id, journey.status, "publish")
    result = validate_draft(session=session, document=journey.draft_document)
    if not result.ok:
        raise SubmissionInvalidError(result.diagnostics)
    live = _live(session, journey.id, journey.live_version)
    # versions store the compiler's normalised document (defaults filled in): the diff
    # compares like with like
    assert result.document is not None
    diff = diff_documents(live.document if live else None, result.document.model_dump(mode="json"))
    begin_write(session)
    for pending in _pending_of(session, journey_id):
        pending.status = "withdrawn"
        pending.decided_by, pending.decided_at = by, utcnow()
        pending.decision_comment = "replaced by a newer submission"
        session.add(pending)
    approval = JourneyApproval(
        journey_id=journey_id,
        document=journey.draft_document,
        base_version=live.version if live else None,
        diff=diff,
        backtest=latest_backtest(session, journey_id),
        note=note.strip(),
        submitted_by=by,
    )
    session.add(approval)
    audit.record(
        session,
        actor=by,
        action="submit",
        object_type="journey",
        object_id=journey_id,
        after={"base_version": approval.base_version, **diff_counts(diff)},
        summary=f"{journey.name}: {diff_summary(diff)}",
    )
    session.commit()
    return approval


def _live(session: Session, journey_id: str, live_version: int | None) -> JourneyVersion | None:
    if live_version is None:
        return None
    return crud.get_version(session=session, journey_id=journey_id, version=live_version)


def _pending_of(session: Session, journey_id: str) -> list[JourneyApproval]:
    stmt = select(JourneyApproval).where(
        col(JourneyApproval.journey_id) == journey_id, col(JourneyApproval.status) == "pending"
    )
    return list(session.exec(stmt))


def get(*, session: Session, approval_id: int, for_update: bool = False) -> JourneyApproval:
    """One submission (``for_update``: locked for a decision, PostgreSQL; SQLite's writer
    session holds the write lock already)."""
    approval = session.get(JourneyApproval, approval_id, with_for_update=for_update)
    if approval is None:
        raise NotFoundError("approval", str(approval_id))
    return approval


def list_approvals(
    *, session: Session, status: str | None = None, journey_id: str | None = None, limit: int = 100
) -> list[JourneyApproval]:
    """Submissions newest first (pending first when no status is asked for)."""
    stmt = select(JourneyApproval)
    if status:
        stmt = stmt.where(col(JourneyApproval.status) == status)
    if journey_id:
        stmt = stmt.where(col(JourneyApproval.journey_id) == journey_id)
    stmt = stmt.order_by(
        (col(JourneyApproval.status) != "pending"), col(JourneyApproval.submitted_at).desc()
    )
    return list(session.exec(stmt.limit(limit)))


def latest_for(*, session: Session, journey_id: str) -> JourneyApproval | None:
    """The journey's newest submission (the editor's approval state)."""
    stmt = (
        select(JourneyApproval)
        .where(col(JourneyApproval.journey_id) == journey_id)
        .order_by(col(JourneyApproval.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


# ----------------------------------------------------------------------------- decisions


def _check_decider(approval: JourneyApproval, principal: Principal) -> None:
    if principal.username == approval.submitted_by:
        raise ApprovalForbiddenError(
            "You submitted this version; someone else must approve or reject it."
        )
    if not principal.can(PERMISSION):
        raise ApprovalForbiddenError(
            "Only an admin or an HQ account allowed to approve journeys can decide this."
        )
    if approval.status != "pending":
        raise ApprovalStateError(f"This submission is {approval.status} already.")


@dataclass
class Decision:
    approval: JourneyApproval
    version: JourneyVersion | None = None
    warnings: list[Diagnostic] = field(default_factory=list)


def _approve(
    session: Session, approval_id: int, principal: Principal, comment: str
) -> tuple[JourneyApproval, JourneyVersion]:
    approval = get(session=session, approval_id=approval_id, for_update=True)
    _check_decider(approval, principal)
    approval.status = "approved"
    approval.decided_by, approval.decided_at = principal.username, utcnow()
    approval.decision_comment = comment.strip()
    session.add(approval)
    audit.record(
        session,
        actor=principal.username,
        action="approve",
        object_type="journey",
        object_id=approval.journey_id,
        after={"approval": approval.id, "submitted_by": approval.submitted_by},
        summary=comment.strip()[:200],
    )
    # the decision and the new version commit together (publish_version commits)
    outcome = publish(
        session=session,
        journey_id=approval.journey_id,
        by=principal.username,
        document=approval.document,
        approved=True,
    )
    if outcome.version is None:
        session.rollback()
        raise SubmissionInvalidError(outcome.diagnostics)
    approval.published_version = outcome.version.version
    session.add(approval)
    session.commit()
    end_transaction(session)
    return approval, outcome.version


async def approve(
    *,
    session: Session,
    temporal: TemporalGateway | None,
    approval_id: int,
    principal: Principal,
    comment: str = "",
) -> Decision:
    """Approve and publish the submitted version (then its segment entry starts or is
    scheduled, as at any publish). :class:`ApprovalForbiddenError` for one's own submission
    or without the permission; :class:`ApprovalStateError` when decided already."""
    if len(comment) > MAX_COMMENT:
        raise ApprovalInputError("comment", f"at most {MAX_COMMENT} characters")
    approval, version = await in_thread(_approve, session, approval_id, principal, comment)
    warnings = await segments.after_publish(session=session, temporal=temporal, version=version)
    return Decision(approval, version, warnings)


def reject(*, session: Session, approval_id: int, principal: Principal, comment: str) -> Decision:
    """Reject with a comment (required: the submitter needs to know what to change)."""
    comment = comment.strip()
    if not comment:
        raise ApprovalInputError("comment", "say why it is rejected")
    if len(comment) > MAX_COMMENT:
        raise ApprovalInputError("comment", f"at most {MAX_COMMENT} characters")
    approval = get(session=session, approval_id=approval_id, for_update=True)
    _check_decider(approval, principal)
    approval.status = "rejected"
    approval.decided_by, approval.decided_at = principal.username, utcnow()
    approval.decision_comment = comment
    session.add(approval)
    audit.record(
        session,
        actor=principal.username,
        action="reject",
        object_type="journey",
        object_id=approval.journey_id,
        after={"approval": approval.id, "submitted_by": approval.submitted_by},
        summary=comment[:200],
    )
    session.commit()
    return Decision(approval)
