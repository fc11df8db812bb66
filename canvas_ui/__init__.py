"""Journey Canvas web UI: the drag-and-drop journey editor, its pages and JSON API.

``create_app`` is the public entry point (``uvicorn --factory canvas_ui:create_app``).
"""

from canvas_ui.app import create_app

__all__ = ["create_app"]
