"""The fields a :class:`~audiences.rules.FieldRule` may name, with their value kind and the
operators that make sense for them. The builder UI draws its pickers from this table; the
validator and the SQL compiler key on it.

Value kinds:

* ``choice`` — one of a known list (member level, RFM class, gender);
* ``ref`` — an id of a store / region / guide (choices come from the database);
* ``text`` — free text (``attributes.<key>``);
* ``count`` / ``amount`` — a non-negative integer / number;
* ``days`` — whole days since a moment (R, days since last store visit, …): ``r_days gte 90``
  means "last purchase 90 or more whole days ago"; a customer without that moment never
  matches a comparison (use ``exists`` / ``not_exists``);
* ``month`` — 1..12, or ``"this_month"`` / ``"next_month"`` resolved at evaluation time in
  the chain's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audiences.lifecycle import STAGES
from audiences.rules import Op
from engine.document_parts import CONTACT_CHANNELS
from engine.metrics import STORED_METRICS
from engine.rfm import RFM_CLASS_NAMES

MEMBER_LEVELS = ("regular", "silver", "gold", "diamond")
GENDERS = ("F", "M")
RELATIVE_MONTHS = ("this_month", "next_month")
ATTRIBUTE_PREFIX = "attributes."


class Kind(StrEnum):
    CHOICE = "choice"
    REF = "ref"
    TEXT = "text"
    COUNT = "count"
    AMOUNT = "amount"
    DAYS = "days"
    MONTH = "month"


_SET_OPS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN)
_PRESENCE = (Op.EXISTS, Op.NOT_EXISTS)
_NUMERIC = (Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN)

#: Operators per value kind.
OPS: dict[Kind, tuple[Op, ...]] = {
    Kind.CHOICE: _SET_OPS + _PRESENCE,
    Kind.REF: _SET_OPS + _PRESENCE,
    Kind.TEXT: _SET_OPS + (Op.CONTAINS,) + _PRESENCE,
    Kind.COUNT: _NUMERIC,
    Kind.AMOUNT: _NUMERIC,
    Kind.DAYS: _NUMERIC + _PRESENCE,
    Kind.MONTH: _SET_OPS + _PRESENCE,
}


@dataclass(frozen=True)
class FieldSpec:
    """One rule field: its name in rules, English label (translated by the UI) and kind."""

    name: str
    label: str
    kind: Kind
    group: str
    choices: tuple[str, ...] = ()
    #: ``ref`` fields: which table the ids point at ("store", "region", "guide").
    ref: str = ""
    #: A number some customers have none of (no purchase cycle yet): ``exists`` /
    #: ``not_exists`` apply too.
    nullable: bool = False

    @property
    def ops(self) -> tuple[Op, ...]:
        ops = OPS[self.kind]
        return ops + _PRESENCE if self.nullable and Op.EXISTS not in ops else ops


FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("member_level", "Member level", Kind.CHOICE, "profile", MEMBER_LEVELS),
        FieldSpec("gender", "Gender", Kind.CHOICE, "profile", GENDERS),
        FieldSpec("birthday_month", "Birthday month", Kind.MONTH, "profile"),
        FieldSpec("store_id", "Store", Kind.REF, "profile", ref="store"),
        FieldSpec("region_id", "Region", Kind.REF, "profile", ref="region"),
        FieldSpec("guide_id", "Bound guide", Kind.REF, "profile", ref="guide"),
        FieldSpec("member_days", "Days since joining", Kind.DAYS, "profile"),
        FieldSpec("rfm_class", "RFM class", Kind.CHOICE, "value", RFM_CLASS_NAMES),
        FieldSpec("r_days", "R: days since last purchase", Kind.DAYS, "value"),
        FieldSpec("f_count", "F: purchases in the RFM period", Kind.COUNT, "value"),
        FieldSpec("m_amount", "M: spend in the RFM period", Kind.AMOUNT, "value"),
        FieldSpec("l_days", "L: days between first and last purchase", Kind.COUNT, "value"),
        FieldSpec("first_purchase_days", "Days since first purchase", Kind.DAYS, "value"),
        # the stored customer metrics (engine.metrics), read from customer_metrics
        *(
            FieldSpec(
                m.name,
                m.label,
                Kind.COUNT if m.unit == "count" else Kind.AMOUNT,
                m.group,
                nullable=m.empty is None,
            )
            for m in STORED_METRICS
        ),
        FieldSpec("lifecycle_stage", "Lifecycle stage", Kind.CHOICE, "value", STAGES),
        FieldSpec("points_balance", "Points balance", Kind.COUNT, "value"),
        FieldSpec("store_visit_days", "Days since last store visit", Kind.DAYS, "behaviour"),
        FieldSpec("browse_days", "Days since last browse", Kind.DAYS, "behaviour"),
        # 智能回访 (audiences.contacts): messages sent and guide contacts completed, across
        # every journey
        FieldSpec("contact_days", "Days since last contact", Kind.DAYS, "contact"),
        FieldSpec(
            "last_contact_channel", "Last contacted by", Kind.CHOICE, "contact", CONTACT_CHANNELS
        ),
        FieldSpec("contacts_7d", "Contacts in the last 7 days", Kind.COUNT, "contact"),
        FieldSpec("contacts_30d", "Contacts in the last 30 days", Kind.COUNT, "contact"),
    )
}

#: Fields computed from the contact ledger and guide tasks (audiences.contacts).
CONTACT_FIELDS = frozenset({"contact_days", "last_contact_channel", "contacts_7d", "contacts_30d"})

#: Fields read from the ``customer_metrics`` table (the compiler joins it only when needed).
METRIC_FIELDS = frozenset(
    {"store_visit_days", "browse_days", "lifecycle_stage", *(m.name for m in STORED_METRICS)}
)

#: ``attributes.<key>``: a key of the customer's custom attributes, compared as text.
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,40}$"


def attribute_spec(name: str) -> FieldSpec:
    """The spec of an ``attributes.<key>`` field."""
    key = name[len(ATTRIBUTE_PREFIX) :]
    return FieldSpec(name, f"Attribute {key}", Kind.TEXT, "profile")


#: Longest window an event or coupon rule may look at (two years, as branch nodes do).
MAX_WINDOW_DAYS = 730
