"""Each simulated learner's `LearnerHistory`, straight from the population (no store, no API):
for training the default drop-off model and for tests that need a realistic population."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.records import CourseUnit, Enrollment, StrategicSkillTarget
from learning_analytics.simulator.population import Population


def population_histories(population: Population) -> Iterator[tuple[LearnerHistory, str | None]]:
    """(history, archetype) of every learner, in user id order (activity simulated lazily)."""
    enrollments: defaultdict[str, list[Enrollment]] = defaultdict(list)
    for enrollment in population.enrollments:
        enrollments[enrollment.user_id].append(enrollment)
    units: defaultdict[str, list[CourseUnit]] = defaultdict(list)
    for unit in population.course_units:
        units[unit.course_id].append(unit)
    targets: defaultdict[str, list[StrategicSkillTarget]] = defaultdict(list)
    for target in population.strategic_skill_targets:
        targets[target.organization_id].append(target)
    profiles = defaultdict(list)
    for profile in population.skill_profiles:
        profiles[profile.user_id].append(profile)
    courses = {course.id: course for course in population.courses}
    for person in sorted(population.people, key=lambda p: p.user_id):
        if person.archetype is None:
            continue
        activity = population.activity(person.user_id)
        course_ids = sorted({e.course_id for e in enrollments[person.user_id]})
        history = LearnerHistory(
            user_id=person.user_id,
            enrollments=tuple(enrollments[person.user_id]),
            courses=tuple(courses[course_id] for course_id in course_ids),
            course_units=tuple(unit for course_id in course_ids for unit in units[course_id]),
            learning_events=activity.learning_events,
            assessment_attempts=activity.assessment_attempts,
            skill_profiles=tuple(profiles[person.user_id]),
            strategic_targets=tuple(targets[person.org_id]),
            practice_sessions=activity.practice_sessions,
            assistant_interactions=activity.assistant_interactions,
        )
        yield history, person.archetype
