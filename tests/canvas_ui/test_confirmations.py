"""Every weighty button asks in the app's own dialog (``data-app-confirm``, static/app.js),
never through htmx's ``hx-confirm`` — the browser's confirm() names the site, blocks the page
and cannot say what its button does."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "canvas_ui" / "templates"


def test_no_template_asks_with_the_browsers_confirm() -> None:
    found = [
        f"{path.name}:{n}"
        for path in sorted(TEMPLATES.glob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "hx-confirm" in line
    ]
    assert found == []


def test_each_app_confirmation_names_its_buttons() -> None:
    """The dialog's buttons say what they do (``data-ok-label``), not OK / Cancel."""
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text()
        for match in re.finditer(r"data-app-confirm=", text):
            tail = text[match.start() : match.start() + 800]
            assert "data-ok-label=" in tail and "data-cancel-label=" in tail, path.name
