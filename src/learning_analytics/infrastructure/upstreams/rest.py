"""The "rest" transport (docs/upstreams.md): paged collections and per-user reads, mapped to
canonical records. Each sibling's module declares its wire models and mappings; this module
reads them through the shared resilient `UpstreamClient`.

A reply that validates but maps to an impossible record (a score of 140 %, an unknown role) is
a contract error of the upstream, never an error of ours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from learning_analytics.application.ports import RecordWriter, SourcePage
from learning_analytics.domain.errors import UpstreamContractError
from learning_analytics.infrastructure.upstreams.http import UpstreamClient

W = TypeVar("W", bound="WireItem")
Write = Callable[..., Awaitable[int]]


class WireModel(BaseModel):
    # Unknown fields are kept (the archived reply keeps them too) and never fail validation.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class WireItem(WireModel):
    id: str
    updated_at: AwareDatetime | None = None


class BulkData(WireModel, Generic[W]):
    items: list[W]
    next_cursor: str | None = None


class BulkReply(WireModel, Generic[W]):
    success: bool
    data: BulkData[W]


class UserData(WireModel, Generic[W]):
    items: list[W]


class UserReply(WireModel, Generic[W]):
    success: bool
    data: UserData[W]


@dataclass(frozen=True, slots=True)
class RestCollection(Generic[W]):
    """One collection of one upstream: a `CollectionSource`, and a `UserSource` when the
    upstream serves it per user."""

    client: UpstreamClient
    collection: str
    item: type[W]
    to_record: Callable[[W], object]
    writer_method: Callable[[RecordWriter], Write]
    per_user: bool = False
    page_size: int = 1000

    @property
    def name(self) -> str:
        return f"{self.client.name}.{self.collection}"

    async def fetch(
        self, *, since: datetime | None, cursor: str | None, request_id: str | None = None
    ) -> SourcePage:
        params = {"limit": str(self.page_size)}
        if since is not None:
            params["since"] = since.isoformat()
        if cursor is not None:
            params["cursor"] = cursor
        reply = await self.client.get_json(
            f"/api/v1/{self.collection}",
            params=params,
            model=BulkReply[self.item],  # type: ignore[name-defined]
            request_id=request_id,
        )
        return self._page(reply.data.items, reply.data.next_cursor, reply)

    async def fetch_user(self, user_id: str, *, request_id: str | None = None) -> SourcePage:
        reply = await self.client.get_json(
            f"/api/v1/users/{quote(user_id, safe='')}/{self.collection}",
            model=UserReply[self.item],  # type: ignore[name-defined]
            request_id=request_id,
        )
        return self._page(reply.data.items, None, reply)

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        if not page.records:
            return 0
        write = self.writer_method(writer)
        return await write(page.records, source=self.client.name, ingested_at=ingested_at)

    def _page(self, items: Sequence[W], next_cursor: str | None, reply: WireModel) -> SourcePage:
        try:
            records = [self.to_record(item) for item in items]
        except ValueError as exc:
            raise UpstreamContractError(
                f"{self.name} sent a record that cannot exist", service=self.client.name,
                details=str(exc)[:200],
            ) from exc  # fmt: skip
        stamps = [item.updated_at for item in items if item.updated_at is not None]
        return SourcePage(
            records=records,
            next_cursor=next_cursor,
            newest=max(stamps, default=None),
            raw=reply.model_dump_json(by_alias=True),
        )


def collection(
    client: UpstreamClient,
    name: str,
    item: type[W],
    to_record: Callable[[W], Any],
    writer_method: Callable[[RecordWriter], Write],
    *,
    per_user: bool = False,
) -> RestCollection[W]:
    return RestCollection(
        client=client,
        collection=name,
        item=item,
        to_record=to_record,
        writer_method=writer_method,
        per_user=per_user,
    )
