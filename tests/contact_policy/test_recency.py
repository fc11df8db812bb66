"""智能回访 (issue 15 item 5): last contact, its channel and the contacts of the last 7 / 30
days, kept from the contact ledger (messages sent) and completed guide tasks — the same
numbers for branches (``load_facts``), segment enrollment snapshots, segments (SQL) and the
engine's :func:`~engine.contact_policy.recency`, checked against each other on random
customers, on SQLite and PostgreSQL (the ``sessions`` fixture)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.facts import load_facts
from audiences.query import matches
from audiences.validate import parse_definition
from db.crud import contact_policy as crud
from db.models import Customer, Guide, GuideTask, Region, Store
from db.models.contact_policy import ContactLedgerEntry
from engine import ir_parts as ir
from engine.contact_policy import GUIDE_TASK, Contact, recency
from engine.effects import CustomerFacts, FactsRequest
from engine.semantics import condition_holds, condition_value

NOW = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
CHANNELS = ("sms", "wecom", "email", "coupon", "guide_task")


def _chain(sessions: sessionmaker[Session], n: int, seed: int) -> dict[str, list[Contact]]:
    """``n`` customers with random ledger rows (incl. coupons, capped rows and future ones,
    which never count) and tasks (completed or not); → each customer's counted contacts."""
    rng = random.Random(seed)
    counted: dict[str, list[Contact]] = {}
    with sessions() as s:
        s.add(Region(id="R1", name="east"))
        s.flush()
        s.add(Store(id="S1", region_id="R1", name="s", city="c"))
        s.flush()
        s.add(Guide(id="G1", store_id="S1", name="g"))
        s.flush()
        for i in range(n):
            s.add(Customer(id=f"C{i}", name=f"c{i}", store_id="S1", guide_id="G1"))
        s.flush()
        seq = 0
        for i in range(n):
            cid = f"C{i}"
            counted[cid] = []
            for _ in range(rng.choice((0, 0, 1, 2, 4, 7))):
                seq += 1
                at = NOW - timedelta(days=rng.uniform(-3, 60))
                channel = rng.choice(CHANNELS)
                if channel == "guide_task":
                    done = rng.random() < 0.7
                    s.add(
                        GuideTask(
                            id=f"T{seq}",
                            idempotency_key=f"t{seq}",
                            customer_id=cid,
                            guide_id="G1",
                            store_id="S1",
                            task_type="call",
                            title="回访",
                            status="completed" if done else "open",
                            due_at=at + timedelta(days=2),
                            created_at=at - timedelta(days=1),
                            completed_at=at if done else None,
                        )
                    )
                    if done and at <= NOW:
                        counted[cid].append(Contact(at, GUIDE_TASK, "service"))
                    continue
                outcome = "sent" if rng.random() < 0.8 else "capped"
                s.add(
                    ContactLedgerEntry(
                        decision_key=f"k{seq}",
                        customer_id=cid,
                        channel=channel,
                        category="marketing",
                        outcome=outcome,
                        at=at,
                    )
                )
                if outcome == "sent" and channel != "coupon" and at <= NOW:
                    counted[cid].append(Contact(at, channel, "marketing"))
        s.commit()
    return counted


def test_facts_snapshots_and_segments_agree_with_the_engine(
    sessions: sessionmaker[Session],
) -> None:
    counted = _chain(sessions, 40, seed=15)
    expected = {cid: recency(contacts, NOW) for cid, contacts in counted.items()}
    assert any(e.last_channel == GUIDE_TASK for e in expected.values())
    assert any(e.last_at is None for e in expected.values())
    assert any(e.contacts_7d for e in expected.values())
    ids = sorted(counted)
    with sessions() as s:
        bulk = crud.contact_recencies(session=s, customer_ids=ids, as_of=NOW)
        for cid in ids:
            one = crud.contact_recency(session=s, customer_id=cid, as_of=NOW)
            assert one == expected[cid], cid
            assert bulk[cid] == expected[cid], cid
            facts = load_facts(s, FactsRequest(cid, NOW.isoformat()))
            e = expected[cid]
            assert facts.contacts_7d == e.contacts_7d and facts.contacts_30d == e.contacts_30d
            assert facts.last_contacted_channel == e.last_channel
            assert (facts.last_contacted_at is None) == (e.last_at is None)

        def members(rule: dict[str, object]) -> set[str]:
            definition = parse_definition({"match": "all", "rules": [{"type": "field", **rule}]})
            return matches(s, definition, ids, now=NOW)

        def days(cid: str) -> int | None:
            at = expected[cid].last_at
            return None if at is None else (NOW - at) // timedelta(days=1)

        assert members({"field": "contact_days", "op": "gte", "value": 14}) == {
            c for c in ids if (d := days(c)) is not None and d >= 14
        }
        assert members({"field": "contact_days", "op": "not_exists"}) == {
            c for c in ids if days(c) is None
        }
        assert members({"field": "contacts_7d", "op": "lte", "value": 1}) == {
            c for c in ids if expected[c].contacts_7d <= 1
        }
        assert members({"field": "contacts_30d", "op": "gte", "value": 2}) == {
            c for c in ids if expected[c].contacts_30d >= 2
        }
        assert members(
            {"field": "last_contact_channel", "op": "in", "value": ["sms", "guide_task"]}
        ) == {c for c in ids if expected[c].last_channel in ("sms", "guide_task")}
        assert members({"field": "last_contact_channel", "op": "not_exists"}) == {
            c for c in ids if expected[c].last_channel is None
        }


def test_branch_conditions_read_the_recency_facts() -> None:
    facts = CustomerFacts(
        customer_id="C1",
        as_of=NOW.isoformat(),
        last_contacted_at=(NOW - timedelta(days=16, hours=3)).isoformat(),
        last_contacted_channel="wecom",
        contacts_7d=0,
        contacts_30d=3,
    )
    due = ir.MetricCond("days_since_last_contact", ir.Op.GTE, 14)
    assert condition_value(due, facts, {}) == ("days_since_last_contact", 16)
    assert condition_holds(due, 16)
    quiet = ir.MetricCond("contacts_7d", ir.Op.EQ, 0)
    assert condition_holds(quiet, condition_value(quiet, facts, {})[1])
    by = ir.LastContactChannelCond(("sms", "wecom"))
    assert condition_holds(by, condition_value(by, facts, {})[1])
    never = CustomerFacts(customer_id="C2", as_of=NOW.isoformat())
    assert condition_value(due, never, {})[1] is None
    assert not condition_holds(due, None)
    assert not condition_holds(by, condition_value(by, never, {})[1])
