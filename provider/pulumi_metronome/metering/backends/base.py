"""What every engine offers the usage queries: DuckDB-dialect SQL in, result rows out.

The queries (``metering.queries``, ``metering.sql``, ``impact.usage``) are written once, in
DuckDB's dialect. A backend parses each with sqlglot, rewrites the few constructs whose
transpilation is silently wrong for its engine (``Backend.fix``: time bucketing, ordered
aggregates, regular expressions, list columns), and runs the result where the events are.
Only result rows (aggregates) come back.

Loading is the exception: the property-text rule reads raw JSON, which every engine spells
its own way, so each backend writes its loader in its own dialect (``Backend.load``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from ..load import bad_count_sql, problems_error, problems_sql, table_relation


class EngineError(ValueError):
    """An engine that cannot be used or cannot read the events; the message says why."""


@dataclass(frozen=True)
class LoadedEvents:
    """What a backend's ``load`` left in its table ``ev``: events read and kept (deduped)."""

    read: int
    kept: int

    @property
    def duplicates(self) -> int:
        return self.read - self.kept


class Rows:
    """A cursor's worth of rows (the DuckDB cursor methods the usage code calls)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


def _json_path_name(node: exp.Expression) -> str | None:
    """The property name of a DuckDB JSON path literal ``'$."name"'``."""
    if not isinstance(node, exp.Literal) or not node.is_string:
        return None
    text = node.this
    if text.startswith('$."') and text.endswith('"'):
        return str(text[3:-1].replace('\\"', '"').replace("\\\\", "\\"))
    return None


def check_call(node: exp.Expression, name: str) -> exp.Expression | None:
    """The argument of a call of ``name`` (one of ``load.CHECK_FUNCTIONS``), or None."""
    if (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == name
        and len(node.expressions) == 1
    ):
        argument: exp.Expression = node.expressions[0]
        return argument
    return None


def parse(sql: str, dialect: str) -> exp.Expression:
    """One expression of ``dialect`` (a backend's own spelling of a construct)."""
    parsed = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(parsed, exp.Expression)
    return parsed


def _post_order(
    tree: exp.Expression, fix: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """``fix`` applied to every node, children before their parent (so a fix sees its
    arguments already fixed)."""
    nodes: list[exp.Expression] = [n for n in tree.dfs() if isinstance(n, exp.Expression)]
    for node in reversed(nodes):
        new = fix(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


class Backend(ABC):
    """One engine. ``execute`` takes DuckDB-dialect SQL (as the usage code writes it)."""

    #: The engine's name on the command line.
    name: str
    #: sqlglot's name of the engine's dialect.
    dialect: str

    def __init__(self) -> None:
        #: Property name -> column of the loaded table (for the JSON reads of SQL metrics).
        self.columns: dict[str, str] = {}

    # -- SQL --------------------------------------------------------------------------

    def transpile(self, sql: str) -> str:
        """DuckDB-dialect ``sql`` in the engine's dialect, with the fixes applied."""
        parsed = sqlglot.parse_one(sql, read="duckdb")
        assert isinstance(parsed, exp.Expression)
        tree = parsed
        tree = _post_order(_post_order(tree, self._fix_common), self.fix)
        return tree.sql(dialect=self.dialect)

    def _fix_common(self, node: exp.Expression) -> exp.Expression:
        # ``json_extract_string(props, ['$."a"', ...])`` (a list of texts from one parse):
        # the loaded table already has one text column per property.
        if isinstance(node, exp.JSONExtractScalar | exp.JSONExtract | exp.Anonymous):
            args = [node.this, node.expression] if not isinstance(node, exp.Anonymous) else []
            if isinstance(node, exp.Anonymous) and str(node.this).lower() in (
                "json_extract_string",
            ):
                args = list(node.expressions)
            if len(args) == 2 and isinstance(args[1], exp.Array):
                names = [_json_path_name(p) for p in args[1].expressions]
                if names and all(n is not None and n in self.columns for n in names):
                    return exp.Array(expressions=[exp.column(self.columns[str(n)]) for n in names])
        return node

    def fix(self, node: exp.Expression) -> exp.Expression:
        """Rewrite one node whose transpilation is wrong for this engine (default: none)."""
        return node

    def execute(self, sql: str) -> Rows:
        """Run DuckDB-dialect ``sql`` on the engine; its rows."""
        return Rows(self.run(self.transpile(sql)))

    @abstractmethod
    def run(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL already in the engine's dialect; its rows (Python values, decimals
        exact, timestamps as UTC ``datetime``)."""

    # -- events -----------------------------------------------------------------------

    def check(self, types: Mapping[str, str], source: str, *, files: bool = False) -> None:
        """Refuse events of ``source`` that break a field rule of an event, before keeping
        any: the rules and their words are the DuckDB loader's (``metering.load``), run on
        the engine (one scan; the problems are listed only when some event breaks a rule).

        ``types`` maps each column of the file to its type as DuckDB names it; ``source``
        has those columns and ``metronome_row``, the event's 0-based row in its file, and
        with ``files`` (events read from a folder of files) ``metronome_file``, that file.
        Raises ``SpecError`` naming ``events[row].field`` as the DuckDB loader does, after
        ``events file <file>:`` for a folder (a row alone would not say where to look)."""
        file = "metronome_file" if files else None
        relation = table_relation(types, source, "metronome_row", check_only=True, file=file)
        row = self.execute(bad_count_sql(relation)).fetchone()
        if row is not None and row[0]:
            found = self.execute(problems_sql(relation)).fetchall()
            raise problems_error(
                [(r[1], r[2], r[3]) for r in found],
                [self.file_name(r[0]) if r[0] is not None else None for r in found],
            )

    def file_name(self, file: str) -> str:
        """A file as the engine names it (its ``metronome_file``), as a user would."""
        return file

    @abstractmethod
    def load(
        self,
        path: Path,
        properties: Sequence[str],
        numbers: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> LoadedEvents:
        """Read the Parquet events at ``path`` into table ``ev`` (``seq``,
        ``transaction_id``, ``customer_id``, ``event_type``, ``ts``, text ``t<i>`` per
        property, exact decimal ``n<j>`` per name of ``numbers``), the first event of a
        transaction id kept (file order), then only those of ``[start, end)``."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""
