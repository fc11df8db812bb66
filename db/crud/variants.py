"""The side each split gave a run (``journey_run_variant``), written with the run's report."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from db.models import JourneyRun, JourneyRunVariant


def record_variants(
    *, session: Session, run: JourneyRun, variants: Sequence[tuple[str, str]]
) -> None:
    """Add the ``(node_id, variant)`` pairs ``run`` has no row for yet (a run reports its
    variants on every record; the first report of each split writes it)."""
    if not variants:
        return
    if run.id is None:
        session.flush()
    assert run.id is not None
    known = set(
        session.exec(
            select(JourneyRunVariant.node_id).where(col(JourneyRunVariant.run_id) == run.id)
        )
    )
    for node_id, variant in variants:
        if node_id in known:
            continue
        session.add(
            JourneyRunVariant(
                run_id=run.id,
                journey_id=run.journey_id,
                journey_version=run.journey_version,
                node_id=node_id,
                variant=variant,
            )
        )
