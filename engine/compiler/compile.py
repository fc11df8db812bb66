"""The journey compiler (:func:`compile_document`): parse → validation passes → build.

>>> result = compile_document(raw_json, journey_id="j1", version=3, coupon_templates={"NEW20"})
>>> result.ok, [d.code for d in result.diagnostics]

Every diagnostic is collected (none stops the others) so the canvas can mark every bad node
at once. Only a document without errors is built into a :class:`~engine.ir.CompiledJourney`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from engine.compiler.build import build
from engine.compiler.diagnostics import Diagnostic, Diagnostics, Severity
from engine.compiler.parse import parse
from engine.compiler.passes import PASSES, Context, build_graph
from engine.document import JourneyDocument
from engine.ir import CompiledJourney


@dataclass
class CompileResult:
    document: JourneyDocument | None
    journey: CompiledJourney | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.journey is not None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def diagnostics_json(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.diagnostics]


def compile_document(
    raw: Any,
    *,
    journey_id: str = "draft",
    version: int = 0,
    coupon_templates: Collection[str] | None = None,
    segments: Collection[str] | None = None,
    quiet_hours: bool | None = None,
    max_points_per_step: int | None = None,
) -> CompileResult:
    """Compile a journey document (a dict, JSON text/bytes or a JourneyDocument).

    ``coupon_templates`` / ``segments``: the ids that exist; ``None`` skips that check
    (e.g. offline). ``quiet_hours``: whether the brand's contact policy has quiet hours
    (``None``: unknown, no ACTION_WITHOUT_WINDOW warnings). ``max_points_per_step``: the
    chain's most points one award_points step may give (``None``: the kind's default).
    """
    diags = Diagnostics()
    if isinstance(raw, JourneyDocument):
        raw = raw.model_dump(mode="json")
    parsed = parse(raw, diags)
    doc = parsed.document
    if doc is None:
        return CompileResult(None, None, diags.items)
    ctx = Context(
        doc=doc,
        graph=build_graph(doc, parsed.known_ids),
        nodes={n.id: n for n in doc.nodes},
        known_ids=parsed.known_ids,
        coupon_templates=coupon_templates,
        segments=segments,
        quiet_hours=quiet_hours,
        max_points_per_step=max_points_per_step,
    )
    for validate in PASSES:
        validate(ctx, diags)
    if diags.has_errors:
        return CompileResult(doc, None, diags.items)
    return CompileResult(doc, build(doc, journey_id=journey_id, version=version), diags.items)
