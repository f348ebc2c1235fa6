"""The migrations build the store of SPEC §4 on SQLite and on PostgreSQL, and match the models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from learning_analytics.domain.timezones import day_number
from learning_analytics.infrastructure.db.engine import create_engine
from learning_analytics.infrastructure.db.migrate import (
    MigrationSetupError,
    current_revision,
    head_revision,
    upgrade,
)
from learning_analytics.infrastructure.db.tables import (
    ActivityDayRow,
    LearningEventRow,
    OrganizationRow,
    UserRow,
    metadata,
)
from tests.conftest import Database

pytestmark = pytest.mark.anyio

SPEC_TABLES = {
    "organizations",
    "departments",
    "teams",
    "users",
    "external_ids",
    "courses",
    "course_units",
    "enrollments",
    "learning_events",
    "assessment_attempts",
    "assessment_skill_scores",
    "skill_profiles",
    "strategic_skill_targets",
    "learning_paths",
    "practice_sessions",
    "assistant_interactions",
    "feedback",
    "points_ledger",
    "user_achievements",
    "sync_state",
    "raw_payloads",
    "data_versions",
}

# Indexes the analytics queries rely on (table -> indexed column lists).
ANALYTICS_INDEXES = {
    "learning_events": ["user_id", "occurred_at"],
    "assessment_attempts": ["user_id", "submitted_at"],
    "practice_sessions": ["user_id", "started_at"],
    "assistant_interactions": ["user_id", "asked_at"],
    "points_ledger": ["user_id", "awarded_at"],
    "users": ["organization_id", "department_id"],
}


async def _inspect(database: Database, look: Any) -> Any:
    engine: AsyncEngine = create_engine(database.url, connect_args=database.connect_args)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_an_empty_database_has_no_revision(empty_database: Database) -> None:
    assert await current_revision(empty_database.url, schema=empty_database.schema) is None


async def test_upgrade_from_empty_reaches_head_and_creates_every_table(
    empty_database: Database,
) -> None:
    await upgrade(empty_database.url, schema=empty_database.schema)

    head = head_revision()
    assert head is not None
    assert await current_revision(empty_database.url, schema=empty_database.schema) == head
    tables = await _inspect(empty_database, _table_names)
    assert tables - {"alembic_version"} >= SPEC_TABLES
    assert tables >= set(metadata.tables)


async def test_upgrade_twice_is_harmless(database: Database) -> None:
    await upgrade(database.url, schema=database.schema)

    assert await current_revision(database.url, schema=database.schema) == head_revision()


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await _inspect(database, differences) == []


async def test_analytics_indexes_exist(database: Database) -> None:
    def indexed(connection: Connection) -> dict[str, list[list[str]]]:
        inspector = inspect(connection)
        return {
            table: [list(index["column_names"]) for index in inspector.get_indexes(table)]
            for table in ANALYTICS_INDEXES
        }

    found = await _inspect(database, indexed)

    for table, columns in ANALYTICS_INDEXES.items():
        assert columns in found[table], table
    assert ["course_id"] in (await _inspect(database, _enrollment_indexes))
    assert ["user_id"] in (await _inspect(database, _enrollment_indexes))


def _enrollment_indexes(connection: Connection) -> list[list[str]]:
    return [list(index["column_names"]) for index in inspect(connection).get_indexes("enrollments")]


async def test_points_ledger_key_is_unique(database: Database) -> None:
    def unique_keys(connection: Connection) -> list[list[str]]:
        constraints = inspect(connection).get_unique_constraints("points_ledger")
        return [list(constraint["column_names"]) for constraint in constraints]

    assert ["user_id", "rule", "source_event"] in await _inspect(database, unique_keys)


async def test_a_schema_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(MigrationSetupError):
        await upgrade(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", schema="elsewhere")


@pytest.mark.postgres
async def test_an_unsafe_schema_name_is_refused(postgres_url: str) -> None:
    with pytest.raises(MigrationSetupError):
        await upgrade(postgres_url, schema='x"; DROP TABLE users; --')


INGESTION_INDEXED = (
    "learning_events",
    "assessment_attempts",
    "practice_sessions",
    "assistant_interactions",
    "feedback",
    "enrollments",
    "skill_profiles",
)


async def test_activity_tables_are_indexed_by_ingestion_time(database: Database) -> None:
    """The points ledger's "who was touched since this sync began" reads these (SPEC §11)."""

    def indexed(connection: Connection) -> dict[str, list[list[str]]]:
        inspector = inspect(connection)
        return {
            table: [list(index["column_names"]) for index in inspector.get_indexes(table)]
            for table in INGESTION_INDEXED
        }

    found = await _inspect(database, indexed)
    for table in INGESTION_INDEXED:
        assert ["ingested_at", "user_id"] in found[table], table


async def test_the_rollup_migration_fills_it_from_the_stored_activity(
    empty_database: Database,
) -> None:
    """0006 sums the activity already stored into `activity_days`, in local days of the
    learner's organisation: 21:30 and 22:30 UTC on 2026-10-24 are two Berlin days."""
    url, schema = empty_database.url, empty_database.schema
    await upgrade(url, schema=schema, revision="0005")
    stamp = {"source": "test", "ingested_at": datetime(2026, 11, 1, tzinfo=UTC)}
    engine = create_engine(url, connect_args=empty_database.connect_args)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(OrganizationRow),
                [{"id": "o", "name": "O", "timezone": "Europe/Berlin", **stamp}],
            )
            await connection.execute(
                insert(UserRow), [{"id": "u", "organization_id": "o", "role": "learner", **stamp}]
            )
            await connection.execute(
                insert(LearningEventRow),
                [
                    {
                        "id": f"e-{hour}",
                        "user_id": "u",
                        "course_id": "c",
                        "unit_id": None,
                        "verb": "progress",
                        "seconds_spent": 60,
                        "occurred_at": datetime(2026, 10, 24, hour, 30, tzinfo=UTC),
                        **stamp,
                    }
                    for hour in (21, 22)
                ],
            )
        await upgrade(url, schema=schema)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ActivityDayRow.day, ActivityDayRow.events, ActivityDayRow.seconds)
                )
            ).all()
    finally:
        await engine.dispose()
    assert sorted(map(tuple, rows)) == [
        (day_number(date(2026, 10, 24)), 1, 60),
        (day_number(date(2026, 10, 25)), 1, 60),
    ]
