"""The check every web and worker process makes before it starts: outside the local demo
(``JOURNEYS_DEMO``), no secret at its public demo value and no demo login that still opens
with the demo password. The defaults are in the source code and the README, so an install
that kept them signs sessions, CSRF tokens and webhooks with a key anyone can read.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect
from sqlmodel import Session

from settings import Settings


class UnsafeStartError(RuntimeError):
    """Refusal to start: ``problems`` names each default still in place and its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "Refusing to start outside the local demo (JOURNEYS_DEMO is not true):\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nFor the local demo on your own machine set JOURNEYS_DEMO=true (make run does)."
        )


def check_safe_to_start(settings: Settings, engine: Engine | None = None) -> None:
    """Raise :class:`UnsafeStartError` unless this is the demo or nothing unsafe is left.

    ``engine``: where to look for demo logins (none looked for without it, or before the
    database is migrated).
    """
    if settings.demo:
        return
    problems = []
    unsafe = settings.unsafe_defaults()
    if unsafe:
        problems.append(
            f"{', '.join(unsafe)} {'is' if len(unsafe) == 1 else 'are'} unset, empty or the "
            "public demo value: set each to a long random secret, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))' "
            "(JOURNEYS_EVENTS_API_KEY may also be left empty: then only signed-in users post "
            "events)"
        )
    if engine is not None:
        demo = _demo_logins(engine)
        if demo:
            problems.append(
                f"the demo accounts {', '.join(demo)} still sign in with the demo password: "
                "switch them off with 'journeys disable-demo-logins'"
            )
    if problems:
        raise UnsafeStartError(problems)


def _demo_logins(engine: Engine) -> list[str]:
    from services.accounts import demo_accounts

    if not inspect(engine).has_table("user_account"):
        return []  # not migrated yet: no accounts at all
    with Session(engine) as session:
        return demo_accounts(session=session)
