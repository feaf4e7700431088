"""Events from a list, a JSON-lines file or a Parquet file into DuckDB, set-based.

The one way bulk events enter the metering engine (``evaluate``) and the pricing impact:
DuckDB reads the file itself (``read_parquet``, ``read_ndjson_objects``; a list travels as
one list of JSON texts), the field rules of an event (those of ``models.event.Event``:
``transaction_id`` 1..128 characters, ``customer_id`` and ``event_type`` non-empty strings,
``timestamp`` RFC 3339 with an offset, ``properties`` an object, no other field) are checked
in SQL over the whole relation, the first problems are reported naming the event's index
(the 0-based line, for files) and field, duplicates are dropped (the first event with a
transaction id wins, in list or file order) and property texts are computed in SQL.

The property-text rule (``metering-semantics.md``, "A property's text") lives here, in SQL
(``TEXT_MACROS``): a string reads as is; a JSON number as its shortest decimal form, never
with an exponent (``5``, ``5.0`` -> ``5``, ``2.50`` -> ``2.5``, ``1e3`` -> ``1000``, ``-0.0``
-> ``0``); ``true``/``false`` as those words; ``null`` as absent; objects and arrays as their
compact JSON (**decision**: keys in the order sent). Numbers are read as DuckDB's JSON reader
reads them (doubles, as pydantic reads them on the HTTP path).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from ..models import BillableMetricSpec, SpecError, Violation
from ..models.event import TRANSACTION_ID_MAX_LENGTH, Event
from .queries import DECIMAL_TYPE, DUCKDB, lit

#: Problems reported at most (a broken file would otherwise produce a million lines).
MAX_PROBLEMS = 20
#: The fields of an event, from its model (anything else is refused, as the model does).
FIELDS = tuple(Event.model_fields)
#: Distinct customer ids / event types at most kept as a DuckDB ENUM (2 bytes per event
#: instead of 16) by the columns layout; beyond, as text.
ENUM_MAX = 65_536
#: The fields an event must have.
REQUIRED = tuple(f for f, info in Event.model_fields.items() if info.is_required())

#: The property-text rule as DuckDB macros over the JSON text of one value.
TEXT_MACROS = r"""
CREATE OR REPLACE MACRO metronome_digits(neg, d, p) AS
    CASE WHEN d = '' THEN '0' ELSE (CASE WHEN neg THEN '-' ELSE '' END) ||
        CASE WHEN p <= 0 THEN '0.' || repeat('0', -p) || d
             WHEN p >= length(d) THEN d || repeat('0', p - length(d))
             ELSE d[1:p] || '.' || d[p + 1:] END END;
CREATE OR REPLACE MACRO metronome_trimmed(neg, d, p) AS
    metronome_digits(neg, rtrim(ltrim(d, '0'), '0'), p - (length(d) - length(ltrim(d, '0'))));
CREATE OR REPLACE MACRO metronome_scientific(x) AS metronome_trimmed(
    starts_with(x, '-'),
    regexp_extract(x, '^-?([0-9]*)', 1) || regexp_extract(x, '\.([0-9]*)', 1),
    length(regexp_extract(x, '^-?([0-9]*)', 1))
        + coalesce(TRY_CAST(regexp_extract(x, '[eE]([+-]?[0-9]+)$', 1) AS INTEGER), 0));
CREATE OR REPLACE MACRO metronome_number_text(x) AS
    CASE WHEN contains(x, 'e') OR contains(x, 'E') THEN metronome_scientific(x)
         WHEN NOT contains(x, '.') THEN (CASE WHEN x = '-0' THEN '0' ELSE x END)
         WHEN NOT (suffix(x, '0') OR suffix(x, '.')) THEN x
         WHEN rtrim(rtrim(x, '0'), '.') IN ('-0', '') THEN '0'
         ELSE rtrim(rtrim(x, '0'), '.') END;
CREATE OR REPLACE MACRO metronome_text(v) AS
    CASE WHEN v IS NULL OR v = 'null' THEN NULL
         WHEN prefix(v, '"') THEN
            (CASE WHEN contains(v, '\') THEN json_extract_string(v, '$') ELSE v[2:-2] END)
         WHEN prefix(v, '{') OR prefix(v, '[') OR prefix(v, 't') OR prefix(v, 'f') THEN v
         ELSE metronome_number_text(v) END;
CREATE OR REPLACE MACRO metronome_texts(j) AS to_json(map_from_entries(list_filter(
    list_transform(map_entries(json_transform(j, '"MAP(VARCHAR, JSON)"')),
        lambda e: {'key': e.key, 'value': metronome_text(e.value::VARCHAR)}),
    lambda e: e.value IS NOT NULL)))::VARCHAR;
CREATE OR REPLACE MACRO metronome_json_kind(v) AS coalesce(json_type(TRY_CAST(v AS JSON)),
    CASE WHEN v IS NULL THEN 'NULL' ELSE 'INVALID' END);
CREATE OR REPLACE MACRO metronome_moment(v) AS TRY_CAST(v AS TIMESTAMPTZ);
"""
#: The two readings the field rules (``_checks``) make that each engine spells its own way
#: (defined above for DuckDB; a backend rewrites the calls, ``metering.backends``):
#: ``metronome_json_kind(text)``, the JSON type of a text (``OBJECT``, ``ARRAY``, ...;
#: ``NULL`` for JSON null or no text, ``INVALID`` for a text that is not JSON), and
#: ``metronome_moment(text)``, a timestamp text read as a moment (NULL when it is not one).
CHECK_FUNCTIONS = ("metronome_json_kind", "metronome_moment")

#: RFC 3339 with an offset (the shapes ``models.event.parse_timestamp`` takes in practice).
#: Minutes and seconds are checked here (0 to 59), not left to an engine's reading of the
#: text: some read 10:60 as 11:00.
TIMESTAMP_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-5][0-9](:[0-5][0-9]([.,][0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}([.,][0-9]+)?)?)?)"
)
_NO_OFFSET = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?)?"


def install(db: duckdb.DuckDBPyConnection) -> None:
    """Define the property-text macros on a connection (idempotent)."""
    db.execute(TEXT_MACROS)


def text_sql(json_text: str) -> str:
    """The text of a property from the JSON text of its value (NULL: absent)."""
    return f"metronome_text({json_text})"


def present_sql(json_text: str) -> str:
    """Whether a property has a text (``text_sql`` is not NULL), without computing it:
    absent and ``null`` have none, every other value has one."""
    return f"({json_text} IS NOT NULL AND {json_text} <> 'null')"


def number_sql(json_text: str) -> str:
    """A property as an exact decimal (the engine's number rule over its text,
    ``DUCKDB.number(text_sql(...))``) from the JSON text of its value, without the text
    where that cannot change the result: a value that is not a string and has no exponent
    is a plain numeral (whose text only drops trailing zeros and the minus of zero, which
    change no value) or not a number at all (``true``... have an ``e``; ``null``, objects,
    arrays fail the cast as their texts fail the rule). The text rule and the pattern
    match cost about 2.5 CPU seconds over the impact benchmark's 10 million events."""
    via_text = DUCKDB.number(text_sql(json_text))
    return (
        f"CASE WHEN prefix({json_text}, '\"') OR contains({json_text}, 'e') "
        f"OR contains({json_text}, 'E') THEN {via_text} "
        f"ELSE TRY_CAST({json_text} AS {DECIMAL_TYPE}) END"
    )


#: Aggregations that read their key only as a number (``DUCKDB.number`` of its text).
NUMERIC_AGGREGATIONS = ("SUM", "MAX", "LATEST")


def properties_read(specs: Iterable[BillableMetricSpec], *, as_text: bool = False) -> list[str]:
    """Every property the metrics read (filters, aggregation key, group keys, SQL columns);
    ``as_text``: only those read as text (not the key of an aggregation that reads it only
    as a number)."""
    names: list[str] = []
    for spec in specs:
        if spec.sql is not None:
            from .sql import parse_sql_metric

            names.extend(parse_sql_metric(spec.sql).prop_names)
            continue
        names.extend(f.name for f in spec.property_filters or [])
        if spec.aggregation_key and not (as_text and spec.aggregation_type in NUMERIC_AGGREGATIONS):
            names.append(spec.aggregation_key)
        for key in spec.group_keys or []:
            names.extend(key)
    return list(dict.fromkeys(names))


def presence_only(specs: Iterable[BillableMetricSpec]) -> list[str]:
    """The properties the metrics read only through ``exists`` filters (and perhaps as the
    key of an aggregation that reads it only as a number): whether one has a text is all
    they need of it (``present_sql``)."""
    specs = list(specs)
    as_text: set[str] = set()
    tested: list[str] = []
    for spec in specs:
        if spec.sql is not None:
            as_text.update(properties_read([spec]))
            continue
        for item in spec.property_filters or []:
            if item.in_values is not None or item.not_in_values is not None:
                as_text.add(item.name)
            elif item.exists is not None:
                tested.append(item.name)
        if spec.aggregation_key and spec.aggregation_type not in NUMERIC_AGGREGATIONS:
            as_text.add(spec.aggregation_key)
        for key in spec.group_keys or []:
            as_text.update(key)
    return [n for n in dict.fromkeys(tested) if n not in as_text]


def _path(name: str) -> str:
    return DUCKDB.json_path(name)


@dataclass(frozen=True)
class Loaded:
    """What ``load`` left in ``table``: events read, kept (after dedupe), duplicates."""

    table: str
    read: int
    kept: int

    @property
    def duplicates(self) -> int:
        return self.read - self.kept


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A number (as pydantic would read it); integers stay exact.
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _list_source(db: duckdb.DuckDBPyConnection, events: Sequence[Any]) -> str:
    texts: list[str] = []
    problems: list[Violation] = []
    for index, item in enumerate(events):
        try:
            texts.append(json.dumps(item, default=_json_default, allow_nan=False))
        except (TypeError, ValueError) as error:
            problems.append(Violation(f"events[{index}]", f"is not JSON data ({error})"))
            texts.append("null")
    if problems:
        raise SpecError(problems[:MAX_PROBLEMS])
    db.execute("CREATE OR REPLACE TEMP TABLE metronome_input (j VARCHAR[])")
    db.execute("INSERT INTO metronome_input VALUES (?)", [texts])
    return (
        "(SELECT generate_subscripts(j, 1) - 1 AS row, unnest(j)::JSON AS json "
        "FROM metronome_input)"
    )


def _json_normalized(source: str) -> str:
    """Fields of a relation ``(row, json)``: each value and its JSON type ('MISSING')."""
    paths = ", ".join(_path(f) for f in FIELDS)
    kinds = "".join(
        f", coalesce(json_type(v[{i + 1}]), 'MISSING') AS k_{f}" for i, f in enumerate(FIELDS)
    )
    known = ", ".join(lit(f) for f in FIELDS)
    return (
        f"SELECT row, json_type(json) = 'OBJECT' AS is_object, "
        f"CASE WHEN json_type(json) = 'OBJECT' THEN list_filter(json_keys(json), "
        f"lambda k: k NOT IN ({known})) ELSE [] END AS unknown, "
        "json_extract_string(v[1], '$') AS transaction_id, "
        "json_extract_string(v[2], '$') AS customer_id, "
        "json_extract_string(v[3], '$') AS event_type, "
        "json_extract_string(v[4], '$') AS ts_text, NULL::TIMESTAMP AS ts_value, "
        f"CASE WHEN json_type(v[5]) = 'OBJECT' THEN v[5]::VARCHAR END AS properties{kinds} "
        f"FROM (SELECT row, json, CASE WHEN json_type(json) = 'OBJECT' THEN "
        f"json_extract(json, [{paths}]) END AS v FROM {source})"
    )


def _parquet_normalized(db: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, str | None]:
    """The relation to check and keep, and for a text ``properties`` column the one to keep
    checking it on the way (see ``_load``), or None."""
    source = f"read_parquet({lit(str(path))}, file_row_number = true)"
    described = db.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    types = {str(r[0]): str(r[1]).upper() for r in described if r[0] != "file_row_number"}
    relation = table_relation(types, source, "file_row_number")
    return relation.normalized, relation.guarded


@dataclass(frozen=True)
class Relation:
    """A table of events as the field rules read it (``table_relation``)."""

    #: DuckDB SQL: ``row``, ``is_object``, ``unknown`` (not when ``check_only``), the fields
    #: and their kinds ``k_<f>``.
    normalized: str
    #: For a text ``properties`` column, the relation that checks it while keeping, or None.
    guarded: str | None
    #: The columns that are not a field of an event (every row breaks the rule then).
    unknown: tuple[str, ...]
    #: Whether it has ``event_file``, the file of each event (events in a folder of files).
    files: bool = False


def table_relation(
    types: Mapping[str, str],
    source: str,
    row: str,
    *,
    check_only: bool = False,
    file: str | None = None,
) -> Relation:
    """The events of a table (a Parquet file's columns) for the field rules: ``types``
    maps each column to its type as DuckDB names it (``VARCHAR``, ``TIMESTAMP WITH TIME
    ZONE``, ``STRUCT(...)``, ``BIGINT``...), ``source`` is the relation, ``row`` the 0-based
    row in the file. ``check_only``: without the values only keeping needs (the timestamp
    as a moment, the properties as JSON), so that an engine that only checks (a backend,
    which keeps the events its own way) need not read them. ``file``: for events read from
    a folder of files, the column naming each event's file (``row`` is then the row within
    that file, and a problem names both).

    Raises ``SpecError`` for a missing required column (said once: it misses from every
    event)."""
    missing = [f for f in REQUIRED if f not in types]
    if missing:
        # A column missing from a file misses from every event: say it once.
        raise SpecError(
            [
                Violation(
                    "",
                    f"missing column(s) {', '.join(missing)} (an event has "
                    f"{', '.join(REQUIRED)} and properties)",
                )
            ]
        )
    select = [f"{row} AS row", "TRUE AS is_object"]
    if file is not None:
        select.append(f"CAST({file} AS VARCHAR) AS event_file")
    unknown = [c for c in types if c not in FIELDS]
    if not check_only:  # (the check of an engine takes them from ``Relation.unknown``)
        select.append(f"[{', '.join(lit(c) for c in unknown)}]::VARCHAR[] AS unknown")
    kinds = []
    for field in FIELDS:
        kind = types.get(field)
        column = '"' + field + '"'
        if kind is None:
            kinds.append(f"'MISSING' AS k_{field}")
        elif field == "timestamp" and kind.startswith("TIMESTAMP"):
            kinds.append(
                f"CASE WHEN {column} IS NULL THEN 'NULL' ELSE 'TIMESTAMP' END AS k_{field}"
            )
        elif field == "properties" and kind not in ("VARCHAR", "JSON"):
            obj = kind.startswith(("STRUCT", "MAP"))
            kinds.append(
                f"CASE WHEN {column} IS NULL THEN 'NULL' ELSE {lit('OBJECT' if obj else kind)} "
                f"END AS k_{field}"
            )
        elif field == "properties":
            kinds.append(f"metronome_json_kind({column}) AS k_{field}")
        else:
            kinds.append(
                f"CASE WHEN {column} IS NULL THEN 'NULL' ELSE {lit(kind)} END AS k_{field}"
            )
    for field, name in (
        ("transaction_id", "transaction_id"),
        ("customer_id", "customer_id"),
        ("event_type", "event_type"),
    ):
        select.append(
            f'CAST("{field}" AS VARCHAR) AS {name}' if field in types else f"NULL AS {name}"
        )
    ts_kind = types.get("timestamp", "")
    if check_only:
        text = 'CAST("timestamp" AS VARCHAR)' if not ts_kind.startswith("TIMESTAMP") else "NULL"
        select.append(f"{text} AS ts_text")
    elif ts_kind.startswith("TIMESTAMP"):
        select.append("NULL::VARCHAR AS ts_text")
        cast = "timestamp" if ts_kind == "TIMESTAMP" else "timezone('UTC', timestamp)"
        select.append(f"CAST({cast} AS TIMESTAMP) AS ts_value")
    else:
        select.append('CAST("timestamp" AS VARCHAR) AS ts_text' if ts_kind else "NULL AS ts_text")
        select.append("NULL::TIMESTAMP AS ts_value")
    props = types.get("properties")
    guarded = None
    if check_only:
        pass
    elif props is None:
        select.append("NULL::VARCHAR AS properties")
    elif props in ("VARCHAR", "JSON"):
        # Kept as is when it is an object; anything else stops the scan (an object not
        # written with "{" first, e.g. after a space, only takes the slower way).
        text = "CAST(properties AS VARCHAR)"
        guard = (
            f"CASE WHEN properties IS NULL OR prefix({text}, '{{') THEN {text} "
            "ELSE error('properties: not an object') END AS properties"
        )
        guarded = f"SELECT {', '.join([*select, guard])} FROM {source}"
        select.append("TRY_CAST(properties AS JSON)::VARCHAR AS properties")
    else:
        select.append("to_json(properties)::VARCHAR AS properties")
    return Relation(
        f"SELECT {', '.join(select + kinds)} FROM {source}",
        guarded,
        tuple(unknown),
        files=file is not None,
    )


def _source(db: duckdb.DuckDBPyConnection, events: Any) -> tuple[str, str | None, Path | None]:
    """``(relation to check and keep, relation to keep checking properties or None, file)``
    of ``events``."""
    if isinstance(events, str | Path):
        path = Path(events)
        if not path.is_file():
            raise SpecError([Violation("events", f"no such file: {path}")])
        if path.suffix.lower() == ".parquet":
            return (*_parquet_normalized(db, path), path)
        reader = f"read_ndjson_objects({lit(str(path))})"
        source = f"(SELECT row_number() OVER () - 1 AS row, json FROM {reader})"
        return _json_normalized(source), None, path
    if isinstance(events, Mapping) or not isinstance(events, Iterable):
        raise SpecError(
            [Violation("events", "must be a list of events, a JSON-lines path or a Parquet path")]
        )
    return _json_normalized(_list_source(db, list(events))), None, None


def _checks() -> list[tuple[str, str, str]]:
    """``(field, condition, message)`` per rule of an event, as the ``Event`` model words them
    (the condition holds on a row that breaks the rule)."""
    limit = TRANSACTION_ID_MAX_LENGTH
    checks = [
        ("''", "NOT is_object", "'must be an object (an event)'"),
    ]
    for field in ("transaction_id", "customer_id", "event_type"):
        kind = f"k_{field}"
        message = (
            f"CASE WHEN {kind} = 'MISSING' THEN 'is required' "
            f"WHEN {kind} <> 'VARCHAR' THEN 'must be a string' "
            f"WHEN length({field}) = 0 THEN 'must not be empty' "
            + (
                f"WHEN length({field}) > {limit} THEN 'is longer than {limit} characters' "
                if field == "transaction_id"
                else ""
            )
            + "END"
        )
        checks.append((lit(field), f"is_object AND {message} IS NOT NULL", message))
    ts_message = (
        "CASE WHEN k_timestamp = 'MISSING' THEN 'is required' "
        "WHEN k_timestamp = 'TIMESTAMP' THEN NULL "
        "WHEN k_timestamp <> 'VARCHAR' THEN "
        "'must be an RFC 3339 timestamp string, e.g. 2026-01-31T12:00:00Z' "
        f"WHEN regexp_full_match(ts_text, {lit(_NO_OFFSET)}) AND metronome_moment(ts_text) "
        "IS NOT NULL THEN 'must carry a UTC offset (Z or +hh:mm), e.g. 2026-01-31T12:00:00Z' "
        f"WHEN NOT regexp_full_match(ts_text, {lit(TIMESTAMP_PATTERN)}) "
        "OR metronome_moment(ts_text) IS NULL "
        "THEN 'must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z' END"
    )
    checks.append(("'timestamp'", f"is_object AND {ts_message} IS NOT NULL", ts_message))
    props_message = (
        "CASE WHEN k_properties IN ('OBJECT', 'NULL', 'MISSING') THEN NULL "
        "ELSE 'must be an object' END"
    )
    checks.append(("'properties'", f"is_object AND {props_message} IS NOT NULL", props_message))
    return checks


def _bad_sql(properties: bool = True, unknown: str = "len(unknown) > 0") -> str:
    """Whether a row breaks any rule (``properties``: that one too; ``unknown``: whether it
    has a column that is not a field): one boolean, cheap enough for the whole file (the
    list of problems is built only when some row breaks one)."""
    conditions = [
        f"coalesce({cond}, FALSE)"
        for field, cond, _ in _checks()
        if properties or field != "'properties'"
    ]
    return "(" + " OR ".join([*conditions, unknown]) + ")"


def _problems_sql() -> str:
    """Per row, the list of (field, message) it breaks, as the ``Event`` model words them."""
    checks = _checks()
    items = ", ".join(
        f"CASE WHEN {cond} THEN {{'f': {field}, 'm': {message}}} END"
        for field, cond, message in checks
    )
    unknown = "list_transform(unknown, lambda k: {'f': k, 'm': 'is not a known field'})"
    return f"list_concat(list_filter([{items}], lambda x: x IS NOT NULL), {unknown})"


def bad_count_sql(relation: Relation) -> str:
    """DuckDB SQL an engine can run (no lists): the number of events of ``relation``
    (``table_relation(..., check_only=True)``) that break a field rule."""
    bad = _bad_sql(unknown="TRUE" if relation.unknown else "FALSE")
    return f"SELECT count(*) FILTER (WHERE {bad}) FROM ({relation.normalized})"


def problems_sql(relation: Relation) -> str:
    """DuckDB SQL an engine can run (no lists): the first ``MAX_PROBLEMS`` problems of
    ``relation`` as ``(file, row, field, message)`` (``file`` NULL unless the relation has
    ``files``), in the order ``load`` reports them (by file, row, then rule); one scan per
    rule, only ever run on events that break one."""
    file = "event_file" if relation.files else "CAST(NULL AS VARCHAR)"
    parts = [
        f"SELECT {file} AS fl, row, {k} AS k, {field} AS f, {message} AS m FROM "
        f"({relation.normalized}) WHERE coalesce({cond}, FALSE) ORDER BY fl, row "
        f"LIMIT {MAX_PROBLEMS}"
        for k, (field, cond, message) in enumerate(_checks())
    ]
    parts += [
        f"SELECT {file} AS fl, row, {len(parts) + j} AS k, {lit(name)} AS f, "
        f"'is not a known field' AS m FROM ({relation.normalized}) ORDER BY fl, row "
        f"LIMIT {MAX_PROBLEMS}"
        for j, name in enumerate(relation.unknown)
    ]
    union = " UNION ALL ".join(f"SELECT * FROM ({part})" for part in parts)
    return f"SELECT fl, row, f, m FROM ({union}) ORDER BY fl, row, k LIMIT {MAX_PROBLEMS}"


def problems_error(
    found: Iterable[tuple[int, str, str]], files: Sequence[str | None] = ()
) -> SpecError:
    """The problems ``(row, field, message)`` of events as one error naming each
    ``events[row].field``; for events in a folder of files, ``files`` names the file of
    each problem (``row`` counts within it): ``events file <file>: events[row].field``."""
    violations = []
    for i, (row, field, message) in enumerate(found):
        file = files[i] if i < len(files) else None
        name = f"events[{row}]" + (f".{field}" if field else "")
        violations.append(Violation(f"events file {file}: {name}" if file else name, message))
    return SpecError(violations)


def _enums(db: duckdb.DuckDBPyConnection, normalized: str, table: str) -> dict[str, str]:
    """ENUM types of the customer ids and event types of a Parquet file (a scan of those two
    columns only): ``{column: type}``, for the columns with at most ``ENUM_MAX`` values.

    The values are sorted, so the ENUM orders as the text does."""
    row = db.execute(
        "SELECT list(DISTINCT customer_id), list(DISTINCT event_type) "
        f"FROM (SELECT customer_id, event_type FROM ({normalized}))"
    ).fetchone()
    assert row is not None
    out: dict[str, str] = {}
    for column, values in zip(("customer_id", "event_type"), row, strict=True):
        found = sorted(v for v in values or [] if v is not None)
        if not found or len(found) > ENUM_MAX:
            continue
        name = f"{table}_{column}"
        db.execute(f"DROP TYPE IF EXISTS {name}")
        db.execute(f"CREATE TYPE {name} AS ENUM ({', '.join(lit(v) for v in found)})")
        out[column] = name
    return out


def load(
    db: duckdb.DuckDBPyConnection,
    events: Any,
    *,
    table: str = "loaded",
    properties: Sequence[str] | None = None,
    numbers: Sequence[str] = (),
    texts: Literal["object", "columns"] = "object",
    numbers_only: Sequence[str] = (),
    presence: Sequence[str] = (),
) -> Loaded:
    """Check, dedupe and store ``events`` in table ``table`` of ``db``; raise ``SpecError``
    naming ``events[i].field`` for the first problems (nothing is kept then).

    Columns: ``seq`` (1-based list / file order), ``transaction_id``, ``customer_id``,
    ``event_type``, ``ts`` (UTC), ``properties`` (JSON as sent), and the property texts:
    ``props``, a JSON object of the texts of ``properties`` (every property when None).
    ``texts="columns"`` (one-pass evaluation of many metrics, as the impact does) keeps
    instead one column ``t<i>`` per name of ``properties`` holding its text and ``n<j>``
    per name of ``numbers`` holding it as an exact decimal (the engine's number rule), and
    neither ``properties`` nor ``props`` nor ``transaction_id`` (read only to drop duplicates;
    10 million ids are 160 MB of memory), nor the text column of a name of ``numbers_only``
    (a property read only as a number: 16 bytes per event less), and for a name of
    ``presence`` keeps in ``t<i>`` only whether it has a text (a BOOLEAN, ``present_sql``:
    15 bytes per event less, and no text rule); from a Parquet file, it
    keeps ``customer_id`` and ``event_type`` as ENUM types (``<table>_customer_id``,
    ``<table>_event_type``, sorted values) when they have at most ``ENUM_MAX`` values (2
    bytes per event instead of 16).
    """
    install(db)
    row = db.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    ordered = bool(row and row[0])
    # Line numbers of a JSON-lines file (``row_number() OVER ()``) and "first wins" need the
    # scan in file order; a caller may have turned that off for speed (Parquet has its own
    # row numbers, lists their indexes).
    json_lines = isinstance(events, str | Path) and Path(events).suffix.lower() != ".parquet"
    if json_lines and not ordered:
        db.execute("SET preserve_insertion_order = true")
    try:
        return _load(db, events, table, properties, numbers, texts, numbers_only, presence)
    finally:
        if json_lines and not ordered:
            db.execute("SET preserve_insertion_order = false")


def _load(
    db: duckdb.DuckDBPyConnection,
    events: Any,
    table: str,
    properties: Sequence[str] | None,
    numbers: Sequence[str],
    texts: Literal["object", "columns"],
    numbers_only: Sequence[str] = (),
    presence: Sequence[str] = (),
) -> Loaded:
    normalized, guarded, path = _source(db, events)
    where = f" of {path}" if path is not None else ""
    names = list(dict.fromkeys(properties)) if properties is not None else None
    extracted = ""
    outer = "*"
    if names is None:
        if texts == "columns":
            raise ValueError("texts='columns' needs the property names")
        kept = "properties, coalesce(metronome_texts(properties), '{}') AS props"
    else:
        if names:
            paths = ", ".join(_path(n) for n in names)
            extracted = f", CAST(json_extract(properties, [{paths}]) AS VARCHAR[]) AS x"
        if texts == "columns":
            # Each text once (the macro is the costliest part of loading), none for a
            # property read only as a number; the exact decimals of aggregated properties
            # from their JSON values (``number_sql``).
            kept = ", ".join(
                [
                    *(
                        f"{(present_sql if n in presence else text_sql)(f'x[{i + 1}]')} AS t{i}"
                        for i, n in enumerate(names)
                        if n not in numbers_only
                    ),
                    *(
                        f"{number_sql(f'x[{names.index(n) + 1}]')} AS n{j}"
                        for j, n in enumerate(numbers)
                    ),
                ]
            )
            outer = ", ".join(
                [
                    "seq, {ids}{customer_id}, {event_type}, ts",
                    *(f"t{i}" for i, n in enumerate(names) if n not in numbers_only),
                    *(f"n{j}" for j in range(len(numbers))),
                ]
            )
        else:
            pairs = ", ".join(f"{lit(n)}, {text_sql(f'x[{i + 1}]')}" for i, n in enumerate(names))
            kept = f"properties, json_object({pairs})::VARCHAR AS props"
    ts = "coalesce(ts_value, CAST(timezone('UTC', TRY_CAST(ts_text AS TIMESTAMPTZ)) AS TIMESTAMP))"
    # A text properties column (Parquet) whose properties are parsed while keeping is
    # checked then: the check scan does not read it (a JSON parse per event less).
    deferred = guarded is not None and bool(names)

    def keep(source: str) -> None:
        # One scan keeps the events: one JSON parse per event for the properties read.
        # The columns layout keeps the transaction ids only to drop duplicates.
        ids = "transaction_id, " if texts != "columns" or hashes < read else ""
        select = outer.replace("{ids}", ids)
        for column in ("customer_id", "event_type"):
            typed = f"CAST({column} AS {enums[column]}) AS {column}" if column in enums else column
            select = select.replace("{" + column + "}", typed)
        db.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM (SELECT seq, "
            f"transaction_id, customer_id, event_type, ts, {kept} FROM (SELECT row + 1 AS "
            f"seq, transaction_id, customer_id, event_type, {ts} AS ts, "
            f"coalesce(properties, '{{}}') AS properties{extracted} FROM ({source})))"
        )

    def problems() -> list[tuple[int, str, str]]:
        return db.execute(
            f"SELECT row, p.f, p.m FROM (SELECT row, unnest({_problems_sql()}) AS p "
            f"FROM ({normalized})) ORDER BY row LIMIT {MAX_PROBLEMS}"
        ).fetchall()

    try:
        # One scan checks every event (one boolean per row) and counts the distinct hashes of
        # the transaction ids (as many as events: no duplicates, without holding the ids);
        # the list of problems is built only for a file that has some. (Grouped by the hash
        # rather than ``count(DISTINCT ...)`` beside the other aggregates: DuckDB takes a
        # slower way for a DISTINCT aggregate among others, twice the time on 10 million.)
        row = db.execute(
            "SELECT coalesce(sum(n), 0), coalesce(sum(bad), 0), count(*) FROM (SELECT "
            f"count(*) AS n, count(*) FILTER (WHERE {_bad_sql(not deferred)}) AS bad "
            f"FROM ({normalized}) GROUP BY hash(transaction_id))"
        ).fetchone()
        assert row is not None
        read, bad, hashes = int(row[0]), int(row[1]), int(row[2])
        found = problems() if bad else []
        enums: dict[str, str] = {}
        parquet = path is not None and path.suffix.lower() == ".parquet"
        if texts == "columns" and parquet and not bad:
            # (The estimate is within a few percent; the exact count decides in ``_enums``.)
            row = db.execute(
                "SELECT approx_count_distinct(customer_id), approx_count_distinct(event_type) "
                f"FROM ({normalized})"
            ).fetchone()
            assert row is not None
            if max(row[0], row[1]) <= ENUM_MAX * 1.1:
                enums = _enums(db, normalized, table)
        if not found and guarded is not None and deferred:
            try:
                keep(guarded)
            except duckdb.Error:
                # Properties that are not an object, or not JSON: the whole check says which
                # (or, for an object the guard does not recognise, keeps it the slower way).
                found = problems()
                if not found:
                    keep(normalized)
        elif not found:
            keep(normalized)
        db.execute("DROP TABLE IF EXISTS metronome_input")
        if found or bad:
            raise problems_error(found)
        distinct = read
        if hashes < read:
            # Equal hashes: duplicates (or, rarely, two ids with one hash): count exactly.
            row = db.execute(f"SELECT count(DISTINCT transaction_id) FROM {table}").fetchone()
            assert row is not None
            distinct = int(row[0])
        if distinct < read:
            # The first event with a transaction id wins (list or file order), as on ingest.
            db.execute(
                f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} WHERE transaction_id "
                f"IN (SELECT transaction_id FROM {table} GROUP BY 1 HAVING count(*) > 1) "
                "QUALIFY seq <> min(seq) OVER (PARTITION BY transaction_id))"
            )
        if texts == "columns" and hashes < read:
            db.execute(f"ALTER TABLE {table} DROP COLUMN transaction_id")
    except duckdb.Error as error:
        raise SpecError([Violation("events", f"cannot read the events{where}: {error}")]) from None
    return Loaded(table, read, distinct)
