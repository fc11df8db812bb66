"""Journeys and scripts whose recorded histories form the replay corpus.

Together they cover every node kind and port family: entry, wait (duration + window,
context moment), wait_for_event (matched, timeout), branch (rule, else), split,
send_coupon, send_message, assign_guide_task (outcome, expired), update_customer, exit
(goal and plain), the journey goal, continue-as-new, and a branch on segment membership
re-read after a wait, and award_points with a benefit pack read by a message and a branch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from engine.compiler import compile_document
from engine.contact_policy import ContactPolicy, FrequencyCap
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn, TaskOutcome
from tests.workflows.harness import COUPONS, ENTRY, EXIT, GOAL, doc, wait_at
from workflows import JourneyRef, JourneyWorkflow, journey_cache
from workflows.contract import MoveToVersion

Action = Callable[[WorkflowEnvironment, WorkflowHandle[Any, Any], Any], Awaitable[None]]


@dataclass
class Scenario:
    name: str
    document: dict[str, Any]
    action: Action | None = None
    input_extra: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # over the harness's default world
    #: the brand's contact policy in the sandbox world (None: no limits)
    policy: ContactPolicy | None = None
    #: later published versions of the journey (documents of v2, v3 …): the recorder keeps
    #: them beside the run's own for the runs the action moves to them
    later_versions: list[dict[str, Any]] = field(default_factory=list)


def later_version(name: str, document: dict[str, Any], version: int) -> CompiledJourney:
    """Scenario ``name``'s journey at ``version`` (as the recorder publishes it), kept in
    this process's journey cache."""
    result = compile_document(
        document, journey_id=f"replay-{name}", version=version, coupon_templates=set(COUPONS)
    )
    assert result.journey is not None, [d.message for d in result.diagnostics]
    journey_cache.remember(result.journey.to_dict())
    return result.journey


async def _purchase(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], acts: Any) -> None:
    await wait_at(handle, "w")
    await env.sleep(timedelta(days=1, minutes=1))
    await wait_at(handle, "wfe")
    now = await env.get_current_time()
    await handle.signal(
        JourneyWorkflow.customer_event,
        CustomerEventIn("ev-1", "purchase", now.isoformat(), {"amount": 399}),
    )


async def _task_done(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], acts: Any) -> None:
    await wait_at(handle, "t")
    task_id = acts.world("C1").tasks[0]["task_id"]
    await handle.signal(
        JourneyWorkflow.task_outcome, TaskOutcome(task_id, "interested", "下周到店", by="G1")
    )


async def _store_visit(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], acts: Any
) -> None:
    await wait_at(handle, "wfe")
    now = await env.get_current_time()
    await handle.signal(
        JourneyWorkflow.customer_event, CustomerEventIn("ev-v", "store_visit", now.isoformat(), {})
    )


def _wait_coupon_message(days: int, message: str) -> dict[str, Any]:
    return doc(
        [
            ENTRY,
            {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": days, "unit": "days"}}
                },
            },
            {"id": message, "kind": "send_message", "config": {"content": "券 {{ ctx.c.code }}"}},
            EXIT,
        ],
        [
            ("entry", "next", "c"),
            ("c", "next", "w"),
            ("w", "next", message),
            (message, "next", "done"),
        ],
    )


MOVED_V2 = _wait_coupon_message(5, "m2")


async def _move_to_v2(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], acts: Any
) -> None:
    """Issue 17: the customer waiting at `w` of v1 moves to v2 (a longer wait, another
    message) in place, by the journey-move-version marker; the coupon stays issued."""
    v2 = later_version("moved_to_v2", MOVED_V2, 2)
    await wait_at(handle, "w")
    await env.sleep(timedelta(days=1))
    await handle.signal(
        JourneyWorkflow.move_version,
        MoveToVersion(
            JourneyRef(v2.journey_id, v2.version, v2.content_hash),
            "move-1",
            1,
            {"w": "w", "c": "c"},
            by="alice",
        ),
    )


#: One journey under caps, recorded under two releases (contact_policy_caps,
#: contact_in_effect_caps): a message, one that waits for its cap, a coupon with a
#: `capped` port.
_CAPPED_ACTIONS = doc(
    [
        ENTRY,
        {"id": "m1", "kind": "send_message", "config": {"content": "新品到店"}},
        {
            "id": "m2",
            "kind": "send_message",
            "config": {
                "content": "还有一件",
                "when_capped": "wait",
                "max_wait": {"amount": 3, "unit": "days"},
            },
        },
        {
            "id": "c",
            "kind": "send_coupon",
            "config": {"coupon_template_id": "NEW20", "when_capped": "port"},
        },
        EXIT,
        {"id": "held", "kind": "exit"},
    ],
    [
        ("entry", "next", "m1"),
        ("m1", "next", "m2"),
        ("m2", "next", "c"),
        ("c", "next", "done"),
        ("c", "capped", "held"),
    ],
)
_CAPS = ContactPolicy(
    caps=[FrequencyCap("msg1d", "message", 1, 1), FrequencyCap("any2", "any", 2, 3)]
)


SCENARIOS = [
    Scenario(
        "branch_coupon_message",
        doc(
            [
                ENTRY,
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "vip",
                                "label": "重要客户",
                                "conditions": [
                                    {"type": "rfm_class", "classes": ["重要挽留"]},
                                    {
                                        "type": "event_count",
                                        "event_type": "purchase",
                                        "window_days": 30,
                                        "op": "lt",
                                        "value": 1,
                                    },
                                ],
                            }
                        ]
                    },
                },
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {
                    "id": "m",
                    "kind": "send_message",
                    "config": {
                        "channel": "wecom",
                        "content": "{{ customer.name }} 送您券 {{ ctx.c.code }}",
                    },
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "b"),
                ("b", "vip", "c"),
                ("b", "else", "goal"),
                ("c", "next", "m"),
                ("m", "next", "done"),
            ],
        ),
    ),
    Scenario(
        "wait_window_and_coupon_expiry",
        doc(
            [
                ENTRY,
                {
                    "id": "w0",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}},
                        "window": {"start": "10:00", "end": "20:00"},
                    },
                },
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {
                    "id": "w1",
                    "kind": "wait",
                    "config": {
                        "until": {
                            "type": "context",
                            "node_id": "c",
                            "field": "expires_at",
                            "offset": {"amount": 3, "unit": "days"},
                            "direction": "before",
                        }
                    },
                },
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "used",
                                "conditions": [
                                    {"type": "context", "node_id": "c", "field": "redeemed"}
                                ],
                            }
                        ]
                    },
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "w0"),
                ("w0", "next", "c"),
                ("c", "next", "w1"),
                ("w1", "next", "b"),
                ("b", "used", "goal"),
                ("b", "else", "done"),
            ],
        ),
    ),
    Scenario(
        "wait_for_event_matched_goal",
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                    },
                },
                {
                    "id": "wfe",
                    "kind": "wait_for_event",
                    "config": {"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "w"),
                ("w", "next", "wfe"),
                ("wfe", "matched", "goal"),
                ("wfe", "timeout", "done"),
            ],
        ),
        action=_purchase,
    ),
    Scenario(
        "wait_for_event_timeout",
        doc(
            [
                ENTRY,
                {
                    "id": "wfe",
                    "kind": "wait_for_event",
                    "config": {
                        "event_type": "store_visit",
                        "timeout": {"amount": 7, "unit": "days"},
                    },
                },
                EXIT,
                GOAL,
            ],
            [("entry", "next", "wfe"), ("wfe", "matched", "goal"), ("wfe", "timeout", "done")],
        ),
    ),
    Scenario(
        "task_outcome",
        doc(
            [
                ENTRY,
                {
                    "id": "t",
                    "kind": "assign_guide_task",
                    "config": {
                        "task_type": "call",
                        "instructions": "电话回访 {{ customer.name }}",
                        "outcomes": ["interested", "declined"],
                    },
                },
                GOAL,
                EXIT,
                {"id": "lost", "kind": "exit"},
            ],
            [
                ("entry", "next", "t"),
                ("t", "interested", "goal"),
                ("t", "declined", "done"),
                ("t", "expired", "lost"),
            ],
        ),
        action=_task_done,
    ),
    Scenario(
        "task_expired",
        doc(
            [
                ENTRY,
                {
                    "id": "t",
                    "kind": "assign_guide_task",
                    "config": {"task_type": "store_invite", "instructions": "邀请到店"},
                },
                GOAL,
                EXIT,
            ],
            [("entry", "next", "t"), ("t", "completed", "goal"), ("t", "expired", "done")],
        ),
    ),
    Scenario(
        "split_update_customer",
        doc(
            [
                ENTRY,
                {
                    "id": "s",
                    "kind": "split",
                    "config": {"variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]},
                },
                {
                    "id": "u",
                    "kind": "update_customer",
                    "config": {"add_tags": ["A组"], "set_attributes": {"ab": "a"}},
                },
                {"id": "u2", "kind": "update_customer", "config": {"add_tags": ["B组"]}},
                EXIT,
            ],
            [
                ("entry", "next", "s"),
                ("s", "a", "u"),
                ("s", "b", "u2"),
                ("u", "next", "done"),
                ("u2", "next", "done"),
            ],
        ),
    ),
    Scenario(
        "loop_continue_as_new",
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                    },
                },
                {"id": "m", "kind": "send_message", "config": {"content": "每日关怀"}},
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "again",
                                "conditions": [{"type": "tag", "tag": "stop", "present": False}],
                            }
                        ]
                    },
                },
                EXIT,
            ],
            [
                ("entry", "next", "w"),
                ("w", "next", "m"),
                ("m", "next", "b"),
                ("b", "again", "w"),
                ("b", "else", "done"),
            ],
            max_node_visits=6,
        ),
        input_extra={"history_limit": 40},
    ),
    Scenario(
        "branch_segment_after_wait",
        doc(
            [
                ENTRY,
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "in",
                                "label": "沉睡客户",
                                "conditions": [
                                    {"type": "segment", "segment_id": "dormant_90d"},
                                    {"type": "segment", "segment_id": "vip", "member": False},
                                ],
                            }
                        ]
                    },
                },
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 2, "unit": "days"}}
                    },
                },
                {
                    "id": "b2",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "still",
                                "conditions": [{"type": "segment", "segment_id": "dormant_90d"}],
                            }
                        ]
                    },
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "b"),
                ("b", "in", "w"),
                ("b", "else", "goal"),
                ("w", "next", "b2"),
                ("b2", "still", "done"),
                ("b2", "else", "goal"),
            ],
        ),
        facts={"segments": {"dormant_90d": True}},
    ),
    Scenario(
        "wait_purchase_cycle",
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait_purchase_cycle",
                    "config": {"percent": 90, "at_time": "10:00"},
                },
                EXIT,
            ],
            [("entry", "next", "w"), ("w", "next", "done")],
        ),
        # recorded 2026-12-01: 90% of 45 days after 11-25 is a timer in the future
        facts={
            "last_purchase_at": "2026-11-25T02:00:00+00:00",
            "purchase_interval_median_days": 45.0,
        },
    ),
    Scenario(
        "wait_until_date_stages",
        doc(
            [
                ENTRY,
                {
                    "id": "d1",
                    "kind": "wait_until_date",
                    "label": "宝宝生日前一周",
                    "config": {
                        "source": "attribute",
                        "attribute": "baby_birthday",
                        "mode": "anniversary",
                        "offset_days": 7,
                        "direction": "before",
                        "at_time": "10:00",
                    },
                },
                {"id": "m", "kind": "send_message", "config": {"content": "宝宝生日快到了"}},
                {
                    "id": "d2",
                    "kind": "wait_until_date",
                    "config": {"source": "attribute", "attribute": "due_date", "mode": "date"},
                },
                {
                    "id": "d3",
                    "kind": "wait_until_date",
                    "config": {
                        "source": "attribute",
                        "attribute": "wedding_day",
                        "on_failure": "port",
                    },
                },
                EXIT,
                GOAL,
                {"id": "lost", "kind": "exit"},
            ],
            [
                ("entry", "next", "d1"),
                ("d1", "next", "m"),
                ("m", "next", "d2"),
                ("d2", "passed", "d3"),
                ("d2", "next", "done"),
                ("d3", "next", "goal"),
                ("d3", "failed", "lost"),
            ],
        ),
        # a yearly wait, a once-only date already passed, a date the customer lacks
        facts={"attributes": {"baby_birthday": "2025-03-01", "due_date": "2020-05-01"}},
    ),
    Scenario(
        "award_points_pack",
        doc(
            [
                ENTRY,
                {
                    "id": "p",
                    "kind": "award_points",
                    "config": {
                        "points": 300,
                        "expires_in_days": 30,
                        "coupon_template_ids": ["NEW20", "VIP100"],
                        "reason": "生日礼",
                        "on_failure": "port",
                    },
                },
                {
                    "id": "m",
                    "kind": "send_message",
                    "config": {
                        "channel": "wecom",
                        "content": "送您 {{ ctx.p.points }} 积分（余额 {{ ctx.p.balance }}）"
                        "和礼包券 {{ ctx.p.coupon_codes }}",
                    },
                },
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "rich",
                                "conditions": [
                                    {
                                        "type": "context",
                                        "node_id": "p",
                                        "field": "balance",
                                        "op": "gte",
                                        "value": 1000,
                                    }
                                ],
                            }
                        ]
                    },
                },
                EXIT,
                GOAL,
                {"id": "lost", "kind": "exit"},
            ],
            [
                ("entry", "next", "p"),
                ("p", "next", "m"),
                ("p", "failed", "lost"),
                ("m", "next", "b"),
                ("b", "rich", "goal"),
                ("b", "else", "done"),
            ],
        ),
        facts={"points_balance": 800},
    ),
    Scenario(
        "branch_cycle_and_stage",
        doc(
            [
                ENTRY,
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "decline",
                                "conditions": [{"type": "lifecycle_stage", "stages": ["decline"]}],
                            },
                            {
                                "id": "short",
                                "conditions": [
                                    {
                                        "type": "metric",
                                        "field": "purchase_interval_median_days",
                                        "op": "lte",
                                        "value": 30,
                                    },
                                    {"type": "lifecycle_stage", "stages": ["develop", "stable"]},
                                ],
                            },
                        ]
                    },
                },
                EXIT,
                GOAL,
                {"id": "other", "kind": "exit"},
            ],
            [
                ("entry", "next", "b"),
                ("b", "decline", "done"),
                ("b", "short", "goal"),
                ("b", "else", "other"),
            ],
        ),
        facts={"lifecycle_stage": "develop", "purchase_interval_median_days": 20.0},
    ),
    Scenario(
        # a split after release journey-semantics-v4: the side hashes journey + customer +
        # node (replay-split_stable_side / C1 / s -> "c", which waits a day); a run recorded
        # on the old per-enrollment seed would take a random side here
        "split_stable_side",
        doc(
            [
                ENTRY,
                {
                    "id": "s",
                    "kind": "split",
                    "config": {
                        "variants": [
                            {"id": "a", "weight": 25},
                            {"id": "b", "weight": 25},
                            {"id": "c", "weight": 25},
                            {"id": "hold", "weight": 25, "holdout": True},
                        ]
                    },
                },
                {"id": "m", "kind": "send_message", "config": {"content": "A 组"}},
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                    },
                },
                EXIT,
                GOAL,
                {"id": "x3", "kind": "exit"},
            ],
            [
                ("entry", "next", "s"),
                ("s", "a", "m"),
                ("m", "next", "done"),
                ("s", "b", "goal"),
                ("s", "c", "w"),
                ("w", "next", "done"),
                ("s", "hold", "x3"),
            ],
        ),
    ),
    Scenario(
        # release journey-node-visits: the visits ride on the wait's record and on the end
        # the coupon's activity records (its then_record), no record_run of their own
        "node_visits_funnel",
        doc(
            [
                ENTRY,
                {
                    "id": "wfe",
                    "kind": "wait_for_event",
                    "config": {
                        "event_type": "store_visit",
                        "timeout": {"amount": 2, "unit": "days"},
                    },
                },
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                EXIT,
            ],
            [
                ("entry", "next", "wfe"),
                ("wfe", "matched", "c"),
                ("wfe", "timeout", "done"),
                ("c", "next", "done"),
            ],
            goal={
                "event_type": "purchase",
                "window": {"amount": 14, "unit": "days"},
                "value_property": "amount",
            },
        ),
        action=_store_visit,
    ),
    # release journey-contact-policy: every action asks check_contact_policy first; a
    # message waits (a durable timer) for its cap, a coupon takes its `capped` port
    Scenario(
        "contact_policy_caps",
        _CAPPED_ACTIONS,
        policy=_CAPS,
    ),
    # release journey-contact-in-effect: the same journey, each action's check on its own
    # activity (no check_contact_policy local activity; a held-back action answers denied)
    Scenario(
        "contact_in_effect_caps",
        _CAPPED_ACTIONS,
        policy=_CAPS,
    ),
    # release journey-local-db-effects: the profile update, the points (with a pack coupon)
    # and the coupon are local activities (markers), the message an activity
    Scenario(
        "local_db_effects",
        doc(
            [
                ENTRY,
                {"id": "u", "kind": "update_customer", "config": {"add_tags": ["生日月"]}},
                {
                    "id": "p",
                    "kind": "award_points",
                    "config": {
                        "points": 300,
                        "coupon_template_ids": ["VIP100"],
                        "on_failure": "port",
                    },
                },
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {
                    "id": "m",
                    "kind": "send_message",
                    "config": {"content": "送您 {{ ctx.c.code }}"},
                },
                EXIT,
            ],
            [
                ("entry", "next", "u"),
                ("u", "next", "p"),
                ("p", "next", "c"),
                ("p", "failed", "c"),
                ("c", "next", "m"),
                ("m", "next", "done"),
            ],
        ),
    ),
    # issue 17: a run moved from v1 to v2 while it waited (marker journey-move-version)
    Scenario(
        "moved_to_v2",
        _wait_coupon_message(3, "m"),
        action=_move_to_v2,
        later_versions=[MOVED_V2],
    ),
]
