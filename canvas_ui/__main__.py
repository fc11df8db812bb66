"""``python -m canvas_ui``: serve the web app as ``journeys web`` does."""

from __future__ import annotations

from journeys.cli import web


def main() -> None:
    """Run the app (``JOURNEYS_WEB_HOST`` / ``JOURNEYS_WEB_PORT``; uvicorn configured by
    ``journeys.cli.web_config``: trusted proxies, idle connections, graceful stop)."""
    web(log_level="info")


if __name__ == "__main__":
    main()
