"""``python -m canvas_ui``: serve the web app with uvicorn on the configured host/port."""

from __future__ import annotations

import uvicorn

from settings import get_settings


def main() -> None:
    """Run the app (``JOURNEYS_WEB_HOST`` / ``JOURNEYS_WEB_PORT``)."""
    settings = get_settings()
    uvicorn.run(
        "canvas_ui:create_app", factory=True, host=settings.web_host, port=settings.web_port
    )


if __name__ == "__main__":
    main()
