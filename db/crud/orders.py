"""Orders, and the purchase dates they move on the customer's profile."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.crud._util import aware, read_back
from db.crud.bindings import guide_at
from db.errors import NotFoundError
from db.models import Customer, Order, OrderCreate


def create_order(*, session: Session, order_create: OrderCreate) -> Order:
    """Insert an order and move the customer's first/last purchase dates.

    The order carries the guide the customer was bound to at ``created_at`` (the binding
    history; a late-arriving order gets the guide of its own moment), unless the caller
    gave ``bound_guide_id``.

    RFM scores are not touched here: call :func:`db.rfm.rescore_customer` when the class
    must be fresh immediately (the nightly full recompute catches up otherwise).
    """
    customer = session.get(Customer, order_create.customer_id)
    if customer is None:
        raise NotFoundError("customer", order_create.customer_id)
    order = Order.model_validate(order_create)
    at = aware(order.created_at)
    if order.bound_guide_id is None and at is not None:
        order.bound_guide_id = guide_at(session=session, customer_id=customer.id, at=at)
    first, last = aware(customer.first_purchase_at), aware(customer.last_purchase_at)
    if at is not None:
        if first is None or at < first:
            customer.first_purchase_at = at
        if last is None or at > last:
            customer.last_purchase_at = at
    session.add(order)
    session.add(customer)
    session.commit()
    read_back(session, order)
    return order


def list_orders(*, session: Session, customer_id: str, limit: int = 50) -> list[Order]:
    """The customer's orders, newest first."""
    stmt = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(col(Order.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))
