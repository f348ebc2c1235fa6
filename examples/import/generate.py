"""Writes the example import set (docs/import.md) from a small simulated population.

    .venv/bin/python examples/import/generate.py

Deterministic: seed 5, 100 learners, 150 days of history ending 2025-06-02. Names and emails
of the simulated people are left out (the import does not need them). Only `completed`
learning events are exported (what pace, progress and activity need), to keep the files small.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from learning_analytics.domain.models import Role
from learning_analytics.simulator.population import generate_population

HERE = Path(__file__).parent
ANCHOR = datetime(2025, 6, 2, tzinfo=UTC)


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
            count += 1
    return count


def main() -> None:
    population = generate_population(seed=5, learners=100, history_days=150, anchor=ANCHOR)
    learners = [u for u in population.users if u.role == Role.LEARNER.value]
    ids = {u.id for u in learners}
    write(
        "organizations.csv",
        ["id", "name", "timezone"],
        ((o.id, o.name, o.timezone) for o in population.organizations),
    )
    write(
        "learners.csv",
        ["id", "organization_id", "department_id", "timezone"],
        ((u.id, u.organization_id, u.department_id, u.timezone) for u in learners),
    )
    write(
        "courses.csv",
        ["id", "organization_id", "title", "default_due_days"],
        ((c.id, c.organization_id, c.title, c.default_due_days) for c in population.courses),
    )
    lessons = population.course_units
    write(
        "course_units.csv",
        ["id", "course_id", "position", "kind", "title", "skills"],
        ((u.id, u.course_id, u.position, u.kind, u.title, ";".join(u.skills)) for u in lessons),
    )
    write(
        "enrollments.csv",
        ["id", "user_id", "course_id", "enrolled_at", "due_at", "completed_at", "withdrawn_at"],
        (
            (
                e.id,
                e.user_id,
                e.course_id,
                iso(e.enrolled_at),
                iso(e.due_at),
                iso(e.completed_at),
                iso(e.withdrawn_at),
            )
            for e in population.enrollments
            if e.user_id in ids
        ),
    )
    events = []
    attempts = []
    for activity in population.iter_activity():
        events += [e for e in activity.learning_events if e.verb == "completed"]
        attempts += list(activity.assessment_attempts)
    write(
        "learning_events.csv",
        ["id", "user_id", "course_id", "unit_id", "verb", "occurred_at", "seconds_spent"],
        (
            (e.id, e.user_id, e.course_id, e.unit_id, e.verb, iso(e.occurred_at), e.seconds_spent)
            for e in events
        ),
    )
    write(
        "assessment_attempts.csv",
        [
            "id",
            "user_id",
            "course_id",
            "assessment_id",
            "score_pct",
            "passed",
            "submitted_at",
            "exam_type",
            "skill_scores",
        ],
        (
            (
                a.id,
                a.user_id,
                a.course_id,
                a.assessment_id,
                a.score_pct,
                "true" if a.passed else "false",
                iso(a.submitted_at),
                a.exam_type,
                ";".join(f"{s.skill_id}:{s.score_pct:g}" for s in a.skill_scores),
            )
            for a in attempts
        ),
    )


if __name__ == "__main__":
    main()
