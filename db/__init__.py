"""The data layer: tables (:mod:`db.models`), persistence functions (:mod:`db.crud`),
engines and sessions, migrations, RFM scoring and demo data.

Everything other packages call is re-exported here; table objects stay out of engine/ and
workflows/.
"""

from db import crud, models
from db.errors import (
    CouponStockExhaustedError,
    CouponTemplateInactiveError,
    DbError,
    ImmutableVersionError,
    InvalidStatusError,
    NotFoundError,
    RunAlreadyRunningError,
    TaskClosedError,
)
from db.migrate import current_revision, head_revision, upgrade
from db.rfm import recompute_all, rescore_customer
from db.seed import SeedSummary, seed_demo
from db.session import (
    SessionFactory,
    begin_write,
    make_engine,
    session_factory,
    writer,
)

__all__ = [
    "CouponStockExhaustedError",
    "CouponTemplateInactiveError",
    "DbError",
    "ImmutableVersionError",
    "InvalidStatusError",
    "NotFoundError",
    "RunAlreadyRunningError",
    "SeedSummary",
    "SessionFactory",
    "TaskClosedError",
    "begin_write",
    "crud",
    "current_revision",
    "head_revision",
    "make_engine",
    "models",
    "recompute_all",
    "rescore_customer",
    "seed_demo",
    "session_factory",
    "writer",
    "upgrade",
]
