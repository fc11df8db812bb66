"""Diagnostics: everything the compiler has to say about a document, collected, never raised."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Stable diagnostic codes (the canvas and the tests key on them)."""

    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_NODES = "TOO_MANY_NODES"
    UNKNOWN_KIND = "UNKNOWN_KIND"
    INVALID_CONFIG = "INVALID_CONFIG"
    INVALID_EDGE = "INVALID_EDGE"
    DUPLICATE_NODE_ID = "DUPLICATE_NODE_ID"
    DUPLICATE_EDGE_ID = "DUPLICATE_EDGE_ID"
    NO_ENTRY = "NO_ENTRY"
    MULTIPLE_ENTRIES = "MULTIPLE_ENTRIES"
    EDGE_UNKNOWN_NODE = "EDGE_UNKNOWN_NODE"
    EDGE_UNKNOWN_PORT = "EDGE_UNKNOWN_PORT"
    EDGE_INTO_ENTRY = "EDGE_INTO_ENTRY"
    DUPLICATE_PORT_EDGE = "DUPLICATE_PORT_EDGE"
    MISSING_EDGE = "MISSING_EDGE"
    UNREACHABLE_NODE = "UNREACHABLE_NODE"
    CYCLE_WITHOUT_WAIT = "CYCLE_WITHOUT_WAIT"
    LOOP_WITHOUT_EXIT = "LOOP_WITHOUT_EXIT"
    INVALID_WAIT = "INVALID_WAIT"
    INVALID_WINDOW = "INVALID_WINDOW"
    EMPTY_RULES = "EMPTY_RULES"
    EMPTY_RULE = "EMPTY_RULE"
    DUPLICATE_PORT_ID = "DUPLICATE_PORT_ID"
    RESERVED_PORT_ID = "RESERVED_PORT_ID"
    SPLIT_WEIGHTS = "SPLIT_WEIGHTS"
    UNKNOWN_COUPON_TEMPLATE = "UNKNOWN_COUPON_TEMPLATE"
    UNKNOWN_RFM_CLASS = "UNKNOWN_RFM_CLASS"
    UNKNOWN_LIFECYCLE_STAGE = "UNKNOWN_LIFECYCLE_STAGE"
    INVALID_CONDITION = "INVALID_CONDITION"
    METRIC_AS_ATTRIBUTE = "METRIC_AS_ATTRIBUTE"
    TEMPLATE_SYNTAX = "TEMPLATE_SYNTAX"
    SINGLE_BRACE_PLACEHOLDER = "SINGLE_BRACE_PLACEHOLDER"
    CONTEXT_NOT_UPSTREAM = "CONTEXT_NOT_UPSTREAM"
    CONTEXT_WRONG_KIND = "CONTEXT_WRONG_KIND"
    CONTEXT_NOT_ON_EVERY_PATH = "CONTEXT_NOT_ON_EVERY_PATH"
    WEBHOOK_URL_REQUIRED = "WEBHOOK_URL_REQUIRED"
    WECHAT_SUBSCRIBE_CONTENT = "WECHAT_SUBSCRIBE_CONTENT"
    INVALID_FILTER = "INVALID_FILTER"
    INVALID_TIMEZONE = "INVALID_TIMEZONE"
    INVALID_GOAL_WINDOW = "INVALID_GOAL_WINDOW"
    #: warning: a marketing action reachable at any hour (issue 15 item 4)
    ACTION_WITHOUT_WINDOW = "ACTION_WITHOUT_WINDOW"
    # from publishing (services.segments): the entry's audience
    UNKNOWN_SEGMENT = "UNKNOWN_SEGMENT"
    EMPTY_AUDIENCE = "EMPTY_AUDIENCE"
    ENROLLMENT_NOT_STARTED = "ENROLLMENT_NOT_STARTED"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: what is wrong, where (node and edge ids on the canvas) and how to fix it.

    ``params`` carries the specifics of the finding as data (the port, the field, the
    placeholder and its fix …), so a UI can say the same in its own language.
    """

    code: Code
    message: str
    node_ids: tuple[str, ...] = ()
    edge_ids: tuple[str, ...] = ()
    hint: str = ""
    severity: Severity = Severity.ERROR
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = self.code.value
        data["severity"] = self.severity.value
        data["node_ids"] = list(self.node_ids)
        data["edge_ids"] = list(self.edge_ids)
        data["params"] = dict(self.params)
        return data


@dataclass
class Diagnostics:
    """A collector the passes append to; order of discovery is kept."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(
        self,
        code: Code,
        message: str,
        *,
        nodes: Iterable[str] = (),
        edges: Iterable[str] = (),
        hint: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.items.append(
            Diagnostic(code, message, tuple(nodes), tuple(edges), hint, params=dict(params or {}))
        )

    def warning(
        self,
        code: Code,
        message: str,
        *,
        nodes: Iterable[str] = (),
        edges: Iterable[str] = (),
        hint: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.items.append(
            Diagnostic(
                code,
                message,
                tuple(nodes),
                tuple(edges),
                hint,
                Severity.WARNING,
                dict(params or {}),
            )
        )

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` for the closest choices, or a list of the valid ones."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    if options and len(options) <= 12:
        return "valid values: " + ", ".join(options)
    return ""
