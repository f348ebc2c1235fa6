"""Instants as numbers in SQL, the same on SQLite and PostgreSQL.

`epoch_seconds` and `floor_div` are compiled per dialect; `local_day` numbers the local date of
an instant in a timezone (`domain.timezones`) from the zone's offsets over the span the query
reads, as one CASE over the transitions, so both databases count the same local days.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from learning_analytics.domain.timezones import DAY_SECONDS, OffsetSegment


class Epoch(FunctionElement[float]):
    """Seconds since 1970-01-01 UTC of a stored instant."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(Epoch, "sqlite")
def _epoch_sqlite(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Instants are stored as UTC text; rounded to the millisecond against float noise.
    return f"round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"


@compiles(Epoch, "postgresql")
def _epoch_postgresql(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


class FloorDiv(FunctionElement[int]):
    """floor(a / b) of non-negative numbers, as an integer."""

    type = Integer()
    inherit_cache = True
    name = "floor_div"


@compiles(FloorDiv, "sqlite")
def _floor_div_sqlite(element: FloorDiv, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(({a}) / ({b}) AS INTEGER)"  # truncation = floor for non-negative values


@compiles(FloorDiv, "postgresql")
def _floor_div_postgresql(element: FloorDiv, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(({a}) / ({b})) AS INTEGER)"


def floor_div(a: Any, b: float) -> ColumnElement[int]:
    return FloorDiv(a, literal(float(b), Float()))


def utc_offset(column: Any, segments: Sequence[OffsetSegment]) -> ColumnElement[float]:
    """The zone's UTC offset in seconds at the instant in `column` (`segments` from
    `offset_segments` over every instant the query can meet)."""
    if len(segments) == 1:
        return literal(float(segments[0].offset), Float())
    whens = [
        (column < later.since, literal(float(earlier.offset), Float()))
        for earlier, later in pairwise(segments)
    ]
    return case(*whens, else_=literal(float(segments[-1].offset), Float()))


def local_day(column: Any, segments: Sequence[OffsetSegment]) -> ColumnElement[int]:
    """The number of the local date of the instant in `column` (instants after 1970)."""
    return floor_div(Epoch(column) + utc_offset(column, segments), DAY_SECONDS)


class DistinctSmallCount(FunctionElement[int]):
    """An aggregate: how many distinct values in 0..62 the (integer or NULL) expression takes
    over the group, NULL not counted. PostgreSQL ORs one bit per value and counts the bits (no
    per-group sort, unlike COUNT(DISTINCT)); SQLite counts distinct values."""

    type = Integer()
    inherit_cache = True
    name = "distinct_small_count"


@compiles(DistinctSmallCount, "sqlite")
def _distinct_small_count_sqlite(
    element: DistinctSmallCount, compiler: SQLCompiler, **kw: Any
) -> str:
    return f"count(DISTINCT {compiler.process(element.clauses, **kw)})"


@compiles(DistinctSmallCount, "postgresql")
def _distinct_small_count_postgresql(
    element: DistinctSmallCount, compiler: SQLCompiler, **kw: Any
) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"coalesce(bit_count(bit_or(CAST(1 AS BIGINT) << ({value}))::bit(64)), 0)"
