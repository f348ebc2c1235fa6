"""The per-learner, per-local-day activity rollups (`activity_days`, and `activity_unit_days`
for learning seconds per unit), kept exact by the writer; and the per-learner skill-gap
summaries (`skill_gap_summaries`), kept with the skill profiles.

Organisation figures over 30 000 learners read a window of days from this table instead of
hundreds of thousands of activity rows (bench/README.md, issue 5). A row sums one learner's
learning events, attempts, practice sessions, assistant questions and feedback of one local day
in the timezone of the learner's organisation (UTC without one).

How it stays equal to the activity tables (a test compares them on both databases):
- every write of activity rows recomputes, in the same transaction, the (learner, day) buckets
  the written rows fall in, and those the same ids fell in before the write (a re-ingested row
  may have moved to another learner or instant): the buckets' rows are deleted and summed again
  from the activity tables, for the written learners over the span of days touched;
- each row also names the learner's organisation, so a request reads only its organisation's
  rows; a learner whose organisation or zone changes (a move, or their organisation's new
  timezone) is recomputed entirely; `rebuild` recomputes everyone (after a bulk load that
  bypassed the writer).

On PostgreSQL the recomputation holds transaction-scoped advisory locks on the learners it
recomputes, so two concurrent writers about the same learner cannot sum each other's uncommitted
rows away: the second one waits, then reads the first one's committed rows (READ COMMITTED).
SQLite has one writer at a time anyway.

The work is synchronous Core on a `Connection`: the async writer runs it through `run_sync`, and
migration 0006 backfills the table with the same code.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from learning_analytics.domain.timezones import (
    day_of_number,
    local_day_number,
    offset_segments,
    zone_named,
)
from learning_analytics.infrastructure.db.sqltime import local_day
from learning_analytics.infrastructure.db.tables import (
    ROLLUP_COUNTS,
    ROLLUP_SUMS,
    ActivityDayRow,
    ActivityUnitDayRow,
    AssessmentAttemptRow,
    AssistantInteractionRow,
    FeedbackRow,
    LearningEventRow,
    OrganizationRow,
    PracticeSessionRow,
    SkillGapSummaryRow,
    SkillProfileRow,
    UserRow,
)

USERS_PER_STATEMENT = 500
IDS_PER_STATEMENT = 5_000
LOCK_NAMESPACE = 481_516  # pg_advisory_xact_lock(namespace, schema key): "everyone" lock
PER_LEARNER_NAMESPACE = 481_517  # pg_advisory_xact_lock(namespace, learner key)
LOCKS_PER_TRANSACTION = 1_000
MARGIN = timedelta(days=2)  # more than any UTC offset, around a span of local days
ROLLUP: Table = ActivityDayRow.__table__  # type: ignore[assignment]
UNIT_ROLLUP: Table = ActivityUnitDayRow.__table__  # type: ignore[assignment]
NO_UNIT = ""


@dataclass(frozen=True, slots=True)
class Source:
    """An activity table: its id, learner and instant columns."""

    table: Any
    id: Any
    user: Any
    at: Any


EVENTS = Source(
    LearningEventRow, LearningEventRow.id, LearningEventRow.user_id, LearningEventRow.occurred_at
)
ATTEMPTS = Source(
    AssessmentAttemptRow,
    AssessmentAttemptRow.id,
    AssessmentAttemptRow.user_id,
    AssessmentAttemptRow.submitted_at,
)
PRACTICE = Source(
    PracticeSessionRow,
    PracticeSessionRow.id,
    PracticeSessionRow.user_id,
    PracticeSessionRow.started_at,
)
QUESTIONS = Source(
    AssistantInteractionRow,
    AssistantInteractionRow.id,
    AssistantInteractionRow.user_id,
    AssistantInteractionRow.asked_at,
)
FEEDBACK = Source(FeedbackRow, FeedbackRow.id, FeedbackRow.user_id, FeedbackRow.submitted_at)
SOURCES = (EVENTS, ATTEMPTS, PRACTICE, QUESTIONS, FEEDBACK)
SOURCE_OF = {source.table: source for source in SOURCES}

Touch = tuple[str, datetime]  # (learner, instant) of a written or replaced activity row


def _among(column: Any, values: Sequence[str], connection: Connection) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as `= ANY(array)`, one parameter, so the statement's
    text (and the server's prepared plan) does not change with the number of values."""
    if connection.dialect.name == "postgresql":
        condition: ColumnElement[bool] = column == any_(
            bindparam(None, list(values), type_=ARRAY(String()))
        )
        return condition
    return column.in_(values)  # type: ignore[no-any-return]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stored_touches(connection: Connection, model: Any, ids: Iterable[str]) -> list[Touch]:
    """Learner and instant of the stored rows with these ids (before they are overwritten)."""
    source = SOURCE_OF[model]
    wanted = sorted(set(ids))
    found: list[Touch] = []
    for chunk in _chunks(wanted, IDS_PER_STATEMENT):
        rows = connection.execute(
            select(source.user, source.at).where(_among(source.id, chunk, connection))
        )
        found.extend((str(user), at) for user, at in rows)
    return found


@dataclass(frozen=True, slots=True)
class Home:
    """Where a learner's rollup rows belong: their organisation ("" unknown) and its zone."""

    organization_id: str
    zone: ZoneInfo

    @property
    def key(self) -> tuple[str, str]:
        return self.organization_id, self.zone.key


def homes_of(connection: Connection, user_ids: Sequence[str]) -> dict[str, Home]:
    """Each learner's organisation and its timezone (UTC without one; a learner not stored yet
    has no organisation)."""
    homes = {user_id: Home("", zone_named(None)) for user_id in user_ids}
    for chunk in _chunks(sorted(set(user_ids)), IDS_PER_STATEMENT):
        query = (
            select(UserRow.id, UserRow.organization_id, OrganizationRow.timezone)
            .outerjoin(OrganizationRow, OrganizationRow.id == UserRow.organization_id)
            .where(_among(UserRow.id, chunk, connection))
        )
        for user_id, organization_id, name in connection.execute(query):
            homes[user_id] = Home(organization_id or "", zone_named(name))
    return homes


def _by_home(homes: dict[str, Home]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for user_id, home in sorted(homes.items()):
        groups[home.key].append(user_id)
    return groups


def _lock_key(name: str) -> int:
    """A stable signed 32-bit key (a collision only serialises two learners)."""
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _schema(connection: Connection) -> str:
    """The schema the connection's store works in (its search_path, set when it connected):
    asked once per pooled connection."""
    schema: str | None = connection.info.get("rollup_schema")
    if schema is None:
        schema = str(connection.execute(text("SELECT current_schema()")).scalar_one())
        connection.info["rollup_schema"] = schema
    return schema


def _lock(connection: Connection, user_ids: Iterable[str]) -> None:
    """Hold, until the transaction ends, the rollups' locks for these learners: the shared
    "everyone" lock and one exclusive lock per learner, taken in key order so that writers
    locking overlapping learners cannot deadlock; writers about other learners (other sources
    of the same sync round, say) go on side by side. Past `LOCKS_PER_TRANSACTION` learners (a
    rebuild, a migration) the "everyone" lock is taken exclusively instead, so the server's
    lock table is not filled with one entry per learner.

    Advisory locks belong to the whole database: the keys include the schema the store works
    in, so stores in other schemas of the same database (another deployment, a parallel test
    run) neither wait for these learners' locks nor join a deadlock with them."""
    if connection.dialect.name != "postgresql":
        return
    schema = _schema(connection)
    everyone = {"namespace": LOCK_NAMESPACE, "key": _lock_key(schema)}
    keys = sorted({_lock_key(f"{schema}:{user_id}") for user_id in user_ids})
    if len(keys) > LOCKS_PER_TRANSACTION:
        connection.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"), everyone)
        return
    connection.execute(text("SELECT pg_advisory_xact_lock_shared(:namespace, :key)"), everyone)
    # Volatile functions in the select list run after the ORDER BY: in key order.
    connection.execute(
        text(
            "SELECT pg_advisory_xact_lock(:namespace, key) "
            "FROM unnest(CAST(:keys AS integer[])) WITH ORDINALITY AS k(key, n) ORDER BY n"
        ),
        {"namespace": PER_LEARNER_NAMESPACE, "keys": keys},
    )


def _day_start(day: int) -> datetime:
    return datetime.combine(day_of_number(day), time(0), UTC)


def _part(
    source: Source,
    among: ColumnElement[bool],
    day: Any,
    lo: datetime,
    hi: datetime,
    first: int,
    last: int,
) -> Any:
    zero = literal(0)
    columns: dict[str, Any] = dict.fromkeys(ROLLUP_SUMS, zero)
    columns.update(first_event_at=null(), last_event_at=null())
    if source is EVENTS:
        unit_done = case(
            (and_(LearningEventRow.verb == "completed", LearningEventRow.unit_id.is_not(None)), 1),
            else_=0,
        )
        columns.update(
            events=func.count(),
            units=func.sum(unit_done),
            seconds=func.sum(LearningEventRow.seconds_spent),
            first_event_at=func.min(source.at),
            last_event_at=func.max(source.at),
        )
    elif source is ATTEMPTS:
        columns.update(attempts=func.count(), score_sum=func.sum(AssessmentAttemptRow.score_pct))
    else:
        name = {PRACTICE.table: "practice", QUESTIONS.table: "questions"}.get(
            source.table, "feedback"
        )
        columns[name] = func.count()
    return (
        select(
            source.user.label("user_id"),
            day.label("day"),
            *(value.label(key) for key, value in columns.items()),
        )
        .where(among, source.at >= lo, source.at < hi, day >= first, day <= last)
        .group_by(source.user, day)
    )


def recompute(
    connection: Connection, users: Sequence[str], home: Home, first: int, last: int
) -> None:
    """Make the rows of `users` (all at `home`) for local days first..last the sums of the
    activity tables."""
    if not users or last < first:
        return
    lo, hi = _day_start(first) - MARGIN, _day_start(last + 1) + MARGIN
    segments = offset_segments(home.zone, lo, hi)
    parts = [
        _part(
            source,
            _among(source.user, users, connection),
            local_day(source.at, segments),
            lo,
            hi,
            first,
            last,
        )
        for source in SOURCES
    ]
    acts = union_all(*parts).subquery("acts")
    summed = select(
        acts.c.user_id,
        acts.c.day,
        literal(home.organization_id).label("organization_id"),
        *(func.sum(acts.c[name]).label(name) for name in ROLLUP_SUMS),
        func.min(acts.c.first_event_at).label("first_event_at"),
        func.max(acts.c.last_event_at).label("last_event_at"),
    ).group_by(acts.c.user_id, acts.c.day)
    for table in (ROLLUP, UNIT_ROLLUP):
        connection.execute(
            delete(table).where(
                _among(table.c.user_id, users, connection),
                table.c.day >= first,
                table.c.day <= last,
            )
        )
    names = ["user_id", "day", "organization_id", *ROLLUP_COUNTS]
    connection.execute(insert(ROLLUP).from_select(names, summed))
    day = local_day(EVENTS.at, segments)
    unit = func.coalesce(LearningEventRow.unit_id, literal(NO_UNIT))
    per_unit = (
        select(
            EVENTS.user,
            day,
            unit,
            literal(home.organization_id),
            func.sum(LearningEventRow.seconds_spent),
        )
        .where(
            _among(EVENTS.user, users, connection),
            EVENTS.at >= lo,
            EVENTS.at < hi,
            LearningEventRow.seconds_spent > 0,
            day >= first,
            day <= last,
        )
        .group_by(EVENTS.user, day, unit)
    )
    connection.execute(
        insert(UNIT_ROLLUP).from_select(
            ["user_id", "day", "unit_id", "organization_id", "seconds"], per_unit
        )
    )


def refresh(connection: Connection, touches: Iterable[Touch]) -> None:
    """Recompute the buckets these (learner, instant) pairs fall in."""
    by_user: dict[str, list[datetime]] = defaultdict(list)
    for user_id, at in touches:
        by_user[user_id].append(at)
    if not by_user:
        return
    _lock(connection, by_user)
    homes = homes_of(connection, sorted(by_user))
    for members in _by_home(homes).values():
        home = homes[members[0]]
        days = [local_day_number(at, home.zone) for user in members for at in by_user[user]]
        for chunk in _chunks(members, USERS_PER_STATEMENT):
            recompute(connection, chunk, home, min(days), max(days))


def _history_span(connection: Connection, users: Sequence[str]) -> tuple[datetime, datetime] | None:
    bounds = union_all(
        *(
            select(func.min(s.at).label("lo"), func.max(s.at).label("hi")).where(
                _among(s.user, users, connection)
            )
            for s in SOURCES
        )
    ).subquery("bounds")
    lo, hi = connection.execute(select(func.min(bounds.c.lo), func.max(bounds.c.hi))).one()
    if lo is None or hi is None:
        return None
    # SQLite hands back the stored text of an aggregate over a union: parse it the same way.
    return _instant(lo), _instant(hi)


def _instant(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def recompute_users(connection: Connection, user_ids: Sequence[str]) -> None:
    """Recompute every day of these learners (their zone changed, or a rebuild)."""
    if not user_ids:
        return
    _lock(connection, user_ids)
    homes = homes_of(connection, user_ids)
    for members in _by_home(homes).values():
        home = homes[members[0]]
        for chunk in _chunks(members, USERS_PER_STATEMENT):
            for table in (ROLLUP, UNIT_ROLLUP):
                connection.execute(delete(table).where(_among(table.c.user_id, chunk, connection)))
            span = _history_span(connection, chunk)
            if span is not None:
                first, last = (local_day_number(at, home.zone) for at in span)
                recompute(connection, chunk, home, first, last)


def active_learners(connection: Connection) -> list[str]:
    """Every learner id with activity rows, or in the rollup (for a rebuild)."""
    ids = union_all(
        *(select(s.user.label("user_id")).distinct() for s in SOURCES),
        select(ROLLUP.c.user_id).distinct(),
    ).subquery("ids")
    return sorted(connection.execute(select(ids.c.user_id).distinct()).scalars())


def home_keys_of_users(connection: Connection, user_ids: Sequence[str]) -> dict[str, Any]:
    return {user_id: home.key for user_id, home in homes_of(connection, user_ids).items()}


def users_of_organizations(connection: Connection, organization_ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for chunk in _chunks(sorted(set(organization_ids)), IDS_PER_STATEMENT):
        found.extend(
            connection.execute(
                select(UserRow.id).where(UserRow.organization_id.in_(chunk))
            ).scalars()
        )
    return found


def organization_zone_keys(
    connection: Connection, organization_ids: Sequence[str]
) -> dict[str, str]:
    keys = {organization_id: zone_named(None).key for organization_id in organization_ids}
    for chunk in _chunks(sorted(set(organization_ids)), IDS_PER_STATEMENT):
        query = select(OrganizationRow.id, OrganizationRow.timezone).where(
            OrganizationRow.id.in_(chunk)
        )
        for organization_id, name in connection.execute(query):
            keys[organization_id] = zone_named(name).key
    return keys


GAPS: Table = SkillGapSummaryRow.__table__  # type: ignore[assignment]


async def rebuild(sessions: async_sessionmaker[AsyncSession], *, batch: int = 2_000) -> int:
    """Recompute the whole rollup, `batch` learners per transaction (after a bulk load that
    bypassed the writer). Returns the number of learners recomputed."""
    async with sessions() as session:
        users = await session.run_sync(lambda s: active_learners(s.connection()))
        profiled = await session.run_sync(lambda s: skill_profile_learners(s.connection()))
    for chunk in _chunks(users, batch):

        def work(session: Session, members: Sequence[str] = chunk) -> None:
            recompute_users(session.connection(), members)

        async with sessions.begin() as session:
            await session.run_sync(work)
    for chunk in _chunks(profiled, batch):

        def gaps(session: Session, members: Sequence[str] = chunk) -> None:
            refresh_skill_gaps(session.connection(), members)

        async with sessions.begin() as session:
            await session.run_sync(gaps)
    return len(users)


async def compact(engine: AsyncEngine) -> bool:
    """Rebuild the rollups' indexes and vacuum them (PostgreSQL; False elsewhere, nothing done).

    A rebuild deletes and re-inserts every row in batches of learners that each span all days,
    so the `(organization_id, day, user_id)` indexes the organisation figures scan end up
    several times their size (half-empty pages, dead entries; on 50 000 learners 2.4 GB
    instead of 0.45 GB, bench/README.md) and each window reads that many more pages.
    `REINDEX ... CONCURRENTLY` builds them again from the live rows without blocking readers
    or writers; `VACUUM (ANALYZE)` then marks the pages all-visible (index-only scans) and
    refreshes the statistics. The heap keeps its size (`VACUUM FULL` would return it, under an
    exclusive lock)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as connection:
        # Neither statement runs inside a transaction block.
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in (ROLLUP, UNIT_ROLLUP, GAPS):
            await autocommit.execute(text(f"REINDEX TABLE CONCURRENTLY {table.name}"))
            await autocommit.execute(text(f"VACUUM (ANALYZE) {table.name}"))
    return True


def refresh_skill_gaps(connection: Connection, user_ids: Sequence[str]) -> None:
    """Make these learners' skill-gap summaries the sums of their stored skill profiles (under
    the same per-learner locks as the day rollups)."""
    users = sorted(set(user_ids))
    if not users:
        return
    _lock(connection, users)
    profile = SkillProfileRow
    gap = case(
        (
            profile.target_level > profile.current_level,
            profile.target_level - profile.current_level,
        ),
        else_=0,
    )
    for chunk in _chunks(users, USERS_PER_STATEMENT):
        connection.execute(delete(GAPS).where(_among(GAPS.c.user_id, chunk, connection)))
        summed = (
            select(profile.user_id, func.sum(gap), func.count())
            .where(_among(profile.user_id, chunk, connection), profile.target_level.is_not(None))
            .group_by(profile.user_id)
        )
        connection.execute(insert(GAPS).from_select(["user_id", "gap_sum", "profiles"], summed))


def skill_profile_learners(connection: Connection) -> list[str]:
    """Every learner with a stored skill profile or summary (for a rebuild)."""
    ids = union_all(
        select(SkillProfileRow.user_id).distinct(), select(GAPS.c.user_id).distinct()
    ).subquery("ids")
    return sorted(connection.execute(select(ids.c.user_id).distinct()).scalars())
