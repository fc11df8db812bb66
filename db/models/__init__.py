"""All tables. Importing this package registers every table on ``SQLModel.metadata``."""

from db.models._base import UTCDateTime, utcnow
from db.models.accounts import ACCOUNT_ROLES, UserAccount, UserAccountPublic, UserSession
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
    CustomerGuideBinding,
    CustomerPublic,
    CustomerUpdate,
    Order,
    OrderBase,
    OrderCreate,
    OrderPublic,
    RfmBaseline,
)
from db.models.deliveries import EventDelivery
from db.models.experiments import JourneyRunVariant
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
    NodeVisit,
)
from db.models.messages import (
    FINAL_STATUSES,
    MESSAGE_STATUSES,
    OutboxMessage,
    ProviderRateBucket,
)
from db.models.org import (
    GUIDE_ROLES,
    OVERFLOW_POLICIES,
    Guide,
    GuidePublic,
    Region,
    Store,
    StorePublic,
)
from db.models.points import PointsEntry
from db.models.segments import (
    ENROLLMENT_STATUSES,
    ENROLLMENT_TRIGGERS,
    CustomerMetrics,
    JourneyEntryLimits,
    Segment,
    SegmentBase,
    SegmentCreate,
    SegmentEnrollment,
    SegmentEnrollmentPublic,
    SegmentPublic,
)
from db.models.tasks import (
    ASSIGN_REASONS,
    CONTACT_CHANNELS,
    NOTICE_KINDS,
    TASK_STATUSES,
    GuideTask,
    GuideTaskBase,
    GuideTaskPublic,
    TaskChase,
    TaskContact,
    TaskNotice,
)

__all__ = [
    "ACCOUNT_ROLES",
    "ASSIGN_REASONS",
    "CONTACT_CHANNELS",
    "GUIDE_ROLES",
    "JOURNEY_STATUSES",
    "MEMBER_LEVELS",
    "FINAL_STATUSES",
    "MESSAGE_STATUSES",
    "NOTICE_KINDS",
    "OVERFLOW_POLICIES",
    "RFM_CLASSES",
    "RUN_STATUSES",
    "TASK_STATUSES",
    "EventDelivery",
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
    "CustomerGuideBinding",
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
    "JourneyRunVariant",
    "JourneyUpdate",
    "JourneyVersion",
    "NodeVisit",
    "Order",
    "OrderBase",
    "OrderCreate",
    "OrderPublic",
    "OutboxMessage",
    "ProviderRateBucket",
    "Region",
    "RfmBaseline",
    "Store",
    "StorePublic",
    "TaskChase",
    "TaskContact",
    "TaskNotice",
    "UTCDateTime",
    "UserAccount",
    "UserAccountPublic",
    "UserSession",
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

# audiences (segments)
__all__ += [
    "ENROLLMENT_STATUSES",
    "ENROLLMENT_TRIGGERS",
    "CustomerMetrics",
    "PointsEntry",
    "JourneyEntryLimits",
    "Segment",
    "SegmentBase",
    "SegmentCreate",
    "SegmentEnrollment",
    "SegmentEnrollmentPublic",
    "SegmentPublic",
]

# login throttling (issue 12)
from db.models.login_attempts import LoginAttempt  # noqa: E402

__all__ += ["LoginAttempt"]

# maintained journey results (issue 14)
from db.models.results import (  # noqa: E402
    JourneyDayNode,
    JourneyDayStat,
    JourneyDayVariant,
    JourneyRunResult,
    OrderClaim,
    ResultsState,
)

__all__ += [
    "JourneyDayNode",
    "JourneyDayStat",
    "JourneyDayVariant",
    "JourneyRunResult",
    "OrderClaim",
    "ResultsState",
]

# contact policy (issue 15)
from db.models.contact_policy import (  # noqa: E402
    ContactLedgerEntry,
    ContactPolicyRow,
    PolicyChange,
)

__all__ += ["ContactLedgerEntry", "ContactPolicyRow", "PolicyChange"]

# priority groups (issue 15 item 3)
from db.models.priority_groups import (  # noqa: E402
    GROUP_POLICIES,
    JourneyGroup,
    JourneyGroupMember,
    JourneyGroupSeat,
)

__all__ += ["GROUP_POLICIES", "JourneyGroup", "JourneyGroupMember", "JourneyGroupSeat"]

# per-channel opt-outs (issue 16)
from db.models.opt_outs import OPT_OUT_SOURCES, CustomerChannelOptOut  # noqa: E402

__all__ += ["OPT_OUT_SOURCES", "CustomerChannelOptOut"]

# audit log and launch approval (issue 17)
from db.models.audit import (  # noqa: E402
    APPROVAL_STATUSES,
    AUDIT_ACTIONS,
    AUDIT_OBJECT_TYPES,
    AuditEntry,
    JourneyApproval,
)

__all__ += [
    "APPROVAL_STATUSES",
    "AUDIT_ACTIONS",
    "AUDIT_OBJECT_TYPES",
    "AuditEntry",
    "JourneyApproval",
]

# what-if backtests (issue 17 item 1)
from db.models.backtests import BACKTEST_STATUSES, JourneyBacktest  # noqa: E402

__all__ += ["BACKTEST_STATUSES", "JourneyBacktest"]

# WeCom contact events (issue 16)
from db.models.tasks import PUSH_STATUSES  # noqa: E402
from db.models.wecom import CONTACT_CHANGE_TYPES, WeComContactEvent  # noqa: E402

__all__ += ["CONTACT_CHANGE_TYPES", "PUSH_STATUSES", "WeComContactEvent"]

# moving waiting customers to a newer version (issue 17 item 3)
from db.models.version_moves import MOVE_STATUSES, JourneyVersionMove  # noqa: E402

__all__ += ["MOVE_STATUSES", "JourneyVersionMove"]
