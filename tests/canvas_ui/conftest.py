"""Web-app fixtures (see harness.py)."""

from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
