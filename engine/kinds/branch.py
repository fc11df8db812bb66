"""``branch``: send customers down the first rule they match, else ``else``."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.document_parts import (
    LIFECYCLE_STAGES,
    AttributeCondition,
    Condition,
    ContextCondition,
    LifecycleStageCondition,
    MetricCondition,
    NodeBase,
    NodeKind,
    RfmCondition,
    _Model,
)
from engine.ir_parts import Cond, StepBase
from engine.kinds.spec import KindSpec, StepHead
from engine.metrics import METRICS
from engine.rfm import RFM_CLASS_NAMES

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

ELSE = "else"
#: How marketers write the stages (识别期 …): a hint names the code to use instead.
_STAGE_WORDS = {
    "识别": "identify",
    "识别期": "identify",
    "发展": "develop",
    "发展期": "develop",
    "稳定": "stable",
    "稳定期": "stable",
    "衰退": "decline",
    "衰退期": "decline",
}

# --------------------------------------------------------------------------- document


class BranchRule(_Model):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=80)
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=20)


class BranchConfig(_Model):
    rules: list[BranchRule] = Field(default_factory=list, max_length=20)


class BranchNode(NodeBase):
    kind: Literal[NodeKind.BRANCH] = NodeKind.BRANCH
    config: BranchConfig = Field(default_factory=BranchConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    match_all: bool
    conditions: tuple[Cond, ...]


@dataclass(frozen=True)
class BranchStep(StepBase):
    rules: tuple[Rule, ...] = ()


# --------------------------------------------------------------------------- compile


def ports(node: BranchNode) -> tuple[str, ...]:
    return (*(r.id for r in node.config.rules), ELSE)


def validate(node: BranchNode, ctx: "Context", diags: Diagnostics) -> None:
    name = common.label(node)
    rules = node.config.rules
    if not rules:
        diags.error(
            Code.EMPTY_RULES,
            f"Branch '{name}' has no rules, so everyone would take 'else'.",
            nodes=[node.id],
            hint="Add a rule, or remove the branch.",
        )
    ids = [r.id for r in rules]
    for rid in sorted({i for i in ids if ids.count(i) > 1}):
        diags.error(
            Code.DUPLICATE_PORT_ID,
            f"Branch '{name}' has two rules with the id '{rid}'.",
            nodes=[node.id],
        )
    for rule in rules:
        if rule.id == ELSE:
            diags.error(
                Code.RESERVED_PORT_ID,
                f"Branch '{name}': a rule cannot be called 'else'; that port is "
                "for customers no rule matches.",
                nodes=[node.id],
            )
        if not rule.conditions:
            diags.error(
                Code.EMPTY_RULE,
                f"Rule '{rule.label or rule.id}' of branch '{name}' has no conditions.",
                nodes=[node.id],
                hint="Add at least one condition to the rule.",
                params={"rule": rule.label or rule.id},
            )
        for cond in rule.conditions:
            _check_condition(node.id, name, rule.label or rule.id, cond, diags)
            if isinstance(cond, RfmCondition):
                for cls in cond.classes:
                    if cls not in RFM_CLASS_NAMES:
                        diags.error(
                            Code.UNKNOWN_RFM_CLASS,
                            f"Rule '{rule.label or rule.id}' uses unknown RFM class '{cls}'.",
                            nodes=[node.id],
                            hint=did_you_mean(cls, RFM_CLASS_NAMES),
                            params={"rfm_class": cls, "rule": rule.label or rule.id},
                        )


def _check_condition(
    node_id: str, name: str, rule: str, cond: Condition, diags: Diagnostics
) -> None:
    """The lifecycle stage and metric conditions: values a branch can actually meet."""
    if isinstance(cond, LifecycleStageCondition):
        for stage in cond.stages:
            if stage not in LIFECYCLE_STAGES:
                word = _STAGE_WORDS.get(stage.strip())
                diags.error(
                    Code.UNKNOWN_LIFECYCLE_STAGE,
                    f"Rule '{rule}' of branch '{name}' uses unknown lifecycle stage '{stage}'.",
                    nodes=[node_id],
                    hint=f"use '{word}' for {stage}"
                    if word
                    else did_you_mean(stage, LIFECYCLE_STAGES),
                    params={"stage": stage, "rule": rule},
                )
    elif isinstance(cond, MetricCondition):
        if cond.op not in ("exists", "not_exists") and cond.value is None:
            diags.error(
                Code.INVALID_CONDITION,
                f"Rule '{rule}' of branch '{name}' compares {cond.field} with no number.",
                nodes=[node_id],
                hint=f"Enter the {_UNIT_WORDS[METRICS[cond.field].unit]} to compare with, "
                "or test whether it exists.",
                params={"rule": rule, "field": cond.field, "problem": "no_value"},
            )
    elif isinstance(cond, AttributeCondition) and (
        cond.field == "lifecycle_stage" or cond.field in METRICS
    ):
        # a profile field of that name is a custom attribute the brand may have set; the
        # computed metric has its own condition (and means the same in every journey)
        diags.warning(
            Code.METRIC_AS_ATTRIBUTE,
            f"Rule '{rule}' of branch '{name}' reads '{cond.field}' from the customer's "
            "custom attributes, not the computed value.",
            nodes=[node_id],
            hint="To test the computed value, use the condition type "
            + ("'lifecycle_stage'." if cond.field == "lifecycle_stage" else "'metric'."),
            params={"rule": rule, "field": cond.field},
        )


#: What a metric's number is, by its unit (engine.metrics.Unit).
_UNIT_WORDS = {"days": "number of days", "count": "number", "amount": "amount"}


def context_refs(node: BranchNode) -> list[tuple[str, str | None]]:
    return [
        (cond.node_id, cond.field)
        for rule in node.config.rules
        for cond in rule.conditions
        if isinstance(cond, ContextCondition)
    ]


def build(node: BranchNode, head: StepHead) -> BranchStep:
    rules = tuple(
        Rule(r.id, r.label, r.match == "all", tuple(common.cond(c) for c in r.conditions))
        for r in node.config.rules
    )
    return BranchStep(head.node_id, head.label, head.transitions, rules=rules)


# --------------------------------------------------------------------------- run


async def run(step: BranchStep, it: "Interpreter", entry: "TraceEntry", visit: int) -> str | None:
    needed = semantics.facts_needed(step, it.state.context)
    facts = await it.facts(needed.event_counts, needed.coupon_ids, needed.segment_ids)
    port, inputs, summary = semantics.evaluate_branch(step, facts, it.state.context)
    entry.inputs = inputs
    entry.summary = summary
    return port


SPEC = KindSpec(
    kind=NodeKind.BRANCH,
    node=BranchNode,
    step=BranchStep,
    ir_classes=(BranchStep, Rule),
    ports=ports,
    validate=validate,
    build=build,
    run=run,
    context_refs=context_refs,
    example={"rules": [{"id": "vip", "conditions": [{"type": "tag", "tag": "vip"}]}]},
)
