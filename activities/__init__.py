"""Side-effect activities of journey runs (Temporal activities over the database and
message providers). ``JourneyActivities`` is the one class a worker registers."""

from activities.journey_activities import JourneyActivities, all_activities
from activities.providers import (
    Delivery,
    MessageProvider,
    MessageRejectedError,
    OutboundMessage,
    OutboxProvider,
    ProviderRegistry,
    TransientDeliveryError,
    WebhookProvider,
    default_providers,
    sign,
)
from activities.rendering import TemplateRenderError, parse_template, render

__all__ = [
    "Delivery",
    "JourneyActivities",
    "MessageProvider",
    "MessageRejectedError",
    "OutboundMessage",
    "OutboxProvider",
    "ProviderRegistry",
    "TemplateRenderError",
    "TransientDeliveryError",
    "WebhookProvider",
    "all_activities",
    "default_providers",
    "parse_template",
    "render",
    "sign",
]
