"""``python -m canvas_ui``: serve the web app as ``journeys web`` does."""

from __future__ import annotations

from canvas_ui.app import create_app
from canvas_ui.serving import serve
from settings import get_settings


def main() -> None:
    """Run the app (``JOURNEYS_WEB_HOST`` / ``JOURNEYS_WEB_PORT``; uvicorn configured by
    :func:`canvas_ui.serving.web_config`: trusted proxies, idle connections, graceful stop;
    ``JOURNEYS_WEB_PROCESSES`` processes)."""
    settings = get_settings()
    serve(settings, create_app(settings))


if __name__ == "__main__":
    main()
