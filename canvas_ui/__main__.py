"""``python -m canvas_ui``: serve the web app as ``journeys web`` does."""

from __future__ import annotations

import uvicorn

from canvas_ui.app import create_app
from canvas_ui.serving import web_config
from settings import get_settings


def main() -> None:
    """Run the app (``JOURNEYS_WEB_HOST`` / ``JOURNEYS_WEB_PORT``; uvicorn configured by
    :func:`canvas_ui.serving.web_config`: trusted proxies, idle connections, graceful stop)."""
    settings = get_settings()
    uvicorn.Server(web_config(settings, create_app(settings))).run()


if __name__ == "__main__":
    main()
