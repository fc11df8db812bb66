"""The settings of :mod:`settings`, under their old name (``from journeys.settings import
Settings`` keeps working); new code imports the leaf package :mod:`settings` itself."""

from settings import DEMO_EVENTS_API_KEY, ROOT, Settings, get_settings

__all__ = ["DEMO_EVENTS_API_KEY", "ROOT", "Settings", "get_settings"]
