"""Sibling ids → our ids, through the `external_ids` table (SPEC §4, EDUCORE.md §5.7).

The siblings disagree on ids. Our rules:

- Directory is the authority on organisations, departments, teams and people, and Course Builder
  on courses: an id they send that is not mapped yet becomes our id as it is ("minted"), and the
  mapping `(source, kind, id) → id` is recorded. So our user ids are Directory's user ids, which
  is also what nAuth's `directoryUserId` and the other siblings carry.
- Skills Engine, Learner AI, DevLab and Course Builder name people by Directory's user ids: an id
  not mapped under the sibling's own name is looked up under Directory's, and the mapping found
  is recorded under the sibling's name.
- Assessment sends integers: "the numeric part of the original id". When Directory people and
  Course Builder courses are minted, the numeric part of their id (when it has one that fits a
  JavaScript safe integer) is recorded as their Assessment id.
- Anything still unknown is not guessed: the record that needs it is skipped (and its reply stays
  in `raw_payloads` for replay once the mapping exists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from learning_analytics.application.ports import RecordWriter
from learning_analytics.domain.records import ExternalId

JS_SAFE_DIGITS = 15  # every 15-digit integer is a JavaScript safe integer (< 2**53)
_NON_DIGITS = re.compile(r"\D+")


def numeric_part(identifier: str) -> str | None:
    """The integer an id becomes in Assessment (`u-000123` → `123`), or None if it has none."""
    digits = _NON_DIGITS.sub("", identifier)
    if not digits or len(digits) > JS_SAFE_DIGITS:
        return None
    return str(int(digits))


class IdMap:
    """The mappings one write needs: resolved in bulk first, then read record by record."""

    def __init__(self, writer: RecordWriter, *, source: str) -> None:
        self._writer = writer
        self.source = source
        self._known: dict[tuple[str, str], str] = {}
        self._new: dict[tuple[str, str, str], ExternalId] = {}
        self.skipped = 0

    async def resolve(
        self,
        kind: str,
        external_ids: Iterable[str | None],
        *,
        via: str | None = None,
        mint: bool = False,
    ) -> None:
        """Look up our ids of `external_ids` (of this source); then under `via` (another
        source's name for the same ids); then, with `mint`, adopt the unknown ones as they are."""
        wanted = {value for value in external_ids if value} - {
            external for known_kind, external in self._known if known_kind == kind
        }
        if not wanted:
            return
        found = await self._writer.internal_ids(
            source=self.source, kind=kind, external_ids=sorted(wanted)
        )
        self._known.update(((kind, external), internal) for external, internal in found.items())
        missing = wanted - found.keys()
        if missing and via is not None:
            borrowed = await self._writer.internal_ids(
                source=via, kind=kind, external_ids=sorted(missing)
            )
            for external, internal in borrowed.items():
                self.learn(kind, external, internal)
            missing -= borrowed.keys()
        if mint:
            for external in sorted(missing):
                self.learn(kind, external, external)

    def learn(
        self, kind: str, external_id: str, internal_id: str, *, source: str | None = None
    ) -> None:
        """Record a mapping (of this source unless `source` says another)."""
        owner = source or self.source
        if owner == self.source:
            self._known[(kind, external_id)] = internal_id
        self._new[(owner, kind, external_id)] = ExternalId(owner, kind, external_id, internal_id)

    def get(self, kind: str, external_id: str | None) -> str | None:
        if not external_id:
            return None
        return self._known.get((kind, external_id))

    def need(self, kind: str, external_id: str | None) -> str | None:
        """Like `get`, counting a miss as a skipped record."""
        found = self.get(kind, external_id)
        if found is None:
            self.skipped += 1
        return found

    async def save(self, *, ingested_at: datetime) -> int:
        if not self._new:
            return 0
        written = await self._writer.upsert_external_ids(
            list(self._new.values()), ingested_at=ingested_at
        )
        self._new.clear()
        return written
