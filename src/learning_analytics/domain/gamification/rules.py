"""Points rules and the derivation of ledger awards from a learner's events (SPEC §11).

Every award is keyed by (user, rule, source event): deriving twice, or from a full replay,
yields the same keys, and the ledger stores each key once. A rule's daily cap bounds how many
awards it makes per local day of the learner (the cheat guard): within a day, the earliest
events are awarded first, and awards already in the ledger count against the cap. With all
events known, the ledger is a function of the events alone; when events of one day arrive over
several syncs, each day still gets exactly min(cap, events) awards of a rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from learning_analytics.domain.gamification.events import LearnerEvents

LESSON_COMPLETED = "lesson_completed"
COURSE_COMPLETED = "course_completed"
ASSESSMENT_PASSED = "assessment_passed"
ASSESSMENT_EXCELLENT = "assessment_excellent"
SKILL_AT_TARGET = "skill_reached_target"
PRACTICE_COMPLETED = "practice_completed"
PRACTICE_WON = "practice_won"
FEEDBACK_GIVEN = "feedback_given"
STREAK_DAY = "streak_day"

EXCELLENT_SCORE_PCT = 90.0


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    points: int
    daily_cap: int  # most awards of this rule per local day of the learner
    description: str

    def __post_init__(self) -> None:
        if self.points < 0 or self.daily_cap < 1:
            raise ValueError(f"rule {self.code}: points must be >= 0 and the cap >= 1")


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(LESSON_COMPLETED, 10, 20, "a learning unit completed"),
    Rule(COURSE_COMPLETED, 100, 3, "a course completed (once per course)"),
    Rule(ASSESSMENT_PASSED, 50, 5, "an assessment passed (once per assessment)"),
    Rule(ASSESSMENT_EXCELLENT, 25, 5, "bonus: an assessment passed at 90 % or more (once each)"),
    Rule(SKILL_AT_TARGET, 40, 5, "a skill reached its target level (once per skill)"),
    Rule(PRACTICE_COMPLETED, 10, 10, "a DevLab practice session completed"),
    Rule(PRACTICE_WON, 20, 5, "bonus: a DevLab practice session won"),
    Rule(FEEDBACK_GIVEN, 5, 3, "feedback given"),
    Rule(STREAK_DAY, 5, 1, "an active day that continues a streak (the day before was active)"),
)


class RuleTable:
    """The configurable rule table: the defaults, with points and caps overridable per rule."""

    def __init__(self, rules: Iterable[Rule] = DEFAULT_RULES) -> None:
        self._rules = {rule.code: rule for rule in rules}

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Mapping[str, int]]) -> RuleTable:
        """Defaults changed by `{"lesson_completed": {"points": 15, "daily_cap": 10}}`."""
        known = {rule.code: rule for rule in DEFAULT_RULES}
        unknown = set(overrides) - set(known)
        if unknown:
            raise ValueError(f"unknown gamification rules: {', '.join(sorted(unknown))}")
        rules = []
        for code, rule in known.items():
            change = overrides.get(code, {})
            rules.append(
                Rule(
                    code,
                    int(change.get("points", rule.points)),
                    int(change.get("daily_cap", rule.daily_cap)),
                    rule.description,
                )
            )
        return cls(rules)

    def get(self, code: str) -> Rule | None:
        return self._rules.get(code)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._rules.values())


@dataclass(frozen=True, slots=True)
class Candidate:
    """An event that would earn points under `rule`, before the cap."""

    rule: str
    source_event: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Award:
    """One ledger row."""

    user_id: str
    rule: str
    source_event: str
    points: int
    awarded_at: datetime


def _first_per_key(pairs: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for key, at in pairs:
        if key not in first or at < first[key]:
            first[key] = at
    return first


def candidates(events: LearnerEvents, *, tz: tzinfo) -> list[Candidate]:
    """Every award the learner's events could earn, keyed by the event they come from."""
    found: list[Candidate] = [
        Candidate(LESSON_COMPLETED, lesson.key, lesson.at) for lesson in events.lessons
    ]
    for course, at in _first_per_key((c.key, c.at) for c in events.courses).items():
        found.append(Candidate(COURSE_COMPLETED, course, at))
    passed = _first_per_key((a.assessment_id, a.at) for a in events.assessments if a.passed)
    found.extend(Candidate(ASSESSMENT_PASSED, key, at) for key, at in passed.items())
    excellent = _first_per_key(
        (a.assessment_id, a.at)
        for a in events.assessments
        if a.passed and a.score_pct >= EXCELLENT_SCORE_PCT
    )
    found.extend(Candidate(ASSESSMENT_EXCELLENT, key, at) for key, at in excellent.items())
    for skill, at in _first_per_key((s.key, s.at) for s in events.skills_at_target).items():
        found.append(Candidate(SKILL_AT_TARGET, skill, at))
    for session in events.practice:
        if session.completed:
            found.append(Candidate(PRACTICE_COMPLETED, session.id, session.at))
            if session.won:
                found.append(Candidate(PRACTICE_WON, session.id, session.at))
    found.extend(Candidate(FEEDBACK_GIVEN, f.key, f.at) for f in events.feedback)
    first_of_day: dict[date, datetime] = {}
    for moment in events.activity:
        day = moment.astimezone(tz).date()
        if day not in first_of_day or moment < first_of_day[day]:
            first_of_day[day] = moment
    for day, at in first_of_day.items():
        if day - timedelta(days=1) in first_of_day:
            found.append(Candidate(STREAK_DAY, day.isoformat(), at))
    return found


def derive_awards(
    events: LearnerEvents,
    *,
    rules: RuleTable,
    tz: tzinfo,
    existing: Sequence[Award] = (),
) -> list[Award]:
    """The awards to append to the ledger: candidates not yet awarded, within each rule's
    daily cap (in `tz`, the learner's zone), counting the awards already in the ledger."""
    awarded = {(a.rule, a.source_event) for a in existing}
    used: dict[tuple[str, date], int] = defaultdict(int)
    for award in existing:
        used[award.rule, award.awarded_at.astimezone(tz).date()] += 1
    table = {rule.code: rule for rule in rules.rules}
    by_day: dict[tuple[str, date], list[Candidate]] = defaultdict(list)
    for candidate in candidates(events, tz=tz):
        if candidate.rule in table:
            by_day[candidate.rule, candidate.at.astimezone(tz).date()].append(candidate)
    new: list[Award] = []
    for (code, day), group in sorted(by_day.items()):
        rule = table[code]
        room = rule.daily_cap - used[code, day]
        for candidate in sorted(group, key=lambda c: (c.at, c.source_event)):
            if room <= 0:
                break
            if (code, candidate.source_event) in awarded:
                continue
            new.append(
                Award(events.user_id, code, candidate.source_event, rule.points, candidate.at)
            )
            awarded.add((code, candidate.source_event))
            room -= 1
    return new
