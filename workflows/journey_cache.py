"""Compiled journeys by reference: what a run's input names instead of carrying.

A journey run's input used to carry the whole compiled journey (``JourneyInput.journey``,
a few KB), recorded again in every run's history and sent to the worker with every start.
New runs carry a :class:`JourneyRef` (journey id, version, content hash) and the worker
keeps each compiled version once, parsed, in this process-wide cache.

The workflow reads the cache synchronously, so the cache must hold a run's journey before
the workflow's code sees its input. Two things fill it, both outside the workflow sandbox:
``JourneyInput.new`` (the starter's process: tests, benchmarks, a single-process install)
and :class:`workflows.codec.JourneyCodec`, whose ``decode`` loads a referenced version
from the database before the activation reaches the workflow (a worker of its own). The
cache is content-addressed, so what a run reads is the same on every worker and every
replay: a pure function of the recorded reference.

Imported by the workflow through ``imports_passed_through`` (one cache per process, not
one per sandbox); stdlib and ``engine.ir`` only.
"""

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from engine.ir import CompiledJourney

#: Published versions kept parsed; the least recently used beyond this are dropped (a run
#: whose version was dropped has it loaded again by the codec before its next task).
MAX_VERSIONS = 1024


@dataclass(frozen=True)
class JourneyRef:
    """Names one published, immutable compiled journey."""

    journey_id: str
    version: int
    content_hash: str

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.version} ({self.content_hash})"

    @classmethod
    def of(cls, compiled: dict[str, Any]) -> "JourneyRef":
        """The reference of a compiled journey (``CompiledJourney.to_dict()`` form)."""
        try:
            ref = cls(compiled["journey_id"], compiled["version"], compiled["content_hash"])
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"not a compiled journey (no journey_id, version and content_hash): {exc}"
            ) from exc
        if not (
            isinstance(ref.journey_id, str)
            and isinstance(ref.version, int)
            and isinstance(ref.content_hash, str)
            and ref.content_hash
        ):
            raise ValueError(f"not a compiled journey reference: {ref!r}")
        return ref


class JourneyNotLoadedError(RuntimeError):
    """A run names a journey this process has not loaded.

    Raised in the workflow, it fails the workflow task (not the run): Temporal retries the
    task, and a worker whose data converter loads journeys (``services.temporal``) runs it.
    """

    def __init__(self, ref: JourneyRef) -> None:
        super().__init__(
            f"compiled journey {ref} is not loaded in this worker: build the worker with "
            "journeys.worker.build_worker or give its client services.temporal's data "
            "converter (its codec loads published versions from the database)"
        )
        self.ref = ref


_cache: "OrderedDict[JourneyRef, CompiledJourney]" = OrderedDict()
_lock = Lock()


def remember(compiled: dict[str, Any], ref: JourneyRef | None = None) -> JourneyRef:
    """Keep ``compiled`` (parsed once) under its reference; → the reference.

    ``ref``, when given, must name ``compiled`` (a loaded version is checked against the
    reference a run recorded). A version already kept is not replaced: the same reference
    always reads the same journey.
    """
    own = JourneyRef.of(compiled)
    if ref is not None and own != ref:
        raise ValueError(f"loaded journey {own} does not match the run's reference {ref}")
    with _lock:
        if own in _cache:
            _cache.move_to_end(own)
            return own
    journey = CompiledJourney.from_dict(compiled)  # outside the lock: parsing is the cost
    with _lock:
        _cache.setdefault(own, journey)
        _cache.move_to_end(own)
        while len(_cache) > MAX_VERSIONS:
            _cache.popitem(last=False)
    return own


def lookup(ref: JourneyRef) -> CompiledJourney | None:
    """The kept journey of ``ref``, or ``None``."""
    with _lock:
        journey = _cache.get(ref)
        if journey is not None:
            _cache.move_to_end(ref)
        return journey


def require(ref: JourneyRef) -> CompiledJourney:
    """The kept journey of ``ref``; :class:`JourneyNotLoadedError` when there is none."""
    journey = lookup(ref)
    if journey is None:
        raise JourneyNotLoadedError(ref)
    return journey


def forget_all() -> None:
    """Empty the cache (tests: a worker of its own, as in another process)."""
    with _lock:
        _cache.clear()
