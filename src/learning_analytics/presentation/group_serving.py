"""Serving trainer and organisation analytics: the shared pipeline, then JSON or CSV.

Both families answer through `ServingPipeline` (cache, single-flight, ETag, meta, stale) with the
answer's `data` cached once as JSON; `Accept: text/csv` renders the endpoint's main table (one
row per course, unit band, department, week or skill) from that same cached JSON, so CSV and JSON
always agree and share one cache entry. CSV: RFC 4180 (`csv` module, CRLF, quoting as needed),
a header row of stable camelCase column names, nulls as empty cells, and text cells that a
spreadsheet would run as a formula (leading = + - @ tab CR) prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from learning_analytics.application.org_analytics import AnalyticsQuery, Answer
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.models import Principal
from learning_analytics.presentation.params import parse_timezone, parse_window, window_cache_query
from learning_analytics.presentation.responses import (
    analytics_response,
    cache_control,
    etag_matches,
    render_data,
    wants_refresh,
)
from learning_analytics.presentation.schemas import PROBLEMS, Envelope
from learning_analytics.presentation.state import Services

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
Family = Literal["trainer", "organization"]


# The OpenAPI note that a 200 may also be the CSV table (`Accept: text/csv`).
CSV_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def add_group_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Awaitable[Response]],
    *,
    name: str,
    model: type[BaseModel],
    summary: str,
) -> None:
    """Register a trainer or organisation metric: GET `path`, answered by `endpoint` (named
    `name` in the OpenAPI operation ids), the envelope of `model` or its CSV table, the
    problem responses."""
    endpoint.__name__ = endpoint.__qualname__ = name
    router.get(
        path,
        response_model=Envelope[model],  # type: ignore[valid-type]
        responses={**PROBLEMS, **CSV_CONTENT},
        summary=summary,
    )(endpoint)


@dataclass(frozen=True, slots=True)
class CsvTable:
    """The main table of an endpoint: a list member of `data` and the columns to export
    (dotted camelCase paths inside one row; a list cell is joined with ';')."""

    name: str
    rows: str
    columns: tuple[str, ...]
    join_key: str | None = None  # for a list of objects: the member to join


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


def _lookup(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _cell(value: Any, join_key: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(
            _cell(item.get(join_key) if isinstance(item, dict) and join_key else item, None)
            for item in value
        )
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return str(value)


def render_csv(data: bytes, table: CsvTable) -> bytes:
    document = json.loads(data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in document.get(table.rows, []):
        writer.writerow([_cell(_lookup(row, path), table.join_key) for path in table.columns])
    return buffer.getvalue().encode()


def csv_response(
    request: Request,
    entry_data: bytes,
    etag: str,
    data_source: str,
    table: CsvTable,
    *,
    max_age: int,
    stale_while_revalidate: int,
) -> Response:
    csv_etag = etag[:-1] + '-csv"'
    headers = {
        "ETag": csv_etag,
        "Cache-Control": cache_control(
            max_age=max_age, stale_while_revalidate=stale_while_revalidate
        ),
        "Vary": "Authorization, Accept",
        "X-Data-Source": data_source,
        "Content-Disposition": f'attachment; filename="{table.name}.csv"',
    }
    if etag_matches(request, csv_etag):
        return Response(status_code=304, headers=headers)
    return Response(render_csv(entry_data, table), media_type=CSV_MEDIA_TYPE, headers=headers)


def analytics_query(
    *,
    start: str | None,
    end: str | None,
    tz: str | None,
    course_id: str | None = None,
    department_id: str | None = None,
) -> AnalyticsQuery:
    first, last = parse_window(start, end)
    return AnalyticsQuery(
        start=first,
        end=last,
        tz=parse_timezone(tz),
        course_id=course_id,
        department_id=department_id,
    )


def cache_key(
    route: str, subject: str, query: AnalyticsQuery, *, visible: frozenset[str] | None = None
) -> CacheKey:
    return CacheKey.build(
        route=route,
        subject=subject,
        query={
            **window_cache_query(query.start, query.end),
            "tz": query.tz.key if query.tz else "default",
            "courseId": query.course_id,
            "departmentId": query.department_id,
            "visible": ",".join(sorted(visible)) if visible is not None else None,
        },
    )


def answer_payload(answer: Answer[Any], subject_field: str) -> dict[str, Any]:
    window = answer.window
    start: date = window.start
    end: date = window.end
    return {
        subject_field: answer.subject_id,
        "start": start,
        "end": end,
        "timezone": answer.timezone,
        **asdict(answer.result),
    }


async def serve_group(
    request: Request,
    *,
    services: Services,
    principal: Principal,
    family: Family,
    key: CacheKey,
    subject_field: str,
    compute: Callable[[], Awaitable[Answer[Any]]],
    model: type[BaseModel],
    table: CsvTable,
) -> Response:
    """Serve one trainer/organisation answer through the shared pipeline, as JSON or CSV."""

    async def computed() -> Computed:
        answer = await compute()
        data = model.model_validate(answer_payload(answer, subject_field))
        return Computed(data=render_data(data), data_as_of=answer.data_as_of)

    answer = await services.pipeline.serve(
        key, computed, force_refresh=wants_refresh(request, principal, key.subject)
    )
    services.metrics.cache.labels(family, "hit" if answer.hit else "miss").inc()
    settings = services.settings
    max_age = (
        settings.http_max_age_trainer if family == "trainer" else settings.http_max_age_organization
    )
    swr = settings.http_stale_while_revalidate
    if wants_csv(request):
        return csv_response(
            request,
            answer.entry.data,
            answer.entry.etag,
            answer.data_source,
            table,
            max_age=max_age,
            stale_while_revalidate=swr,
        )
    response = analytics_response(request, answer, max_age=max_age, stale_while_revalidate=swr)
    response.headers["Vary"] = "Authorization, Accept"
    return response
