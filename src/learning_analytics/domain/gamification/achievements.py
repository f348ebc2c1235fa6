"""The achievement catalogue and its evaluation (SPEC §11, docs/gamification.md).

Each achievement is a threshold on one measure of the learner's history. It is earned at the
instant the measure first reached the threshold; an unearned one reports its progress. Facts
after `now` are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise

from learning_analytics.domain.gamification.events import LearnerEvents
from learning_analytics.domain.gamification.rules import Award

COMEBACK_IDLE_DAYS = 14
PERFECT_SCORE_PCT = 100.0


@dataclass(frozen=True, slots=True)
class Achievement:
    code: str
    name: str
    description: str
    measure: str  # what is counted: lessons, courses, passed, perfect, streak, skills, ...
    target: int


CATALOGUE: tuple[Achievement, ...] = (
    Achievement("first_lesson", "First steps", "Complete your first learning unit", "lessons", 1),
    Achievement("lessons_100", "Centurion", "Complete 100 learning units", "lessons", 100),
    Achievement("first_course", "First course", "Complete a course", "courses", 1),
    Achievement("courses_5", "Course collector", "Complete 5 courses", "courses", 5),
    Achievement("first_pass", "Test passed", "Pass an assessment", "passed", 1),
    Achievement("perfect_score", "Perfect score", "Score 100 % on an assessment", "perfect", 1),
    Achievement("streak_7", "Week streak", "Be active 7 days in a row", "streak", 7),
    Achievement("streak_30", "Month streak", "Be active 30 days in a row", "streak", 30),
    Achievement("skill_mastered", "Skill mastered", "Bring a skill to its target", "skills", 1),
    Achievement("skills_5", "Well rounded", "Bring 5 skills to their target", "skills", 5),
    Achievement("practice_10", "Practice makes perfect", "Complete 10 DevLab sessions",
                "practice", 10),
    Achievement("practice_champion", "Practice champion", "Win 10 DevLab sessions", "wins", 10),
    Achievement("curious_mind", "Curious mind", "Ask the assistant 10 questions", "questions",
                10),
    Achievement("feedback_5", "Voice heard", "Give feedback 5 times", "feedback", 5),
    Achievement("comeback", "Comeback", f"Return after {COMEBACK_IDLE_DAYS} or more idle days",
                "comebacks", 1),
    Achievement("points_1000", "Thousand club", "Earn 1 000 points", "points", 1_000),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AchievementStatus:
    achievement: Achievement
    earned_at: datetime | None
    progress: int  # the measure now, capped at the target

    @property
    def earned(self) -> bool:
        return self.earned_at is not None


@dataclass(frozen=True, slots=True)
class Milestones:
    """For one measure: the instants it grew, in order, each with its value after growing."""

    steps: tuple[tuple[datetime, int], ...]

    def reached(self, target: int) -> datetime | None:
        for at, value in self.steps:
            if value >= target:
                return at
        return None

    @property
    def value(self) -> int:
        return max((value for _, value in self.steps), default=0)


def _counting(instants: Sequence[datetime]) -> Milestones:
    return Milestones(tuple((at, i + 1) for i, at in enumerate(sorted(instants))))


def _first_per_key(pairs: Sequence[tuple[str, datetime]]) -> list[datetime]:
    first: dict[str, datetime] = {}
    for key, at in pairs:
        if key not in first or at < first[key]:
            first[key] = at
    return list(first.values())


def _streaks(activity: Sequence[datetime], tz: tzinfo) -> Milestones:
    """The longest run of consecutive local days so far, growing at each day's first
    activity."""
    first_of_day: dict[date, datetime] = {}
    for moment in activity:
        day = moment.astimezone(tz).date()
        if day not in first_of_day or moment < first_of_day[day]:
            first_of_day[day] = moment
    steps: list[tuple[datetime, int]] = []
    run = longest = 0
    previous: date | None = None
    for day in sorted(first_of_day):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        if run > longest:
            longest = run
            steps.append((first_of_day[day], longest))
        previous = day
    return Milestones(tuple(steps))


def _comebacks(activity: Sequence[datetime]) -> Milestones:
    ordered = sorted(activity)
    idle = timedelta(days=COMEBACK_IDLE_DAYS)
    returns = [later for earlier, later in pairwise(ordered) if later - earlier >= idle]
    return _counting(returns)


def _points(awards: Sequence[Award]) -> Milestones:
    total = 0
    steps = []
    for award in sorted(awards, key=lambda a: (a.awarded_at, a.rule, a.source_event)):
        total += award.points
        steps.append((award.awarded_at, total))
    return Milestones(tuple(steps))


def evaluate_achievements(
    events: LearnerEvents,
    *,
    awards: Sequence[Award],
    tz: tzinfo,
    now: datetime,
    catalogue: Sequence[Achievement] = CATALOGUE,
) -> list[AchievementStatus]:
    """Every achievement of the catalogue: earned (with when) or not (with progress)."""

    def until_now(instants: Sequence[datetime]) -> list[datetime]:
        return [at for at in instants if at <= now]

    attempts = [a for a in events.assessments if a.at <= now]
    sessions = [s for s in events.practice if s.at <= now]
    measures: dict[str, Callable[[], Milestones]] = {
        "lessons": lambda: _counting(until_now([o.at for o in events.lessons])),
        "courses": lambda: _counting(
            until_now(_first_per_key([(o.key, o.at) for o in events.courses]))
        ),
        "passed": lambda: _counting(
            _first_per_key([(a.assessment_id, a.at) for a in attempts if a.passed])
        ),
        "perfect": lambda: _counting([a.at for a in attempts if a.score_pct >= PERFECT_SCORE_PCT]),
        "streak": lambda: _streaks(until_now(events.activity), tz),
        "skills": lambda: _counting(
            until_now(_first_per_key([(o.key, o.at) for o in events.skills_at_target]))
        ),
        "practice": lambda: _counting([s.at for s in sessions if s.completed]),
        "wins": lambda: _counting([s.at for s in sessions if s.completed and s.won]),
        "questions": lambda: _counting(until_now(events.questions)),
        "feedback": lambda: _counting(until_now([o.at for o in events.feedback])),
        "comebacks": lambda: _comebacks(until_now(events.activity)),
        "points": lambda: _points([a for a in awards if a.awarded_at <= now]),
    }
    computed: dict[str, Milestones] = {}
    statuses = []
    for achievement in catalogue:
        if achievement.measure not in computed:
            computed[achievement.measure] = measures[achievement.measure]()
        milestones = computed[achievement.measure]
        statuses.append(
            AchievementStatus(
                achievement=achievement,
                earned_at=milestones.reached(achievement.target),
                progress=min(milestones.value, achievement.target),
            )
        )
    return statuses
