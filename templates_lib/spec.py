"""What a journey template is: bilingual metadata, parameters, and a document builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from templates_lib.params import Param, ParamIssue, Text

#: Builds the journey document from resolved parameter values.
Build = Callable[[Mapping[str, Any]], dict[str, Any]]
#: Rules across parameters ("the offer comes after the light-care phase").
CrossCheck = Callable[[Mapping[str, Any]], list[ParamIssue]]


@dataclass(frozen=True)
class Template:
    """A built-in journey template."""

    id: str
    name: Text
    description: Text
    goal: Text  # the business goal, in the marketer's words
    audience: Text  # who enters, and how
    category: str  # "acquire" | "develop" | "retain" | "win_back"
    params: tuple[Param, ...]
    build: Build
    cross_check: CrossCheck | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}
