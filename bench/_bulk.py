"""Bulk synthetic fills for the benchmarks: secondary indexes and unique constraints are dropped
during the fill and rebuilt after it (building an index once is much faster than maintaining it
row by row). Benchmark schemas only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def fill(
    engine: AsyncEngine, statements: Sequence[str], params: dict[str, Any], tables: Sequence[str]
) -> None:
    async with engine.begin() as connection:
        found = await connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = ANY(:tables) "
                "AND indexname LIKE 'ix_%'"
            ),
            {"tables": list(tables)},
        )
        indexes = list(found)
        unique = list(
            await connection.execute(
                text(
                    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                    "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE n.nspname = current_schema() AND c.contype = 'u' "
                    "AND c.conrelid::regclass::text = ANY(:tables)"
                ),
                {"tables": list(tables)},
            )
        )
        for name, _ in indexes:
            await connection.execute(text(f'DROP INDEX "{name}"'))
        for table, name, _ in unique:
            await connection.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        for statement in statements:
            await connection.execute(text(statement), params)
        for _, definition in indexes:
            await connection.execute(text(definition))
        for table, name, definition in unique:
            await connection.execute(
                text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            )
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await autocommit.execute(text(f'VACUUM ANALYZE "{table}"'))
