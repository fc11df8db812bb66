"""All tables. Importing this package registers every table on ``SQLModel.metadata``."""

from db.models._base import UTCDateTime, utcnow
from db.models.coupons import (
    CouponTemplate,
    CouponTemplateBase,
    CouponTemplateCreate,
    CouponTemplatePublic,
    IssuedCoupon,
)
from db.models.customers import (
    MEMBER_LEVELS,
    RFM_CLASSES,
    Customer,
    CustomerBase,
    CustomerCreate,
    CustomerEvent,
    CustomerEventBase,
    CustomerEventCreate,
    CustomerEventPublic,
    CustomerPublic,
    CustomerUpdate,
    Order,
    OrderBase,
    OrderCreate,
    OrderPublic,
    RfmBaseline,
)
from db.models.journeys import (
    JOURNEY_STATUSES,
    RUN_STATUSES,
    Journey,
    JourneyBase,
    JourneyCreate,
    JourneyListItem,
    JourneyPublic,
    JourneyRun,
    JourneyUpdate,
    JourneyVersion,
)
from db.models.messages import MESSAGE_STATUSES, OutboxMessage
from db.models.org import GUIDE_ROLES, Guide, GuidePublic, Region, Store, StorePublic
from db.models.tasks import (
    NOTICE_KINDS,
    TASK_STATUSES,
    GuideTask,
    GuideTaskBase,
    GuideTaskPublic,
    TaskNotice,
)

__all__ = [
    "GUIDE_ROLES",
    "JOURNEY_STATUSES",
    "MEMBER_LEVELS",
    "MESSAGE_STATUSES",
    "NOTICE_KINDS",
    "RFM_CLASSES",
    "RUN_STATUSES",
    "TASK_STATUSES",
    "CouponTemplate",
    "CouponTemplateBase",
    "CouponTemplateCreate",
    "CouponTemplatePublic",
    "Customer",
    "CustomerBase",
    "CustomerCreate",
    "CustomerEvent",
    "CustomerEventBase",
    "CustomerEventCreate",
    "CustomerEventPublic",
    "CustomerPublic",
    "CustomerUpdate",
    "Guide",
    "GuidePublic",
    "GuideTask",
    "GuideTaskBase",
    "GuideTaskPublic",
    "IssuedCoupon",
    "Journey",
    "JourneyBase",
    "JourneyCreate",
    "JourneyListItem",
    "JourneyPublic",
    "JourneyRun",
    "JourneyUpdate",
    "JourneyVersion",
    "Order",
    "OrderBase",
    "OrderCreate",
    "OrderPublic",
    "OutboxMessage",
    "Region",
    "RfmBaseline",
    "Store",
    "StorePublic",
    "TaskNotice",
    "UTCDateTime",
    "utcnow",
]

# --- user templates (issue 4)
from db.models.user_templates import (  # noqa: E402
    UserTemplate,
    UserTemplateBase,
    UserTemplateCreate,
    UserTemplatePublic,
    UserTemplateUpdate,
)

__all__ += [
    "UserTemplate",
    "UserTemplateBase",
    "UserTemplateCreate",
    "UserTemplatePublic",
    "UserTemplateUpdate",
]
