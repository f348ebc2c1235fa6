"""Load a simulated population straight into the learning record store (the demo's first fill).

Rows are written through the `RecordWriter` port with `source="simulator"`, so they say where
they came from. Activity is streamed learner by learner and written in batches, so a population
of any size loads in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from learning_analytics.application.ports import RecordWriter
from learning_analytics.simulator.population import Population

SOURCE = "simulator"
BATCH = 5000
Progress = Callable[[str, int], None]


async def load_population(
    writer: RecordWriter,
    population: Population,
    *,
    ingested_at: datetime,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Upsert every record of `population`; returns the rows written per table."""
    counts: dict[str, int] = {}
    stamp: dict[str, Any] = {"source": SOURCE, "ingested_at": ingested_at}

    def done(table: str, rows: int) -> None:
        counts[table] = counts.get(table, 0) + rows
        if progress is not None:
            progress(table, rows)

    done("organizations", await writer.upsert_organizations(population.organizations, **stamp))
    done("departments", await writer.upsert_departments(population.departments, **stamp))
    done("teams", await writer.upsert_teams(population.teams, **stamp))
    done("users", await writer.upsert_users(population.users, **stamp))
    done(
        "external_ids",
        await writer.upsert_external_ids(population.external_ids, ingested_at=ingested_at),
    )
    done("courses", await writer.upsert_courses(population.courses, **stamp))
    done("course_units", await writer.upsert_course_units(population.course_units, **stamp))
    done("enrollments", await writer.upsert_enrollments(population.enrollments, **stamp))
    done("skill_profiles", await writer.upsert_skill_profiles(population.skill_profiles, **stamp))
    done(
        "strategic_skill_targets",
        await writer.upsert_strategic_skill_targets(population.strategic_skill_targets, **stamp),
    )
    done("learning_paths", await writer.upsert_learning_paths(population.learning_paths, **stamp))

    writers: dict[str, Callable[..., Any]] = {
        "learning_events": writer.upsert_learning_events,
        "assessment_attempts": writer.upsert_assessment_attempts,
        "practice_sessions": writer.upsert_practice_sessions,
        "assistant_interactions": writer.upsert_assistant_interactions,
        "feedback": writer.upsert_feedback,
    }
    buffers: dict[str, list[Any]] = {table: [] for table in writers}

    async def flush(table: str) -> None:
        if buffers[table]:
            done(table, await writers[table](buffers[table], **stamp))
            buffers[table] = []

    for activity in population.iter_activity():
        for table in writers:
            buffers[table].extend(getattr(activity, table))
            if len(buffers[table]) >= BATCH:
                await flush(table)
    for table in writers:
        await flush(table)
    await writer.bump_data_version("global")
    return counts
