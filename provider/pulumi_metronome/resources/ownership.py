"""One Metronome object is held by one resource at most: who holds what, per provider process.

One provider process serves one whole Pulumi operation (a preview, an update, a refresh,
a destroy), with up to four calls at once, so a process-wide, lock-guarded record of the
ids each resource touched is enough to catch, within that operation:

- two resources of the stack holding one id (``diff`` or ``read`` of the same id by two
  resources): an ``OwnershipConflict`` at preview, naming the id and both resources;
- adoption taking an id another resource already holds (seen by ``diff``/``read``, made by
  ``create`` or adopted earlier in this run): an ``AdoptionConflict``, never a shared id.
  An id held by the *same* resource is skipped instead: that is a replacement, whose new
  object must not "adopt" its predecessor;
- a resource renamed without an alias: the engine creates the new resource (which adopts
  the old one's object) before it deletes the old one; ``handed_over`` tells that ``delete``
  to leave the object alone, so the rename ends with the object live and held once.

Resources are told apart by their Pulumi resource name (an input the resource classes add,
``RESOURCE_KEY``). State written before that input existed has no name; such resources are
never reported as conflicting, and their delete archives as before.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..errors import AdoptionConflict, OwnershipConflict

Via = Literal["diff", "read", "create"]


@dataclass
class _Record:
    #: Resource name per way we saw the id (``None``: a resource without a recorded name).
    seen: dict[str, str | None] = field(default_factory=dict)
    adopted_by: str | None = None
    adopted: bool = False


class Ownership:
    """The ids of one object kind (e.g. billable metrics) held by this process's resources."""

    def __init__(self, noun: str) -> None:
        #: How the object is named in messages, e.g. "billable metric".
        self.noun = noun
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def see(self, id_: str, resource: str | None, via: Via, label: str = "") -> None:
        """``resource`` holds ``id_`` (seen by ``via``); refuse if another resource was seen
        holding it the same way. ``diff`` and ``read`` are kept apart: a resource renamed
        with an alias is read under its stored name and diffed under its new one."""
        with self._lock:
            record = self._records.setdefault(id_, _Record())
            other = record.seen.get(via)
            if resource is not None and other is not None and other != resource:
                what = f"{self.noun} {label!r} ({id_})" if label else f"{self.noun} {id_}"
                raise OwnershipConflict(
                    f"resources {other!r} and {resource!r} both hold {what}; a Metronome object "
                    "can be held by one resource only. Remove one of the two declarations (and "
                    f"`pulumi state delete` its URN so that destroying it cannot archive the "
                    "other's object), or give one of them another name and definition"
                )
            if resource is not None or via not in record.seen:
                record.seen[via] = resource

    def adopt(
        self,
        resource: str | None,
        candidates: Sequence[tuple[str, bool]],
        label: str,
        mismatch: Callable[[str], Exception],
    ) -> str | None:
        """The id ``resource`` adopts, now claimed by it; None when there is none to adopt.

        ``candidates`` are the live namesakes of the declaration, each with whether its
        definition matches. Ids this resource already holds are left out first (a
        replacement gets a new object, not its predecessor); then no match at all raises
        ``mismatch(id)`` of the first namesake, several free matches or a match another
        resource holds raise ``AdoptionConflict``. A caller without a resource name (state
        from before names were recorded) only skips the ids seen by ``diff`` or ``read``.
        """
        with self._lock:
            free: list[tuple[str, set[str | None]]] = []
            taken: list[tuple[str, set[str | None]]] = []
            others: list[str] = []
            for id_, same in candidates:
                holders = self._holders(id_, resource)
                if resource in holders or (resource is None and holders):
                    continue  # our own (a replacement): never adopt it
                others.append(id_)
                if same:
                    (taken if holders else free).append((id_, holders))
            if not others:
                return None
            if not free and not taken:
                raise mismatch(others[0])
            if len(free) > 1:
                ids = ", ".join(id_ for id_, _ in free)
                raise AdoptionConflict(
                    f"cannot adopt {self.noun} {label!r}: {len(free)} live {self.noun}s have "
                    f"this name and definition ({ids}); archive the extra ones first, so "
                    "that one remains to adopt"
                )
            if not free:
                id_, holders = taken[0]
                held = " and ".join(repr(h) for h in sorted(h for h in holders if h))
                raise AdoptionConflict(
                    f"cannot adopt {self.noun} {label!r} ({id_}) for resource {resource!r}: "
                    f"resource {held or 'another resource'} of this stack already holds it, "
                    "and one Metronome object can be held by one resource only. Remove one of "
                    "the two declarations, or give this one another name"
                )
            id_ = free[0][0]
            record = self._records.setdefault(id_, _Record())
            record.seen["create"] = resource
            record.adopted, record.adopted_by = True, resource
            return id_

    def _holders(self, id_: str, resource: str | None) -> set[str | None]:
        """Who holds ``id_`` as far as ``resource`` can tell (lock held)."""
        record = self._records.get(id_)
        if record is None:
            return set()
        if resource is None:
            return {h for via, h in record.seen.items() if via in ("diff", "read")} or set()
        holders = set(record.seen.values())
        if record.adopted:
            holders.add(record.adopted_by)
        return holders

    def handed_over(self, id_: str, resource: str | None, outcome: str) -> bool:
        """True when another resource now holds ``id_``, so that the delete of ``resource``
        must leave the object alone; says so (``outcome``: e.g. "not archived") on stderr,
        which Pulumi shows."""
        holder = self._holder_besides(id_, resource)
        if holder is None:
            return False
        print(
            f"pulumi-metronome: {self.noun} {id_} was handed over to resource {holder!r} in "
            f"this run; {outcome}",
            file=sys.stderr,
        )
        return True

    def _holder_besides(self, id_: str, resource: str | None) -> str | None:
        with self._lock:
            record = self._records.get(id_)
            if record is None:
                return None
            if record.adopted and record.adopted_by != resource:
                return record.adopted_by or "another resource"
            if resource is None:
                return None
            others = sorted(h for h in record.seen.values() if h is not None and h != resource)
            return others[0] if others else None

    def clear(self) -> None:
        """Forget everything (tests that play several operations in one process)."""
        with self._lock:
            self._records.clear()
