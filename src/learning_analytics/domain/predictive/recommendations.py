"""Recommended next actions (SPEC §10 Predictive): up to 10, ranked, each with its reason.

Rules, each giving actions with a priority (higher first; ties by kind, then subject id):
- re_engage (90 + days inactive, at most 120): an open enrollment without course activity for
  7 days or more;
- retake_assessment (70 + points short of the pass mark / 2): an assessment whose latest
  attempt failed;
- continue_course (60, +20 when behind the pace the due date needs): the next unit, in course
  order, not yet completed in each open enrollment;
- study_skill (50 + 5 x priority of the gap): the three skills with the largest skill-gap
  priority (SPEC skill-gap);
- practice_devlab (45): the largest-gap skill, when there was no practice session in 14 days;
- ask_assistant (40): two or more failed attempts in 28 days and no assistant question in 14.
Upstream strings (unit titles) are carried as data fields, never as instructions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.learner import (
    LearnerHistory,
    Window,
    _first_completions,
    _learning_units,
    compute_skill_gap,
)
from learning_analytics.domain.predictive.features import EnrollmentFeatures

MAX_ACTIONS = 10
INACTIVE_DAYS = 7
PASS_MARK = 70.0
WEAK_SKILLS = 3


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    priority: float
    reason: str
    course_id: str | None = None
    unit_id: str | None = None
    unit_title: str | None = None
    skill_id: str | None = None
    assessment_id: str | None = None


def recommend(
    history: LearnerHistory,
    features: list[EnrollmentFeatures],
    *,
    now: datetime,
    tz: tzinfo,
) -> tuple[Action, ...]:
    """Ranked actions for the learner; `features` are those of the open enrollments at `now`."""
    actions: list[Action] = []
    actions += _re_engage(features)
    actions += _retake(history, now=now)
    actions += _continue(history, features, now=now)
    weak = _weak_skills(history, now=now, tz=tz)
    actions += weak
    actions += _practice(history, weak, now=now)
    actions += _assistant(history, now=now)
    actions.sort(key=lambda a: (-a.priority, a.kind, a.course_id or a.skill_id or ""))
    return tuple(actions[:MAX_ACTIONS])


def _re_engage(features: list[EnrollmentFeatures]) -> list[Action]:
    result = []
    for row in features:
        idle = row.get("days_since_last_activity")
        if idle >= INACTIVE_DAYS:
            result.append(
                Action(
                    "re_engage",
                    round(min(120.0, 90 + idle), 2),
                    f"No activity on this course for {int(idle)} days; a short session today "
                    "restarts the habit",
                    course_id=row.course_id,
                )
            )
    return result


def _retake(history: LearnerHistory, *, now: datetime) -> list[Action]:
    latest: dict[str, tuple[datetime, float, bool, str | None]] = {}
    for attempt in history.assessment_attempts:
        if attempt.submitted_at > now or attempt.exam_type == "baseline":
            continue
        known = latest.get(attempt.assessment_id)
        if known is None or attempt.submitted_at > known[0]:
            latest[attempt.assessment_id] = (
                attempt.submitted_at,
                attempt.score_pct,
                attempt.passed,
                attempt.course_id,
            )
    result = []
    for assessment, (_, score, passed, course) in sorted(latest.items()):
        if passed:
            continue
        short = max(0.0, PASS_MARK - score)
        result.append(
            Action(
                "retake_assessment",
                round(70 + short / 2, 2),
                f"Latest attempt scored {score:.0f}%, below the pass mark of {PASS_MARK:.0f}%",
                course_id=course,
                assessment_id=assessment,
            )
        )
    return result


def _continue(
    history: LearnerHistory, features: list[EnrollmentFeatures], *, now: datetime
) -> list[Action]:
    learning = _learning_units(history.course_units)
    done = _first_completions(history.learning_events, until=now)
    result = []
    for row in features:
        units = sorted(
            (
                u
                for u in history.course_units
                if u.course_id == row.course_id and u.id in learning.get(row.course_id, set())
            ),
            key=lambda u: (u.position, u.id),
        )
        following = next((u for u in units if u.id not in done), None)
        if following is None:
            continue
        behind = row.get("required_pace_per_week") > 0 and row.get("pace_ratio") < 1
        reason = f"{row.get('progress_pct'):.0f}% of the course done"
        if behind:
            reason += (
                f"; {row.get('pace_per_week'):.1f} units/week against the "
                f"{row.get('required_pace_per_week'):.1f} the due date needs"
            )
        result.append(
            Action(
                "continue_course",
                80.0 if behind else 60.0,
                reason,
                course_id=row.course_id,
                unit_id=following.id,
                unit_title=following.title,
            )
        )
    return result


def _weak_skills(history: LearnerHistory, *, now: datetime, tz: tzinfo) -> list[Action]:
    today = now.astimezone(tz).date()
    try:
        gap = compute_skill_gap(history, now=now, tz=tz, window=Window(today, today))
    except InsufficientDataError:
        return []
    return [
        Action(
            "study_skill",
            round(50 + 5 * item.priority, 2),
            f"Level {item.current_level} of target {item.target_level}"
            + (" on a strategic skill of your organisation" if item.strategic else ""),
            skill_id=item.skill_id,
        )
        for item in gap.skills
        if item.gap > 0
    ][:WEAK_SKILLS]


def _practice(history: LearnerHistory, weak: list[Action], *, now: datetime) -> list[Action]:
    if not weak:
        return []
    recent = [
        s for s in history.practice_sessions if timedelta(0) <= now - s.started_at < timedelta(14)
    ]
    if recent:
        return []
    return [
        Action(
            "practice_devlab",
            45.0,
            "No practice session in the last 14 days; practice fixes the largest skill gap fastest",
            skill_id=weak[0].skill_id,
        )
    ]


def _assistant(history: LearnerHistory, *, now: datetime) -> list[Action]:
    failed = [
        a
        for a in history.assessment_attempts
        if not a.passed and timedelta(0) <= now - a.submitted_at < timedelta(28)
    ]
    asked = [
        q
        for q in history.assistant_interactions
        if timedelta(0) <= now - q.asked_at < timedelta(14)
    ]
    if len(failed) < 2 or asked:
        return []
    return [
        Action(
            "ask_assistant",
            40.0,
            f"{len(failed)} failed attempts in 4 weeks and no question to the assistant in 2",
            course_id=failed[-1].course_id,
        )
    ]
