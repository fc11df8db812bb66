"""The six built-in templates, in gallery order (the customer lifecycle: acquire → win back)."""

from templates_lib.builtin import (
    birthday_care,
    coupon_expiry,
    dormant_wakeup,
    lead_activation,
    second_purchase,
    vip_churn,
)

BUILTINS = (
    lead_activation.TEMPLATE,
    second_purchase.TEMPLATE,
    vip_churn.TEMPLATE,
    birthday_care.TEMPLATE,
    coupon_expiry.TEMPLATE,
    dormant_wakeup.TEMPLATE,
)

__all__ = ["BUILTINS"]
