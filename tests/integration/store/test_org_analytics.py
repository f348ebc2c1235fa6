"""Trainer and organisation analytics over the small organisation of tests/org_world.py, on
SQLite and PostgreSQL (the same assertions on both), every expected figure computed by hand.

Window 2026-06-01..2026-06-28 (UTC, 4 weeks from 06-01 00:00), as_of 2026-06-29 00:00, k = 5.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.org_analytics import (
    AnalyticsQuery,
    OrganizationAnalytics,
    TrainerAnalytics,
)
from learning_analytics.domain.errors import InsufficientDataError, NotFoundError
from learning_analytics.domain.metrics.trainer import AtRiskLearner, Band
from learning_analytics.infrastructure.db.analytics import SqlAnalyticsRepository
from tests.conftest import Database
from tests.fakes import FakeClock
from tests.org_world import NOW, ORG, seed_org_world

pytestmark = pytest.mark.anyio

JUNE = AnalyticsQuery(start=date(2026, 6, 1), end=date(2026, 6, 28), tz=ZoneInfo("UTC"))


@pytest.fixture
async def repository(
    database: Database, session_factory: async_sessionmaker[AsyncSession]
) -> SqlAnalyticsRepository:
    await seed_org_world(database.url, database.connect_args)
    return SqlAnalyticsRepository(session_factory)


@pytest.fixture
def trainer(repository: SqlAnalyticsRepository) -> TrainerAnalytics:
    return TrainerAnalytics(
        trainers=repository, organizations=repository, clock=FakeClock(NOW), k=5
    )


@pytest.fixture
def organization(repository: SqlAnalyticsRepository) -> OrganizationAnalytics:
    return OrganizationAnalytics(organizations=repository, clock=FakeClock(NOW), k=5)


# --------------------------------------------------------------------------------------------
# trainer


async def test_course_performance(trainer: TrainerAnalytics) -> None:
    answer = await trainer.course_performance("tr-s1", ORG, JUNE)
    c1, c2 = answer.result.courses
    # c-1: 6 enrolled (s-07 withdrew), 3 completed, progress 100+100+100+50+25+0 = 375;
    # only s-04 active since 06-15; attempts in June 90 70 60 80 30 45: 375 / 6, 4 passed;
    # 3 completers < k: no median.
    assert (c1.course_id, c1.suppressed, c1.enrolled, c1.active) == ("c-1", False, 6, 1)
    assert (c1.completion_rate, c1.average_progress) == (50.0, 62.5)
    assert (c1.average_score, c1.pass_rate, c1.median_days_to_complete) == (62.5, 66.7, None)
    # c-2 has 3 learners: listed, no figure.
    assert (c2.course_id, c2.suppressed, c2.enrolled, c2.completion_rate) == (
        "c-2",
        True,
        None,
        None,
    )
    assert answer.window.start == date(2026, 6, 1)
    assert answer.timezone == "UTC"


async def test_course_health(trainer: TrainerAnalytics) -> None:
    c1 = (await trainer.course_health("tr-s1", ORG, JUNE)).result.courses[0]
    # completion 50, engagement 1/6, pass rate 4/6, drop-off 2/6 (s-05 quiet since 06-01,
    # s-06 never started) -> 0.3*50 + 0.25*16.7 + 0.25*66.7 + 0.2*66.7 = 49.19.
    assert c1.components is not None
    assert (c1.components.completion, c1.components.engagement) == (50.0, 16.7)
    assert (c1.components.assessment, c1.components.retention) == (66.7, 66.7)
    assert (c1.drop_off_rate, c1.health_score, c1.status) == (33.3, 49.2, "at-risk")
    # Funnel: u1 reached by 5 (s-01..s-05), s-05 stopped there -> 20 %; later units < k.
    funnel = [(s.unit_id, s.reached, s.stalled, s.stall_share) for s in c1.funnel]
    assert funnel == [
        ("c-1-u1", 5, 1, 20.0),
        ("c-1-u2", 4, 0, None),
        ("c-1-u3", 3, 0, None),
        ("c-1-u4", 3, 0, None),
    ]
    assert c1.flags == ()

    c3 = (await trainer.course_health("tr-s2", ORG, JUNE)).result.courses[0]
    # c-3: 1 of 5 completed, 3 active since 06-15, 7 of 15 attempts passed, s-08 stalled:
    # 0.3*20 + 0.25*60 + 0.25*46.7 + 0.2*80 = 48.675.
    assert c3.components is not None
    assert (c3.components.completion, c3.components.engagement) == (20.0, 60.0)
    assert (c3.components.assessment, c3.components.retention) == (46.7, 80.0)
    assert c3.health_score == pytest.approx(48.7, abs=0.05)
    # The quiz: 1 of 5 learners passed (20 % < 40 %).
    assert [(f.kind, f.subject, f.value) for f in c3.flags] == [("low-pass-rate", "c-3-quiz", 20.0)]


async def test_student_distribution(trainer: TrainerAnalytics) -> None:
    result = (await trainer.student_distribution("tr-s1", ORG, JUNE)).result
    assert (result.learners, result.enrollments) == (9, 9)
    assert result.progress_bands == (
        Band("0-19", 4),
        Band("20-39", 1),
        Band("40-59", 1),
        Band("60-79", 0),
        Band("80-100", 3),
    )
    assert result.score_bands == (
        Band("0-49", 2),
        Band("50-69", 1),
        Band("70-84", 2),
        Band("85-100", 1),
        Band("none", 3),
    )
    # s-04 low; s-05 (27 days quiet, 30 %) and s-06 (never active since 05-01, 45 %)
    # critical; s-07..s-09 in c-2, 28 days without activity: high.
    assert result.risk_levels == (
        Band("low", 1),
        Band("medium", 0),
        Band("high", 3),
        Band("critical", 2),
        Band("completed", 3),
    )
    assert result.at_risk == (
        AtRiskLearner("s-06", "c-1", "critical", "inactive", 59),
        AtRiskLearner("s-05", "c-1", "critical", "inactive", 27),
        AtRiskLearner("s-07", "c-2", "high", "inactive", 28),
        AtRiskLearner("s-08", "c-2", "high", "inactive", 28),
        AtRiskLearner("s-09", "c-2", "high", "inactive", 28),
    )


async def test_teaching_effectiveness(trainer: TrainerAnalytics) -> None:
    two = (await trainer.teaching_effectiveness("tr-s2", ORG, JUNE)).result
    # c-3: baseline 40 50 30 60 20 (avg 40), post 70 60 50 90 16 (avg 57.2): gain 17.2.
    (c3,) = two.courses
    assert (c3.learners_measured, c3.average_pre, c3.average_post) == (5, 40.0, 57.2)
    assert (c3.learning_gain, c3.completion_rate, c3.pass_rate) == (17.2, 20.0, 46.7)
    assert two.learning_gain == 17.2
    # Organisation: 4 of 14 enrolments completed (28.6 %), 11 of 21 June attempts passed.
    assert (two.completion_rate.organization, two.completion_rate.difference) == (28.6, -8.6)
    assert (two.pass_rate.trainer, two.pass_rate.organization, two.pass_rate.difference) == (
        46.7,
        52.4,
        -5.7,
    )

    one = (await trainer.teaching_effectiveness("tr-s1", ORG, JUNE)).result
    # c-1: only 3 learners have both scores (< k): no gain; c-2 suppressed.
    assert [(c.course_id, c.suppressed, c.learning_gain) for c in one.courses] == [
        ("c-1", False, None),
        ("c-2", True, None),
    ]
    assert (one.learning_gain, one.learners_measured) == (None, 3)
    assert (one.completion_rate.trainer, one.completion_rate.difference) == (50.0, 21.4)


async def test_course_filter_and_unknown_course(trainer: TrainerAnalytics) -> None:
    only = await trainer.course_performance(
        "tr-s1", ORG, AnalyticsQuery(start=JUNE.start, end=JUNE.end, course_id="c-1")
    )
    assert [c.course_id for c in only.result.courses] == ["c-1"]
    with pytest.raises(NotFoundError):
        await trainer.course_performance("tr-s1", ORG, AnalyticsQuery(course_id="c-3"))


async def test_department_filter_keeps_that_departments_learners(
    trainer: TrainerAnalytics,
) -> None:
    dep1 = AnalyticsQuery(start=JUNE.start, end=JUNE.end, tz=JUNE.tz, department_id="dep-1")
    c1, c2 = (await trainer.course_performance("tr-s1", ORG, dep1)).result.courses
    # c-1 without s-06 (dep-2): 5 enrolled, 3 completed, progress 375 / 5; June attempts
    # 90 70 60 80 30 -> 66.0, 4 of 5 passed. c-2 has no dep-1 learner: suppressed.
    assert (c1.enrolled, c1.completion_rate, c1.average_progress) == (5, 60.0, 75.0)
    assert (c1.average_score, c1.pass_rate) == (66.0, 80.0)
    assert c2.suppressed
    spread = (await trainer.student_distribution("tr-s1", ORG, dep1)).result
    assert (spread.learners, spread.enrollments) == (5, 5)
    assert spread.at_risk == (AtRiskLearner("s-05", "c-1", "critical", "inactive", 27),)
    with pytest.raises(NotFoundError):
        await trainer.course_performance(
            "tr-s1", ORG, AnalyticsQuery(start=JUNE.start, end=JUNE.end, department_id="dep-9")
        )


# --------------------------------------------------------------------------------------------
# organisation


async def test_learning_velocity(organization: OrganizationAnalytics) -> None:
    result = (await organization.learning_velocity(ORG, JUNE)).result
    # Shown: dep-1 and dep-2 only. June: 7 active learners, 10 units, 21 000 s.
    assert (result.active_learners, result.units_completed) == (7, 10)
    assert result.hours_per_active_learner == 0.83
    # Week 1 (06-01..06-07): s-05 s-06 s-07 s-08 s-09 active, 4 units, 9 000 s; the other
    # weeks have fewer than 5 active learners.
    weeks = [
        (w.week_start, w.active_learners, w.units_completed, w.units_per_active_learner,
         w.hours_per_active_learner)
        for w in result.weeks
    ]  # fmt: skip
    assert weeks == [
        ("2026-06-01", 5, 4, 0.8, 0.5),
        ("2026-06-08", None, None, None, None),
        ("2026-06-15", None, None, None, None),
        ("2026-06-22", None, None, None, None),
    ]
    assert result.trend is None
    by_department = {d.department_id: d for d in result.departments}
    assert by_department["dep-1"].active_learners == 2
    assert by_department["dep-1"].hours_per_active_learner is None  # 2 < k
    assert by_department["dep-2"].units_per_active_learner_per_week == 0.35  # 7 / 4 / 5
    assert by_department["dep-2"].hours_per_active_learner == 1.03  # 18 600 s / 5
    assert by_department["dep-3"].suppressed
    assert by_department["dep-3"].active_learners is None


async def test_strategic_alignment(organization: OrganizationAnalytics) -> None:
    result = (await organization.strategic_alignment(ORG, JUNE)).result
    python, sql = result.skills
    # python: s-01..s-05 at 1..5 against level 4 (s-11 of dep-3 left out).
    assert (python.skill_id, python.learners_targeted, python.share_at_target) == (
        "python",
        5,
        40.0,
    )
    assert (python.average_gap, python.hours, python.effort_share) == (1.2, 2.2, 37.1)
    # sql: s-06..s-10 at 0 1 2 3 3 against level 3; 15 000 s on sql units of 21 000.
    assert (sql.learners_targeted, sql.share_at_target, sql.average_gap) == (5, 40.0, 1.2)
    assert (sql.hours, sql.effort_share) == (4.2, 71.4)
    # Weighted effort: python units x1, c-3-u1 (sql) x0.5, c-3-u2 (both) x1:
    # (2400 + 4800 + 5400) / 21000 = 60 %; May: (4 x 300 + 4 x 300 x 0.5... ) = 75 %.
    assert (result.alignment_score, result.previous_alignment_score) == (60.0, 75.0)
    assert result.trend == "declining"
    assert result.total_hours == 5.8


async def test_department_analytics(organization: OrganizationAnalytics) -> None:
    result = (await organization.department_analytics(ORG, JUNE)).result
    org = result.organization
    # Over dep-1 + dep-2 (10 learners): 7 active, 12 active days of 280, 4 of 14 enrolments
    # completed, 21 attempts summing 1071, gaps 6 + 11 over 10 profiles, 2 at risk, 21 000 s.
    assert (org.headcount, org.active_pct, org.engagement) == (10, 70.0, 4.3)
    assert (org.completion_rate, org.average_score, org.average_skill_gap) == (28.6, 51.0, 1.7)
    assert (org.at_risk, org.hours_per_learner) == (2, 0.58)
    rows = {row.department_id: row for row in result.departments}
    one = rows["dep-1"].figures
    assert one is not None
    assert (one.headcount, one.active_pct, one.engagement, one.completion_rate) == (
        5,
        40.0,
        2.1,
        60.0,
    )
    assert (one.average_score, one.average_skill_gap, one.at_risk) == (66.0, 1.2, 1)
    assert one.hours_per_learner == 0.13
    vs = rows["dep-1"].vs_organization
    assert vs is not None
    assert (vs.active_pct, vs.average_score, vs.completion_rate) == (-30.0, 15.0, 31.4)
    two = rows["dep-2"].figures
    assert two is not None
    assert (two.active_pct, two.engagement, two.completion_rate) == (100.0, 6.4, 11.1)
    assert (two.average_score, two.average_skill_gap, two.at_risk) == (46.3, 2.2, 1)
    assert two.hours_per_learner == 1.03
    assert rows["dep-3"].suppressed
    assert rows["dep-3"].figures is None


async def test_learning_culture(organization: OrganizationAnalytics) -> None:
    result = (await organization.learning_culture(ORG, JUNE)).result
    c = result.components
    # 10 of 10 active; 6 active in >= 2 of 4 weeks; 21 000 s / 10 / 4 weeks = 0.146 h/week
    # of 2 h; 4 used the assistant, practice or feedback; 4 of 5 improved their score.
    assert (c.participation, c.consistency, c.depth, c.collaboration, c.growth) == (
        100.0,
        60.0,
        7.3,
        40.0,
        80.0,
    )
    assert result.index == 57.5
    # May: s-01..s-03 active (3 of 10); the other components need k active learners.
    assert (result.previous_index, result.trend) == (30.0, "improving")
    rows = {row.department_id: row for row in result.departments}
    assert (rows["dep-1"].index, rows["dep-2"].index) == (35.4, 70.6)
    assert rows["dep-3"].suppressed


async def test_differencing_a_suppressed_department_is_impossible(
    organization: OrganizationAnalytics,
) -> None:
    """The organisation totals equal the sum of the shown departments: subtracting them
    reveals nothing about dep-3 (whose two learners studied 7 200 s in June)."""
    whole = (await organization.department_analytics(ORG, JUNE)).result
    parts = [
        (await organization.department_analytics(ORG, _only(department))).result
        for department in ("dep-1", "dep-2")
    ]
    shown_headcount = 0
    for part in parts:
        (row,) = part.departments
        assert row.figures is not None
        assert row.figures.headcount is not None
        shown_headcount += row.figures.headcount
    assert whole.organization.headcount == shown_headcount
    velocity = (await organization.learning_velocity(ORG, JUNE)).result
    per_department = sum(d.units_completed or 0 for d in velocity.departments if not d.suppressed)
    assert velocity.units_completed == per_department
    with pytest.raises(InsufficientDataError):
        await organization.department_analytics(ORG, _only("dep-3"))


def _only(department_id: str) -> AnalyticsQuery:
    return AnalyticsQuery(start=JUNE.start, end=JUNE.end, tz=JUNE.tz, department_id=department_id)


async def test_manager_sees_only_their_departments(
    organization: OrganizationAnalytics, repository: SqlAnalyticsRepository
) -> None:
    assert await repository.managed_departments("mg-1") == frozenset({"dep-1"})
    visible = await repository.managed_departments("mg-3")
    result = (await organization.department_analytics(ORG, JUNE, visible=visible)).result
    assert [(row.department_id, row.suppressed) for row in result.departments] == [("dep-3", True)]


async def test_unknown_organization_and_course_filter(
    organization: OrganizationAnalytics,
) -> None:
    with pytest.raises(NotFoundError):
        await organization.learning_velocity("org-nope", JUNE)
    on_c3 = AnalyticsQuery(start=JUNE.start, end=JUNE.end, tz=JUNE.tz, course_id="c-3")
    result = (await organization.learning_velocity(ORG, on_c3)).result
    assert (result.active_learners, result.units_completed) == (5, 7)
