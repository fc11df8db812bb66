"""Web-app fixtures (see harness.py)."""

from tests.canvas_ui.harness import (  # noqa: F401 - fixtures
    canvas_app,
    canvas_db_template,
    canvas_settings,
    client,
)
