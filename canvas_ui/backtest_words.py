"""The backtest's sentences in the viewer's language: the service's input problems (it
raises them in English with ``%(name)s`` slots) and the notes of a report."""

from __future__ import annotations

from canvas_ui.i18n import gettext, lazy
from services.backtest import BacktestInputError

#: every sentence :class:`services.backtest.BacktestInputError` is raised with
PROBLEMS = (
    lazy("No journey with id %(id)s."),
    lazy(
        "The journey has no live version to compare with: publish it first, or name a "
        "baseline version."
    ),
    lazy("This journey has no version %(version)s."),
    lazy("Write 'draft' or a version number, e.g. 2."),
    lazy("The last day comes before the first."),
    lazy("A backtest reads at most %(days)s days."),
    lazy("Choose 1 to %(days)s days."),
    lazy("Choose 'entered' or 'segment'."),
    lazy("The journey's entry is not a segment: name a saved segment."),
    lazy("No segment with id %(id)s."),
    lazy("Segment %(id)s cannot be read: %(problem)s"),
    lazy("The segment has no members, so there is nobody to backtest."),
    lazy(
        "Nobody has entered v%(version)s yet, so there is no history to backtest on: "
        "wait for customers to enter, or backtest a segment."
    ),
    lazy(
        "Nobody entered v%(version)s between %(first)s and %(last)s; its first customer "
        "entered on %(entered)s. Choose a period that includes it."
    ),
    lazy("No backtest %(id)s of this journey."),
    lazy("Nobody is in this backtest's period any more: start a new backtest."),
)

#: what a report's ``notes`` say
NOTES = {
    "behaviour": lazy(
        "Customers behave as they really did under the live version: the backtest shows what "
        "each version would send, issue and assign, not how customers would have reacted. "
        "Conversions move only where the goal's definition differs."
    ),
    "templates": lazy(
        "Message and task texts are not rendered in a backtest: a template that fails to "
        "render for a customer takes its failure path live, not here (a test run shows it)."
    ),
    "beyond_history": lazy(
        "Some runs wait past the end of recorded history: they are counted as still waiting "
        "at the step they reached (what came after is not known yet)."
    ),
}


def problem(exc: BacktestInputError) -> str:
    """``exc``'s sentence in the current language."""
    return gettext(exc.template) % exc.params


def note(key: str) -> str:
    """A report note in the current language."""
    return gettext(NOTES[key]) if key in NOTES else key
