"""What a diff decided, per property and per entry, computed once for both front ends.

Each kind's provider computes a ``DiffPlan`` (``plan`` method): the fields that force a
replacement, the fields that change in place, and a detailed diff naming each changed
property, and each changed entry of a map the user keys (a rate of a card, a custom field),
as added, deleted or updated, with or without replacement. The dynamic provider returns only
``changes`` and ``replaces`` (``DiffPlan.result``: Pulumi's dynamic providers cannot carry
more); the native plugin returns the detailed diff too, so ``pulumi preview --diff`` names
exactly what changes and which field forces a replacement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi.dynamic import DiffResult


class DiffKind(enum.Enum):
    """Pulumi's kinds of property change (``PropertyDiff.Kind``)."""

    ADD = "ADD"
    ADD_REPLACE = "ADD_REPLACE"
    DELETE = "DELETE"
    DELETE_REPLACE = "DELETE_REPLACE"
    UPDATE = "UPDATE"
    UPDATE_REPLACE = "UPDATE_REPLACE"


#: A property (``("name",)``) or an entry of a user-keyed map (``("rates", "<key>")``),
#: in the core's names (snake_case fields; map keys as the user chose them).
Path = tuple[str, ...]


def is_empty(value: Any) -> bool:
    """Unset, as Metronome and the stored form see it: None, an empty map or list."""
    return value is None or (isinstance(value, dict | list) and not value)


def kind_of(old: Any, new: Any, replace: bool) -> DiffKind:
    """ADD when nothing was there, DELETE when nothing remains, else UPDATE (``*_REPLACE``
    when the change forces a replacement)."""
    if is_empty(old):
        return DiffKind.ADD_REPLACE if replace else DiffKind.ADD
    if is_empty(new):
        return DiffKind.DELETE_REPLACE if replace else DiffKind.DELETE
    return DiffKind.UPDATE_REPLACE if replace else DiffKind.UPDATE


@dataclass(frozen=True)
class DiffPlan:
    """The outcome of a diff, in the core's names."""

    replaces: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    detailed: dict[Path, DiffKind] = field(default_factory=dict)
    delete_before_replace: bool = False

    @property
    def changes(self) -> bool:
        return bool(self.replaces or self.updates)

    def result(self) -> DiffResult:
        """What the dynamic provider answers (the same as before detailed diffs existed)."""
        return DiffResult(
            changes=self.changes,
            replaces=list(self.replaces),
            delete_before_replace=self.delete_before_replace,
        )


def plan(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    replaces: Iterable[str],
    updates: Iterable[str],
    keyed: Iterable[str] = ("custom_fields",),
    entries: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None,
    delete_before_replace: bool = False,
) -> DiffPlan:
    """A ``DiffPlan`` for the fields a kind's rules found changed.

    Fields in ``keyed`` (maps whose keys the user chooses) are detailed per key when both
    sides are maps; ``entries`` gives the (old, new) maps to detail for a field when they are
    not the stored values themselves (a card's rates without the unmanaged ones). Any other
    field is detailed as one property.
    """
    replaces, updates = tuple(replaces), tuple(updates)
    keyed = frozenset(keyed)
    detailed: dict[Path, DiffKind] = {}
    for name in (*replaces, *updates):
        replace = name in replaces
        old, new = (entries or {}).get(name, (olds.get(name), news.get(name)))
        old_map = {} if old is None else old
        new_map = {} if new is None else new
        if name in keyed and isinstance(old_map, Mapping) and isinstance(new_map, Mapping):
            for key in sorted(old_map.keys() | new_map.keys()):
                if key not in old_map or key not in new_map or old_map[key] != new_map[key]:
                    detailed[(name, key)] = kind_of(old_map.get(key), new_map.get(key), replace)
            if any(path[0] == name for path in detailed):
                continue
        detailed[(name,)] = kind_of(old, new, replace)
    return DiffPlan(replaces, updates, detailed, delete_before_replace)
