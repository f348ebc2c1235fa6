"""Common query parameters of the analytics endpoints (SPEC §6): `from`, `to`, `tz`.

Parsed once here, for every router: a bad value is an InvalidInputError (422 VALIDATION_ERROR
naming the parameter). The window rules (default last 30 days, at most 366) live in the
application layer (`application.learner.check_window` / `resolve_window`): the defaults depend on
"today" in the zone the answer is computed in, so they are resolved inside the computation.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Query

from learning_analytics.application.learner import MAX_WINDOW_DAYS, check_window
from learning_analytics.domain.errors import InvalidInputError

TZ_MAX_LENGTH = 64

TzQuery = Annotated[
    str | None,
    Query(
        max_length=TZ_MAX_LENGTH,
        description="IANA timezone for day boundaries (default: the user's, then the org's, UTC)",
        examples=["Europe/Berlin"],
    ),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=10,
        description="First day of the window, an ISO date (default: 29 days before `to`)",
        examples=["2026-01-01"],
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=10,
        description=f"Last day of the window, an ISO date (default: today; at most "
        f"{MAX_WINDOW_DAYS} days after `from`)",
        examples=["2026-01-30"],
    ),
]


def parse_timezone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"Unknown timezone: {name!r}", details="tz") from exc


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"{name} must be an ISO date (YYYY-MM-DD), not {value!r}", details=name
        ) from exc


def parse_window(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """`from` and `to` as dates; when both are given, checked as a window (application rule)."""
    first = _parse_date(start, "from")
    last = _parse_date(end, "to")
    if first is not None and last is not None:
        check_window(first, last)
    return first, last


def window_cache_query(start: date | None, end: date | None) -> dict[str, str]:
    """The window as it appears in a cache key. Missing ends are resolved inside the cached
    computation (they depend on "today" in the answer's zone), so they are keyed "default"."""
    return {
        "from": start.isoformat() if start else "default",
        "to": end.isoformat() if end else "default",
    }
