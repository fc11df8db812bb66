"""UI translations: Babel gettext catalogs (zh-CN, en) compiled in memory from the ``.po`` files.

The ``.po`` files beside this module are the source of truth (``pybabel extract`` with
``babel.cfg`` → ``messages.pot``; ``pybabel update``). They are compiled to ``.mo`` bytes in
memory at import, so no build step is needed. The active locale of a request lives in a
context variable set by :class:`LocaleMiddleware`; templates, summaries and forms all call
:func:`gettext` and so follow it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

HERE = Path(__file__).resolve().parent
DOMAIN = "messages"
#: Supported UI locales, first is the default. Keys are what the cookie and templates use.
LOCALES: dict[str, str] = {"zh-CN": "简体中文", "en": "English"}
DEFAULT_LOCALE = "zh-CN"
COOKIE_NAME = "journeys_lang"

_current: ContextVar[str] = ContextVar("journeys_locale", default=DEFAULT_LOCALE)


def _catalog_dir(locale: str) -> str:
    return locale.replace("-", "_")


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale`` (built once from its ``.po`` file)."""
    po_path = HERE / _catalog_dir(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=_catalog_dir(locale))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def current_locale() -> str:
    """The locale of the request being served."""
    return _current.get()


def gettext(message: str) -> str:
    """Translate ``message`` into the current locale."""
    return translations(_current.get()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Plural-aware translation into the current locale."""
    return translations(_current.get()).ungettext(singular, plural, n)


def lazy(message: str) -> str:
    """Mark a module-level string for extraction; translate it later with :func:`gettext`."""
    return message


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Run a block in ``locale`` (tests, background rendering)."""
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def negotiate(
    cookie: str | None, accept_language: str | None, default: str = DEFAULT_LOCALE
) -> str:
    """The locale from the switch's cookie, else the browser's Accept-Language, else
    ``default``."""
    if cookie in LOCALES:
        return str(cookie)
    for lang, _q in _parse_accept_language(accept_language or ""):
        low = lang.lower()
        if low.startswith("zh"):
            return "zh-CN"
        if low.startswith("en"):
            return "en"
    return default


def _parse_accept_language(header: str) -> list[tuple[str, float]]:
    items: list[tuple[str, float]] = []
    for part in header.split(","):
        lang, _, params = part.strip().partition(";")
        if not lang:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        items.append((lang, q))
    return sorted(items, key=lambda item: item[1], reverse=True)


def set_locale(locale: str) -> object:
    """Set the current locale; returns the token for :func:`reset_locale`."""
    return _current.set(locale)


def reset_locale(token: object) -> None:
    """Undo :func:`set_locale`."""
    _current.reset(token)  # type: ignore[arg-type]
