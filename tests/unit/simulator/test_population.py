"""The simulator's population: deterministic, consistent, shaped by archetypes, and fast."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from statistics import mean
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.simulator.population import (
    ARCHETYPES,
    CONTENT_TYPES,
    DEMO_ADMIN_EMAIL,
    DEMO_LEARNER_EMAIL,
    DEMO_MANAGER_EMAIL,
    DEMO_ORG_ADMIN_EMAIL,
    DEMO_TRAINER_EMAIL,
    SKILLS,
    LearnerActivity,
    Population,
    generate_population,
)

ANCHOR = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
LEARNERS = 200
HISTORY_DAYS = 120


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(seed=7, learners=LEARNERS, history_days=HISTORY_DAYS, anchor=ANCHOR)


@pytest.fixture(scope="module")
def activities(population: Population) -> dict[str, LearnerActivity]:
    return {activity.user_id: activity for activity in population.iter_activity()}


def _instants(activity: LearnerActivity) -> list[datetime]:
    return [
        *(event.occurred_at for event in activity.learning_events),
        *(attempt.submitted_at for attempt in activity.assessment_attempts),
        *(session.started_at for session in activity.practice_sessions),
        *(question.asked_at for question in activity.assistant_interactions),
        *(feedback.submitted_at for feedback in activity.feedback),
    ]


def _active_dates(population: Population, activity: LearnerActivity) -> list[date]:
    user = population.user(activity.user_id)
    assert user is not None
    assert user.timezone is not None
    zone = ZoneInfo(user.timezone)
    return sorted({instant.astimezone(zone).date() for instant in _instants(activity)})


# --------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_identical_population() -> None:
    first = generate_population(seed=11, learners=60, anchor=ANCHOR)
    second = generate_population(seed=11, learners=60, anchor=ANCHOR)

    assert first == second
    assert list(first.iter_activity()) == list(second.iter_activity())


def test_different_seed_gives_different_population() -> None:
    first = generate_population(seed=11, learners=60, anchor=ANCHOR)
    second = generate_population(seed=12, learners=60, anchor=ANCHOR)

    assert first.people != second.people
    assert first.enrollments != second.enrollments
    assert list(first.iter_learning_events()) != list(second.iter_learning_events())


def test_one_learners_activity_is_the_same_alone_or_in_bulk(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    learner = population.user_by_email(DEMO_LEARNER_EMAIL)
    assert learner is not None
    some = [learner.id, *list(activities)[50:53]]

    for user_id in some:
        assert population.activity(user_id) == activities[user_id]


def test_staff_and_unknown_ids_have_no_activity(population: Population) -> None:
    trainer = population.user_by_email(DEMO_TRAINER_EMAIL)
    assert trainer is not None

    assert population.activity(trainer.id) == LearnerActivity(user_id=trainer.id)
    assert population.activity("u-999999") == LearnerActivity(user_id="u-999999")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"learners": 0, "anchor": ANCHOR}, "learners"),
        ({"history_days": 10, "anchor": ANCHOR}, "history_days"),
        ({"anchor": datetime(2025, 6, 2)}, "timezone-aware"),
        ({"anchor": ANCHOR, "password": ""}, "password"),
    ],
)
def test_invalid_arguments_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_population(**arguments)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Structure and referential integrity


def test_organisation_structure(population: Population) -> None:
    users = {user.id: user for user in population.users}
    roles = Counter(user.role for user in population.users)

    assert len(population.organizations) == 2
    assert {org.timezone for org in population.organizations} == {
        "Europe/Berlin",
        "America/New_York",
    }
    assert roles["learner"] == LEARNERS
    assert roles["org_admin"] == 2
    assert roles["admin"] == 1
    assert roles["trainer"] >= 2
    assert abs(roles["trainer"] - LEARNERS / 25) <= 2
    for org in population.organizations:
        departments = [d for d in population.departments if d.organization_id == org.id]
        assert 3 <= len(departments) <= 5
    for department in population.departments:
        assert department.manager_id is not None
        manager = users[department.manager_id]
        assert (manager.role, manager.department_id) == ("manager", department.id)
        teams = [team for team in population.teams if team.department_id == department.id]
        assert len(teams) == 2
        for team in teams:
            assert team.manager_id is not None
            assert users[team.manager_id].role == "manager"
            assert users[team.manager_id].team_id == team.id


def test_ids_and_emails_are_unique_and_readable(population: Population) -> None:
    ids = [user.id for user in population.users]
    emails = [user.email for user in population.users]

    assert len(set(ids)) == len(ids)
    assert len(set(emails)) == len(emails)
    assert all(len(user_id) == 8 and user_id.startswith("u-") for user_id in ids)
    assert [person.user_id for person in population.people] == ids


def test_every_learner_belongs_to_a_team_of_their_department(population: Population) -> None:
    teams = {team.id: team for team in population.teams}
    departments = {department.id: department for department in population.departments}

    for user in population.users:
        if user.role != "learner":
            continue
        assert user.department_id in departments
        assert user.team_id is not None
        assert teams[user.team_id].department_id == user.department_id
        assert departments[user.department_id].organization_id == user.organization_id
        assert user.manager_id == teams[user.team_id].manager_id
        assert user.timezone is not None
        ZoneInfo(user.timezone)


def test_courses_units_and_skills(population: Population) -> None:
    users = {user.id: user for user in population.users}
    units_by_course = defaultdict(list)
    for unit in population.course_units:
        units_by_course[unit.course_id].append(unit)

    assert len(population.courses) >= 2 * sum(u.role == "trainer" for u in population.users)
    for course in population.courses:
        assert course.trainer_id is not None
        trainer = users[course.trainer_id]
        assert trainer.role == "trainer"
        assert trainer.organization_id == course.organization_id
        units = units_by_course[course.id]
        assert 6 <= len(units) <= 12
        assert [unit.position for unit in units] == list(range(1, len(units) + 1))
        contents = [unit for unit in units if unit.kind == "content"]
        assert {unit.kind for unit in units} == {"lesson", "content"}
        assert all(unit.content_type in CONTENT_TYPES for unit in contents)
        assert contents[-1].content_type == "quiz"
        assert all(unit.skills and set(unit.skills) <= set(SKILLS) for unit in units)
    types = Counter(unit.content_type for unit in population.course_units if unit.content_type)
    assert set(types) == set(CONTENT_TYPES)


def test_enrollments_refer_to_existing_learners_and_courses(population: Population) -> None:
    users = {user.id: user for user in population.users}
    courses = {course.id: course for course in population.courses}
    per_learner = Counter(enrollment.user_id for enrollment in population.enrollments)

    for enrollment in population.enrollments:
        user = users[enrollment.user_id]
        assert user.role == "learner"
        assert courses[enrollment.course_id].organization_id == user.organization_id
        assert population.window_start <= enrollment.enrolled_at <= ANCHOR
        assert enrollment.due_at is not None
        assert timedelta(days=30) <= enrollment.due_at - enrollment.enrolled_at <= timedelta(90)
        if enrollment.completed_at is not None:
            assert enrollment.progress_pct == 100.0
            assert enrollment.enrolled_at < enrollment.completed_at <= ANCHOR
    assert set(per_learner.values()) <= {1, 2, 3, 4}
    assert len(per_learner) == LEARNERS
    pairs = [(e.user_id, e.course_id) for e in population.enrollments]
    assert len(set(pairs)) == len(pairs)


def test_activity_refers_to_enrolled_courses_within_the_window(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    enrolled = {(e.user_id, e.course_id): e for e in population.enrollments}
    unit_course = {unit.id: unit.course_id for unit in population.course_units}
    event_ids = []

    for user_id, activity in activities.items():
        assert activity.learning_events, user_id
        for event in activity.learning_events:
            enrollment = enrolled[(event.user_id, event.course_id)]
            assert event.user_id == user_id
            assert unit_course[event.unit_id or ""] == event.course_id
            assert event.occurred_at >= enrollment.enrolled_at
            event_ids.append(event.id)
        for attempt in activity.assessment_attempts:
            assert (user_id, attempt.course_id) in enrolled
            assert {score.skill_id for score in attempt.skill_scores} <= set(SKILLS)
        for instant in _instants(activity):
            assert instant.tzinfo is not None
            assert population.window_start <= instant <= ANCHOR
    assert len(set(event_ids)) == len(event_ids)


def test_enrollment_end_states_agree_with_the_events(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    contents = Counter(unit.course_id for unit in population.course_units if unit.kind == "content")

    for enrollment in population.enrollments:
        completed = {
            event.unit_id
            for event in activities[enrollment.user_id].learning_events
            if event.course_id == enrollment.course_id and event.verb == "completed"
        }
        expected = round(100.0 * len(completed) / contents[enrollment.course_id], 1)
        assert enrollment.progress_pct == expected
        assert (enrollment.completed_at is not None) == (expected == 100.0)


def test_skill_profiles_and_targets(population: Population) -> None:
    learners = {user.id for user in population.users if user.role == "learner"}
    profiled = {profile.user_id for profile in population.skill_profiles}

    assert profiled == learners
    assert {t.organization_id for t in population.strategic_skill_targets} == {"org-1", "org-2"}
    assert all(t.skill_id in SKILLS for t in population.strategic_skill_targets)
    gaps = [p.target_level - p.current_level for p in population.skill_profiles if p.target_level]
    assert any(gap > 0 for gap in gaps)
    assert any(gap <= 0 for gap in gaps)
    assert {path.user_id for path in population.learning_paths} == learners


# --------------------------------------------------------------------------------------------
# Demo accounts


def test_demo_accounts_have_their_roles_and_relations(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    accounts = {
        email: population.user_by_email(email)
        for email in (
            DEMO_LEARNER_EMAIL,
            DEMO_TRAINER_EMAIL,
            DEMO_MANAGER_EMAIL,
            DEMO_ORG_ADMIN_EMAIL,
            DEMO_ADMIN_EMAIL,
        )
    }
    learner, trainer, manager, org_admin, admin = accounts.values()
    assert learner is not None
    assert trainer is not None
    assert manager is not None
    assert org_admin is not None
    assert admin is not None

    assert [u.role for u in (learner, trainer, manager, org_admin, admin)] == [
        "learner",
        "trainer",
        "manager",
        "org_admin",
        "admin",
    ]
    assert learner.organization_id == trainer.organization_id == manager.organization_id
    assert org_admin.organization_id == learner.organization_id
    department = next(d for d in population.departments if d.id == learner.department_id)
    assert department.manager_id == manager.id
    trainer_courses = {c.id for c in population.courses if c.trainer_id == trainer.id}
    learner_courses = {e.course_id for e in population.enrollments if e.user_id == learner.id}
    assert trainer_courses & learner_courses
    person = population.person(learner.id)
    assert person is not None
    assert person.archetype == "steady"
    assert not person.dropped_out
    # A rich history and a live streak: active on each of the last days before the anchor.
    dates = _active_dates(population, activities[learner.id])
    assert len(dates) >= 30
    zone = ZoneInfo(learner.timezone or "UTC")
    yesterday = ANCHOR.astimezone(zone).date() - timedelta(days=1)
    assert all(yesterday - timedelta(days=back) in dates for back in range(10))


# --------------------------------------------------------------------------------------------
# Archetypes


def test_every_archetype_is_present(population: Population) -> None:
    archetypes = Counter(person.archetype for person in population.people if person.archetype)

    assert set(archetypes) == set(ARCHETYPES)
    assert sum(archetypes.values()) == LEARNERS


def test_fading_learners_stop_at_their_drop_date(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    fading = [person for person in population.people if person.archetype == "fading"]

    assert fading
    for person in population.people:
        assert person.dropped_out == (person.archetype == "fading")
        assert (person.drop_date is not None) == person.dropped_out
    for person in fading:
        assert person.drop_date is not None
        dates = _active_dates(population, activities[person.user_id])
        assert dates, person.user_id
        assert max(dates) < person.drop_date, person.user_id


def test_returning_learners_have_a_gap_of_two_weeks_then_resume(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    returning = [person for person in population.people if person.archetype == "returning"]

    assert returning
    for person in returning:
        dates = _active_dates(population, activities[person.user_id])
        longest = max((later - earlier).days for earlier, later in pairwise(dates))
        assert longest >= 15, person.user_id  # >= 14 idle days between two active days


def test_struggling_learners_score_lower_and_fail_more(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    scores: dict[str, list[float]] = defaultdict(list)
    passes: dict[str, list[bool]] = defaultdict(list)
    for person in population.people:
        if person.archetype is None:
            continue
        for attempt in activities[person.user_id].assessment_attempts:
            if attempt.exam_type == "quiz":
                scores[person.archetype].append(attempt.score_pct)
                passes[person.archetype].append(attempt.passed)

    assert mean(scores["struggling"]) < mean(scores["steady"]) - 10
    assert mean(passes["struggling"]) < 0.4 < 0.6 < mean(passes["steady"])


def test_activity_happens_at_waking_hours_in_the_learners_timezone(
    population: Population, activities: dict[str, LearnerActivity]
) -> None:
    hours: Counter[int] = Counter()
    for user_id, activity in list(activities.items())[:50]:
        user = population.user(user_id)
        assert user is not None
        zone = ZoneInfo(user.timezone or "UTC")
        hours.update(event.occurred_at.astimezone(zone).hour for event in activity.learning_events)

    assert min(hours) >= 6
    assert max(hours) <= 23


def test_practice_assistant_and_feedback_are_present(
    activities: dict[str, LearnerActivity],
) -> None:
    sessions = [s for a in activities.values() for s in a.practice_sessions]

    assert any(session.won for session in sessions)
    assert all(not session.won or session.competition_id for session in sessions)
    assert any(a.assistant_interactions for a in activities.values())
    ratings = [f.rating for a in activities.values() for f in a.feedback]
    assert ratings
    assert set(ratings) <= {1, 2, 3, 4, 5}


# --------------------------------------------------------------------------------------------
# Scale


def test_ten_thousand_learners_generate_quickly() -> None:
    # CPU time, so a busy machine does not fail the test; the bound is generous on purpose.
    started = time.process_time()
    population = generate_population(seed=3, learners=10_000, anchor=ANCHOR)
    elapsed = time.process_time() - started

    assert sum(user.role == "learner" for user in population.users) == 10_000
    assert elapsed < 15, f"10 000 learners took {elapsed:.1f} s of CPU"
