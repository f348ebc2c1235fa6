"""The simulator's synthetic population: one deterministic world generated from a seed (SPEC §5.3).

What is generated: two organisations (IANA timezones), 3-5 departments each with a manager and
two teams with a team manager, learners spread over the teams, ~1 trainer per 25 learners, one
org admin per organisation and one platform admin; courses (~2 per trainer) of 6-12 units
(lessons and their video/text/exercise/quiz content) tagged with skills of a 15-skill taxonomy;
enrolments; and each learner's activity, simulated day by day in the learner's timezone from a
behaviour archetype:

- steady: studies most days (less at weekends), good scores;
- sprinter: bursts of long study days separated by idle stretches;
- fading: activity thins out until the drop date, then nothing at all (ground truth: dropped out);
- struggling: studies less and slower, low scores, fails quizzes and may stall on one;
- returning: studies, disappears for 14-24 days, then comes back with a new enrolment.

Scores come from a per-skill knowledge level that grows with the content consumed (exercise >
video > text > quiz, scaled by a per-learner preference), so learning gain, content
effectiveness, mastery and teaching effectiveness have a real signal to find.

Scale: structure and per-learner end states (organisations ... enrolments with completion and
progress, skill profiles, learning paths) are built eagerly; the activity itself (learning
events, assessment attempts, practice sessions, assistant interactions, feedback) is produced
lazily, one learner at a time, by `Population.activity(user_id)` and the `iter_*` methods. Each
learner's simulation draws from its own RNGs seeded by (seed, user id), so one learner's activity
can be served without simulating anyone else, and it is the same on every call and every run.
Generation runs each learner's simulation once without building records, to know how far every
enrolment got: about 0.6 ms of CPU and 4 KB per learner on the 2-core build box (10 000 learners
in ~6 s; 100 000 in ~60 s and ~400 MB RSS there). Iterating everyone's activity streams it, one
learner at a time, instead of holding ~5.5 million learning events per 100 000 learners.

Ids are stable for the same inputs: users `u-000123`, organisations `org-1`, departments
`dep-01`, teams `team-01`, courses `c-001`, units `c-001-u01`, enrolments `e-0000001`, and
per-learner activity ids built from the user number (`le-000123-00001`, `aa-000123-001`, ...).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from learning_analytics.domain.models import Role
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    ExternalId,
    Feedback,
    JsonValue,
    LearningEvent,
    LearningPath,
    Organization,
    PracticeSession,
    SkillProfile,
    SkillScore,
    StrategicSkillTarget,
    Team,
    User,
)

# --------------------------------------------------------------------------------------------
# Vocabulary

SKILLS: tuple[str, ...] = (
    "python",
    "sql",
    "data-analysis",
    "machine-learning",
    "cloud-computing",
    "cybersecurity",
    "devops",
    "javascript",
    "communication",
    "leadership",
    "project-management",
    "negotiation",
    "customer-focus",
    "presentation",
    "agile",
)
ARCHETYPES: tuple[str, ...] = ("steady", "sprinter", "fading", "struggling", "returning")
_ARCHETYPE_WEIGHTS = (0.35, 0.15, 0.2, 0.15, 0.15)
CONTENT_TYPES: tuple[str, ...] = ("video", "text", "exercise", "quiz")
PASS_MARK = 70.0
QUIZ_EASE = 12.0  # in-course quizzes test what was just studied: easier than exams
MIN_HISTORY_DAYS = 30
DEFAULT_PASSWORD = "demo"  # every simulated user's login (SPEC §5.3)

DEMO_LEARNER_EMAIL = "learner@org1.example"
DEMO_TRAINER_EMAIL = "trainer@org1.example"
DEMO_MANAGER_EMAIL = "manager@org1.example"
DEMO_ORG_ADMIN_EMAIL = "orgadmin@org1.example"
DEMO_ADMIN_EMAIL = "admin@platform.example"

_DEPARTMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Engineering", ("python", "javascript", "devops", "cloud-computing")),
    ("Data", ("python", "sql", "data-analysis", "machine-learning")),
    ("Security", ("cybersecurity", "cloud-computing", "devops")),
    ("Sales", ("negotiation", "communication", "customer-focus", "presentation")),
    ("Customer Success", ("customer-focus", "communication", "sql")),
    ("Product", ("project-management", "agile", "data-analysis", "communication")),
    ("People & Culture", ("leadership", "communication", "presentation")),
    ("Finance", ("sql", "data-analysis", "presentation")),
)
_COURSE_TITLES = ("{} Fundamentals", "Applied {}", "{} in Practice", "Advanced {}")
# fmt: off
_FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hannah", "Ivan", "Julia",
    "Karim", "Lena", "Marco", "Nina", "Omar", "Paula", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wei", "Xenia", "Yusuf", "Zoe", "Amir", "Bianca", "Chen", "Daria",
)
_LAST_NAMES = (
    "Schmidt", "Miller", "Garcia", "Novak", "Kim", "Rossi", "Dubois", "Khan", "Silva", "Berg",
    "Lopez", "Meyer", "Nguyen", "Costa", "Weber", "Ivanova", "Brown", "Sato", "Fischer", "Ali",
    "Moreau", "Jensen", "Kowalski", "Murphy", "Okafor", "Patel", "Horvat", "Larsen", "Wagner",
    "Yilmaz",
)
# fmt: on


@dataclass(frozen=True, slots=True)
class _OrgTemplate:
    id: str
    name: str
    domain: str
    timezone: str
    learner_timezones: tuple[tuple[str, float], ...]  # (IANA name, weight)
    learner_share: float


_ORGS = (
    _OrgTemplate(
        "org-1",
        "Acme Analytics GmbH",
        "org1.example",
        "Europe/Berlin",
        (("Europe/Berlin", 0.85), ("Europe/London", 0.15)),
        0.6,
    ),
    _OrgTemplate(
        "org-2",
        "Northwind Learning Inc.",
        "org2.example",
        "America/New_York",
        (("America/New_York", 0.8), ("America/Los_Angeles", 0.2)),
        0.4,
    ),
)

# Seconds a typical learner needs per content type, and how much one item teaches its skills.
_CONTENT_EFFORT: dict[str, tuple[int, int]] = {
    "video": (5400, 10800),
    "text": (3600, 7200),
    "exercise": (7200, 12600),
    "quiz": (1200, 2400),
}
_CONTENT_GAIN: dict[str, float] = {"video": 9.0, "text": 6.0, "exercise": 12.0, "quiz": 4.0}


@dataclass(frozen=True, slots=True)
class _Behaviour:
    weekday_p: float  # probability of studying on a weekday
    weekend_p: float
    minutes: tuple[int, int]  # study minutes on an active day
    speed: tuple[float, float]  # effort multiplier range (> 1 is slower)
    ability: float  # offset added to every score
    prior: tuple[float, float]  # initial knowledge (0-100) of a skill
    hours: tuple[int, ...]  # preferred start hours (local)
    practice_p: float  # DevLab session on an active day
    assistant_p: float  # assistant questions on an active day
    feedback_p: float  # feedback after completing a course
    win_p: float  # winning a competition entered
    rating: tuple[int, int]  # feedback rating range


# fmt: off
_BEHAVIOURS: dict[str, _Behaviour] = {
    #            weekday weekend  minutes     speed      ability  prior     start hours
    #            practice assistant feedback win  rating
    "steady": _Behaviour(0.9, 0.6, (25, 50), (0.85, 1.1), 12.0, (30, 55), (7, 8, 12, 18, 19, 20),
                         0.15, 0.12, 0.7, 0.45, (3, 5)),
    "sprinter": _Behaviour(0.95, 0.95, (60, 150), (0.8, 1.0), 10.0, (30, 55), (9, 14, 19, 20, 21),
                           0.2, 0.1, 0.5, 0.4, (3, 5)),
    "fading": _Behaviour(0.8, 0.45, (20, 45), (0.9, 1.2), 6.0, (25, 50), (8, 12, 19, 21),
                         0.08, 0.08, 0.4, 0.25, (2, 4)),
    "struggling": _Behaviour(0.6, 0.4, (20, 45), (1.2, 1.5), -5.0, (15, 35), (10, 16, 20, 21),
                             0.06, 0.3, 0.5, 0.1, (1, 4)),
    "returning": _Behaviour(0.8, 0.55, (25, 50), (0.9, 1.1), 8.0, (25, 50), (7, 12, 18, 20),
                            0.12, 0.12, 0.6, 0.35, (3, 5)),
}
# fmt: on


# --------------------------------------------------------------------------------------------
# Public types


@dataclass(frozen=True, slots=True)
class SimPerson:
    """Ground truth about one simulated person (what analytics should discover)."""

    user_id: str
    email: str
    role: str  # a Role value
    org_id: str
    department_id: str | None
    archetype: str | None  # learners only
    dropped_out: bool
    drop_date: date | None  # local date from which a dropped-out learner shows no activity


@dataclass(frozen=True, slots=True)
class LearnerActivity:
    """Everything one learner did, in time order within each kind."""

    user_id: str
    learning_events: tuple[LearningEvent, ...] = ()
    assessment_attempts: tuple[AssessmentAttempt, ...] = ()
    practice_sessions: tuple[PracticeSession, ...] = ()
    assistant_interactions: tuple[AssistantInteraction, ...] = ()
    feedback: tuple[Feedback, ...] = ()


@dataclass(frozen=True, slots=True)
class Population:
    """One simulated world. Structure is held; activity is simulated on demand (see module doc)."""

    seed: int
    anchor: datetime
    history_days: int
    password: str = field(repr=False)
    organizations: list[Organization]
    departments: list[Department]
    teams: list[Team]
    users: list[User]
    external_ids: list[ExternalId]
    courses: list[Course]
    course_units: list[CourseUnit]
    enrollments: list[Enrollment]
    skill_profiles: list[SkillProfile]
    strategic_skill_targets: list[StrategicSkillTarget]
    learning_paths: list[LearningPath]
    people: list[SimPerson]
    _world: _World = field(repr=False, compare=False)

    @property
    def window_start(self) -> datetime:
        return self.anchor - timedelta(days=self.history_days)

    def user(self, user_id: str) -> User | None:
        return self._world.users_by_id.get(user_id)

    def user_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively and without blanks."""
        return self._world.users_by_email.get(email.strip().lower())

    def person(self, user_id: str) -> SimPerson | None:
        return self._world.people_by_id.get(user_id)

    def activity(self, user_id: str) -> LearnerActivity:
        """The learner's activity over the history window (empty for staff and unknown ids)."""
        plan = self._world.plans_by_user.get(user_id)
        if plan is None:
            return LearnerActivity(user_id=user_id)
        run = _LearnerRun(self._world, plan, collect=True)
        run.run()
        return run.activity()

    def iter_activity(self) -> Iterator[LearnerActivity]:
        """Every learner's activity, learner by learner in user id order."""
        for plan in self._world.plans:
            run = _LearnerRun(self._world, plan, collect=True)
            run.run()
            yield run.activity()

    def iter_learning_events(self) -> Iterator[LearningEvent]:
        for activity in self.iter_activity():
            yield from activity.learning_events

    def iter_assessment_attempts(self) -> Iterator[AssessmentAttempt]:
        for activity in self.iter_activity():
            yield from activity.assessment_attempts

    def iter_practice_sessions(self) -> Iterator[PracticeSession]:
        for activity in self.iter_activity():
            yield from activity.practice_sessions

    def iter_assistant_interactions(self) -> Iterator[AssistantInteraction]:
        for activity in self.iter_activity():
            yield from activity.assistant_interactions

    def iter_feedback(self) -> Iterator[Feedback]:
        for activity in self.iter_activity():
            yield from activity.feedback


# --------------------------------------------------------------------------------------------
# Internal plan of the world


@dataclass(frozen=True, slots=True)
class _Clock:
    """Local days of one timezone: day index -> UTC instant of its local midnight."""

    first_date: date
    midnights: tuple[datetime, ...]
    last_day_seconds: int  # seconds after the last day's midnight at which the anchor falls

    @property
    def days(self) -> int:
        return len(self.midnights)


@dataclass(frozen=True, slots=True)
class _Content:
    unit_id: str
    content_type: str
    skills: tuple[str, ...]
    effort: int
    difficulty: float  # offset added to quiz scores (hard quizzes are negative)


@dataclass(frozen=True, slots=True)
class _CourseSpec:
    course: Course
    skills: tuple[str, ...]
    contents: tuple[_Content, ...]


@dataclass(frozen=True, slots=True)
class _EnrollmentPlan:
    enrollment_id: str
    course: _CourseSpec
    day: int
    enrolled_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class _LearnerPlan:
    number: int  # the numeric part of the user id
    user_id: str
    archetype: str
    timezone: str
    enrollments: tuple[_EnrollmentPlan, ...]
    skills: tuple[str, ...]  # department focus and the skills of every enrolled course
    drop_day: int | None  # first day without any activity
    gap: tuple[int, int] | None  # first idle day, first day back
    always_active_from: int | None  # the demo learner studies every day from this day


@dataclass(frozen=True, slots=True)
class _World:
    seed: int
    anchor: datetime
    clocks: Mapping[str, _Clock]
    plans: tuple[_LearnerPlan, ...]
    plans_by_user: Mapping[str, _LearnerPlan]
    users_by_id: Mapping[str, User]
    users_by_email: Mapping[str, User]
    people_by_id: Mapping[str, SimPerson]


# --------------------------------------------------------------------------------------------
# One learner's simulation


@dataclass(slots=True)
class _Progress:
    plan: _EnrollmentPlan
    day: int  # the enrolment day
    skills: tuple[str, ...]  # the course's skills
    contents: tuple[_Content, ...]
    efforts: tuple[int, ...]  # seconds this learner needs per content
    position: int = 0  # index of the content being worked on
    remaining: int = 0  # seconds still needed on it
    unit_started: bool = False
    quiz_failures: int = 0
    baseline_taken: bool = False
    stalled: bool = False
    completed_at: datetime | None = None


class _LearnerRun:
    """Simulates one learner day by day.

    Two RNGs: `core` decides everything that shapes the outcome (which days, how long, scores,
    completions) and is drawn identically whether records are collected or not; `detail` only
    decorates collected records (extra practice, assistant questions, feedback). So the eager
    pass (collect=False) and every later collecting pass agree on how far each enrolment got.
    """

    def __init__(self, world: _World, plan: _LearnerPlan, *, collect: bool) -> None:
        self.plan = plan
        self.collect = collect
        self.clock = world.clocks[plan.timezone]
        self.behaviour = behaviour = _BEHAVIOURS[plan.archetype]
        self.core = core = random.Random(world.seed * 1_000_003 + plan.number)
        self.detail = random.Random(~(world.seed * 1_000_003 + plan.number)) if collect else core
        self.speed = speed = core.uniform(*behaviour.speed)
        self.preference = {kind: core.uniform(0.6, 1.4) for kind in CONTENT_TYPES}
        self.hour = core.choice(behaviour.hours)
        low, high = behaviour.prior
        self.knowledge = {skill: low + (high - low) * core.random() for skill in plan.skills}
        self.verified: set[str] = set()
        self.progress = [
            _Progress(
                plan=e,
                day=e.day,
                skills=e.course.skills,
                contents=e.course.contents,
                efforts=tuple([round(c.effort * speed) for c in e.course.contents]),
            )
            for e in plan.enrollments
        ]
        self.open = sorted(self.progress, key=lambda progress: progress.plan.due_at)
        self.last_active_day: int | None = None
        self.tag = f"{plan.number:06d}"
        self.events: list[LearningEvent] = []
        self.attempts: list[AssessmentAttempt] = []
        self.sessions: list[PracticeSession] = []
        self.questions: list[AssistantInteraction] = []
        self.feedback: list[Feedback] = []

    # -- the day loop (hot: ~100 days x 100 000 learners, hence the local names) -------------

    def run(self) -> None:
        plan = self.plan
        behaviour = self.behaviour
        rand = self.core.random
        collect = self.collect
        open_ = self.open
        forced = {e.day for e in plan.enrollments}
        first_day = min(forced)
        last_enrollment_day = max(forced)
        last_day = self.clock.days - 1
        stop = last_day + 1 if plan.drop_day is None else min(last_day + 1, plan.drop_day)
        gap_start, gap_end = plan.gap or (stop, stop)
        forced.add(gap_end)
        always_from = stop if plan.always_active_from is None else plan.always_active_from
        weekday_p, weekend_p = behaviour.weekday_p, behaviour.weekend_p
        first_weekday = self.clock.first_date.weekday()
        minutes_low, minutes_high = behaviour.minutes
        minutes_span = minutes_high - minutes_low + 1
        hour_base = self.hour * 3600 - 1800
        sprinter = plan.archetype == "sprinter"
        fade_days = 0 if plan.drop_day is None else max(1, plan.drop_day - first_day)
        burst_left = rest_left = 0
        for day in range(first_day, stop):
            if gap_start <= day < gap_end:
                continue
            probability = weekend_p if (first_weekday + day) % 7 >= 5 else weekday_p
            if sprinter:
                if burst_left == 0 and rest_left == 0:
                    burst_left, rest_left = 2 + int(rand() * 4), 4 + int(rand() * 9)
                if burst_left > 0:
                    burst_left -= 1
                else:
                    rest_left -= 1
                    probability = 0.04
            elif fade_days:
                probability *= max(0.15, 1.0 - 0.85 * (day - first_day) / fade_days)
            if rand() >= probability and day not in forced and day < always_from:
                continue
            # A study day: how long, from when (local time), on the open enrolment due first.
            budget = (minutes_low + int(rand() * minutes_span)) * 60
            start = hour_base + int(rand() * 3600)
            if start > 81_000 - budget:  # end by 23:00 at the latest
                start = 81_000 - budget
            if start < 25_200:  # not before 07:00
                start = 25_200
            if day == last_day:
                budget = min(budget, self.clock.last_day_seconds - start - 1800)
                if budget < 600:
                    continue
            current = None
            for progress in open_:
                if progress.day <= day:
                    current = progress
                    break
            if current is not None:
                self.last_active_day = day
            elif not collect:
                continue
            elif day < always_from and self.detail.random() >= 0.35:
                continue  # nothing to study: practises in DevLab now and then
            at = start
            while current is not None and budget > 0:
                if current.unit_started and current.remaining > budget:
                    # The usual day: one more session on a unit that takes several.
                    current.remaining -= budget
                    at += budget
                    if collect:
                        content = current.contents[current.position]
                        self._event(current, content, "progress", day, at, budget)
                    break
                spent = self._work(current, day, at, budget)
                at += spent
                budget -= spent
                if current.completed_at is None and not current.stalled:
                    break
                open_.remove(current)
                current = None
                for progress in open_:
                    if progress.day <= day:
                        current = progress
                        break
            if collect:
                self._extras(day=day, start=start, end=at, course=current)
            elif not open_ and day >= last_enrollment_day:
                return  # nothing after the last enrolment closes changes the outcome

    def _work(self, progress: _Progress, day: int, at: int, budget: int) -> int:
        """Study `progress` for up to `budget` seconds from `at`; returns the seconds used."""
        contents = progress.contents
        collect = self.collect
        used = 0
        if not progress.baseline_taken:
            progress.baseline_taken = True
            self._assess(progress, day=day, at=at, skills=progress.skills, exam_type="baseline")
            used = 600
            progress.remaining = progress.efforts[0]
        while used < budget:
            content = contents[progress.position]
            if not progress.unit_started:
                progress.unit_started = True
                if collect:
                    self._event(progress, content, "started", day, at + used, 0)
            spent = budget - used
            if spent > progress.remaining:
                spent = progress.remaining
            used += spent
            progress.remaining -= spent
            if progress.remaining > 0:
                if collect:
                    self._event(progress, content, "progress", day, at + used, spent)
                return used
            if content.content_type == "quiz":
                passed = self._assess(
                    progress,
                    day=day,
                    at=at + used,
                    skills=content.skills,
                    exam_type="quiz",
                    offset=QUIZ_EASE + content.difficulty,
                    assessment_id=content.unit_id,
                )
                self._learn(content)
                if not passed and not self._give_up_quiz(progress):
                    progress.remaining = max(300, progress.efforts[progress.position] // 2)
                    if collect:
                        self._event(progress, content, "progress", day, at + used, spent)
                    return used
            else:
                self._learn(content)
            if collect:
                self._event(progress, content, "completed", day, at + used, spent)
            progress.position += 1
            progress.unit_started = False
            progress.quiz_failures = 0
            if progress.position == len(contents):
                progress.completed_at = self._instant(day, at + used)
                self._assess(
                    progress, day=day, at=at + used, skills=progress.skills, exam_type="post_course"
                )
                if collect:
                    self._course_feedback(progress, day=day, at=at + used)
                return used
            progress.remaining = progress.efforts[progress.position]
        return used

    def _give_up_quiz(self, progress: _Progress) -> bool:
        """After three failures a struggling learner may stall; anyone else moves on."""
        progress.quiz_failures += 1
        if progress.quiz_failures < 3:
            return False
        if self.plan.archetype == "struggling" and self.core.random() < 0.5:
            progress.stalled = True
            return False
        return True

    def _learn(self, content: _Content) -> None:
        gain = _CONTENT_GAIN[content.content_type] * self.preference[content.content_type]
        for skill in content.skills:
            level = self.knowledge[skill]
            self.knowledge[skill] = min(100.0, level + gain * (100.0 - level) / 60.0)

    def _assess(
        self,
        progress: _Progress,
        *,
        day: int,
        at: int,
        skills: tuple[str, ...],
        exam_type: str,
        offset: float = 0.0,
        assessment_id: str | None = None,
    ) -> bool:
        core = self.core
        ability = self.behaviour.ability + offset
        scores = [
            (skill, max(0.0, min(100.0, round(core.gauss(self.knowledge[skill] + ability, 9), 1))))
            for skill in skills
        ]
        score = round(sum(value for _, value in scores) / len(scores), 1)
        passed = score >= PASS_MARK
        if passed:
            self.verified.update(skill for skill, value in scores if value >= PASS_MARK)
        if self.collect:
            course = progress.plan.course.course
            self.attempts.append(
                AssessmentAttempt(
                    id=f"aa-{self.tag}-{len(self.attempts) + 1:03d}",
                    user_id=self.plan.user_id,
                    course_id=course.id,
                    assessment_id=assessment_id or f"{course.id}-{exam_type.replace('_', '-')}",
                    score_pct=score,
                    passed=passed,
                    submitted_at=self._instant(day, at),
                    exam_type=exam_type,
                    skill_scores=tuple(SkillScore(skill, value) for skill, value in scores),
                )
            )
        return passed

    # -- records (collecting runs only) --------------------------------------------------------

    def _instant(self, day: int, seconds: int) -> datetime:
        return self.clock.midnights[day] + timedelta(seconds=seconds)

    def _event(
        self, progress: _Progress, content: _Content, verb: str, day: int, at: int, spent: int
    ) -> None:
        """Record a learning event on `day`, `at` seconds after its local midnight."""
        self.events.append(
            LearningEvent(
                id=f"le-{self.tag}-{len(self.events) + 1:05d}",
                user_id=self.plan.user_id,
                course_id=progress.plan.course.course.id,
                unit_id=content.unit_id,
                verb=verb,
                occurred_at=self._instant(day, at),
                seconds_spent=spent,
            )
        )

    def _fits(self, day: int, seconds: int) -> bool:
        if seconds >= 86_000:
            return False
        return day < self.clock.days - 1 or seconds < self.clock.last_day_seconds

    def _extras(self, *, day: int, start: int, end: int, course: _Progress | None) -> None:
        detail = self.detail
        behaviour = self.behaviour
        course_id = None if course is None else course.plan.course.course.id
        topics = self.plan.skills if course is None else course.plan.course.skills
        if course is not None and detail.random() < behaviour.assistant_p:
            for _ in range(detail.randint(1, 3)):
                asked = detail.randint(start, max(start, end))
                if self._fits(day, asked):
                    self.questions.append(
                        AssistantInteraction(
                            id=f"ai-{self.tag}-{len(self.questions) + 1:03d}",
                            user_id=self.plan.user_id,
                            asked_at=self._instant(day, asked),
                            topic=detail.choice(topics),
                            course_id=course_id,
                        )
                    )
            self.questions.sort(key=lambda question: question.asked_at)
        # A study day with no open course still counts: the learner practises in DevLab.
        if course is None or detail.random() < behaviour.practice_p:
            began = end + detail.randint(300, 1800)
            seconds = detail.randint(900, 3600)
            if not self._fits(day, began + seconds):
                began, seconds = start, min(seconds, max(60, end - start))
            competition = detail.random() < 0.25
            completed = detail.random() < 0.9
            won = competition and completed and detail.random() < behaviour.win_p
            week = (self.clock.first_date + timedelta(days=day)).isocalendar()
            skill = detail.choice(topics)
            self.sessions.append(
                PracticeSession(
                    id=f"ps-{self.tag}-{len(self.sessions) + 1:03d}",
                    user_id=self.plan.user_id,
                    started_at=self._instant(day, began),
                    skill_id=skill,
                    competition_id=f"comp-{week.year}w{week.week:02d}-{skill}"
                    if competition
                    else None,
                    completed=completed,
                    won=won,
                    seconds=seconds,
                )
            )

    def _course_feedback(self, progress: _Progress, *, day: int, at: int) -> None:
        detail = self.detail
        if detail.random() >= self.behaviour.feedback_p:
            return
        submitted = at + detail.randint(60, 900)
        if not self._fits(day, submitted):
            return
        self.feedback.append(
            Feedback(
                id=f"fb-{self.tag}-{len(self.feedback) + 1:03d}",
                user_id=self.plan.user_id,
                course_id=progress.plan.course.course.id,
                rating=detail.randint(*self.behaviour.rating),
                submitted_at=self._instant(day, submitted),
            )
        )

    def activity(self) -> LearnerActivity:
        return LearnerActivity(
            user_id=self.plan.user_id,
            learning_events=tuple(self.events),
            assessment_attempts=tuple(self.attempts),
            practice_sessions=tuple(self.sessions),
            assistant_interactions=tuple(self.questions),
            feedback=tuple(self.feedback),
        )


# --------------------------------------------------------------------------------------------
# Generation


def generate_population(
    *,
    seed: int = 7,
    learners: int = 200,
    history_days: int = 120,
    anchor: datetime,
    password: str = DEFAULT_PASSWORD,
) -> Population:
    """Build the world for `seed`; the same arguments always give the same population."""
    if learners < 1:
        raise ValueError("learners must be at least 1")
    if history_days < MIN_HISTORY_DAYS:
        raise ValueError(f"history_days must be at least {MIN_HISTORY_DAYS}")
    if anchor.tzinfo is None or anchor.utcoffset() is None:
        raise ValueError("anchor must be timezone-aware")
    if not password:
        raise ValueError("password must not be empty")
    return _Builder(
        seed=seed,
        learners=learners,
        history_days=history_days,
        anchor=anchor.astimezone(UTC),
        password=password,
    ).build()


def _clock(timezone: str, *, anchor: datetime, history_days: int) -> _Clock:
    zone = ZoneInfo(timezone)
    first = (anchor - timedelta(days=history_days)).astimezone(zone).date() + timedelta(days=1)
    last = anchor.astimezone(zone).date()
    midnights = []
    for index in range((last - first).days + 1):
        # From local noon, so times of day are right on DST days (changes happen at night).
        noon = datetime.combine(first + timedelta(days=index), time(12), tzinfo=zone)
        midnights.append(noon.astimezone(UTC) - timedelta(hours=12))
    return _Clock(
        first_date=first,
        midnights=tuple(midnights),
        last_day_seconds=int((anchor - midnights[-1]).total_seconds()),
    )


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in weighted], [weight for _, weight in weighted])[0]


class _Builder:
    def __init__(
        self, *, seed: int, learners: int, history_days: int, anchor: datetime, password: str
    ) -> None:
        self.seed = seed
        self.learners = learners
        self.history_days = history_days
        self.anchor = anchor
        self.password = password
        self.rng = random.Random(seed)
        timezones = {org.timezone for org in _ORGS}
        timezones.update(name for org in _ORGS for name, _ in org.learner_timezones)
        self.clocks = {
            name: _clock(name, anchor=anchor, history_days=history_days)
            for name in sorted(timezones)
        }
        self.organizations: list[Organization] = []
        self.departments: list[Department] = []
        self.teams: list[Team] = []
        self.users: list[User] = []
        self.people: list[SimPerson] = []
        self.external_ids: list[ExternalId] = []
        self.courses: list[_CourseSpec] = []
        self.course_units: list[CourseUnit] = []
        self.targets: list[StrategicSkillTarget] = []
        self.plans: list[_LearnerPlan] = []
        self.department_skills: dict[str, tuple[str, ...]] = {}
        self.enrollment_count = 0

    # -- people --------------------------------------------------------------------------------

    def _add_user(
        self,
        *,
        org: _OrgTemplate | None,
        role: Role,
        email: str | None = None,
        department_id: str | None = None,
        team_id: str | None = None,
        manager_id: str | None = None,
        timezone: str | None = None,
        archetype: str | None = None,
        drop_date: date | None = None,
    ) -> User:
        number = len(self.users) + 1
        first, last = self.rng.choice(_FIRST_NAMES), self.rng.choice(_LAST_NAMES)
        domain = "platform.example" if org is None else org.domain
        user = User(
            id=f"u-{number:06d}",
            organization_id=_ORGS[0].id if org is None else org.id,
            email=email or f"{first.lower()}.{last.lower()}.{number}@{domain}",
            display_name=f"{first} {last}",
            role=role.value,
            department_id=department_id,
            team_id=team_id,
            manager_id=manager_id,
            timezone=timezone or (_ORGS[0] if org is None else org).timezone,
            leaderboard_visible=self.rng.random() >= 0.1,
        )
        self.users.append(user)
        self.people.append(
            SimPerson(
                user_id=user.id,
                email=user.email or "",
                role=user.role,
                org_id=user.organization_id,
                department_id=department_id,
                archetype=archetype,
                dropped_out=drop_date is not None,
                drop_date=drop_date,
            )
        )
        external = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.external_ids.append(ExternalId("directory", "user", str(external), user.id))
        return user

    def _staff(self) -> None:
        """Platform admin, then per organisation its admin, department and team managers."""
        self._add_user(org=None, role=Role.ADMIN, email=DEMO_ADMIN_EMAIL)
        for position, org in enumerate(_ORGS):
            self.organizations.append(Organization(org.id, org.name, org.timezone))
            self.external_ids.append(
                ExternalId("directory", "organization", f"ORG-{org.id}", org.id)
            )
            demo = position == 0
            admin = self._add_user(
                org=org, role=Role.ORG_ADMIN, email=DEMO_ORG_ADMIN_EMAIL if demo else None
            )
            for slot, (name, skills) in enumerate(
                self.rng.sample(_DEPARTMENTS, self.rng.randint(3, 5))
            ):
                department_id = f"dep-{len(self.departments) + 1:02d}"
                self.department_skills[department_id] = skills
                head = self._add_user(
                    org=org,
                    role=Role.MANAGER,
                    email=DEMO_MANAGER_EMAIL if demo and slot == 0 else None,
                    department_id=department_id,
                    manager_id=admin.id,
                )
                self.departments.append(Department(department_id, org.id, name, head.id))
                for letter in "AB":
                    team_id = f"team-{len(self.teams) + 1:02d}"
                    lead = self._add_user(
                        org=org,
                        role=Role.MANAGER,
                        department_id=department_id,
                        team_id=team_id,
                        manager_id=head.id,
                    )
                    self.teams.append(Team(team_id, department_id, f"{name} {letter}", lead.id))

    # -- courses -------------------------------------------------------------------------------

    def _trainers_and_courses(self, learners_per_org: dict[str, int]) -> None:
        for position, org in enumerate(_ORGS):
            org_departments = [d for d in self.departments if d.organization_id == org.id]
            count = max(1, round(learners_per_org[org.id] / 25))
            for slot in range(count):
                department = org_departments[slot % len(org_departments)]
                trainer = self._add_user(
                    org=org,
                    role=Role.TRAINER,
                    email=DEMO_TRAINER_EMAIL if position == 0 and slot == 0 else None,
                    department_id=department.id,
                    manager_id=department.manager_id,
                )
                focus = self.department_skills[department.id]
                for _ in range(3 if self.rng.random() < 0.25 else 2):
                    self._course(org=org, trainer=trainer, focus=focus)

    def _course(self, *, org: _OrgTemplate, trainer: User, focus: tuple[str, ...]) -> None:
        rng = self.rng
        course_id = f"c-{len(self.courses) + 1:03d}"
        main = rng.choice(focus)
        others = [skill for skill in focus if skill != main]
        skills = (main, *rng.sample(others, min(len(others), rng.randint(1, 2))))
        title = rng.choice(_COURSE_TITLES).format(main.replace("-", " ").title())
        course = Course(
            id=course_id,
            organization_id=org.id,
            title=title,
            trainer_id=trainer.id,
            default_due_days=rng.randint(30, 90),
        )
        size = rng.randint(6, 12)
        lessons = 2 if size < 9 else 3
        per_lesson = [(size - lessons) // lessons] * lessons
        for extra in range(size - lessons - sum(per_lesson)):
            per_lesson[extra] += 1
        hard_lesson = rng.randrange(lessons) if rng.random() < 0.3 else None
        units: list[CourseUnit] = []
        contents: list[_Content] = []
        for lesson_index, count in enumerate(per_lesson):
            lesson_skills = tuple(rng.sample(skills, min(len(skills), 2)))
            lesson = CourseUnit(
                id=f"{course_id}-u{len(units) + 1:02d}",
                course_id=course_id,
                position=len(units) + 1,
                kind="lesson",
                title=f"Lesson {lesson_index + 1}: {lesson_skills[0].replace('-', ' ')}",
                skills=lesson_skills,
            )
            units.append(lesson)
            for item in range(count):
                last = item == count - 1
                if last and (lesson_index == lessons - 1 or rng.random() < 0.6):
                    kind = "quiz"
                else:
                    kind = rng.choice(("video", "video", "text", "exercise"))
                unit_skills = tuple(rng.sample(lesson_skills, rng.randint(1, len(lesson_skills))))
                unit = CourseUnit(
                    id=f"{course_id}-u{len(units) + 1:02d}",
                    course_id=course_id,
                    position=len(units) + 1,
                    kind="content",
                    title=f"{kind.title()} {item + 1}: {unit_skills[0].replace('-', ' ')}",
                    content_type=kind,
                    parent_id=lesson.id,
                    skills=unit_skills,
                )
                units.append(unit)
                difficulty = -18.0 if kind == "quiz" and lesson_index == hard_lesson else 0.0
                contents.append(
                    _Content(
                        unit.id, kind, unit_skills, rng.randint(*_CONTENT_EFFORT[kind]), difficulty
                    )
                )
        self.courses.append(_CourseSpec(course, skills, tuple(contents)))
        self.course_units.extend(units)
        self.external_ids.append(
            ExternalId("course-builder", "course", f"CB-{course_id.upper()}", course_id)
        )

    def _targets(self) -> None:
        for org in _ORGS:
            focus = dict.fromkeys(
                skill
                for department in self.departments
                if department.organization_id == org.id
                for skill in self.department_skills[department.id]
            )
            chosen = self.rng.sample(list(focus), min(len(focus), self.rng.randint(4, 6)))
            for skill in chosen:
                self.targets.append(
                    StrategicSkillTarget(
                        organization_id=org.id,
                        skill_id=skill,
                        weight=round(self.rng.uniform(0.4, 1.0), 2),
                        target_level=self.rng.choice((3, 4, 4)),
                    )
                )

    # -- learners ------------------------------------------------------------------------------

    def _enroll(self, course: _CourseSpec, *, day: int, timezone: str) -> _EnrollmentPlan:
        self.enrollment_count += 1
        clock = self.clocks[timezone]
        enrolled_at = clock.midnights[day] + timedelta(seconds=6 * 3600 + self.rng.randint(0, 3599))
        due_days = course.course.default_due_days or 60
        return _EnrollmentPlan(
            enrollment_id=f"e-{self.enrollment_count:07d}",
            course=course,
            day=day,
            enrolled_at=enrolled_at,
            due_at=enrolled_at + timedelta(days=due_days),
        )

    def _learner(
        self,
        *,
        org: _OrgTemplate,
        department: Department,
        team: Team,
        courses: list[_CourseSpec],
        cum_weights: list[float],
        demo_course: _CourseSpec | None,
    ) -> None:
        rng = self.rng
        demo = demo_course is not None
        archetype = "steady" if demo else rng.choices(ARCHETYPES, _ARCHETYPE_WEIGHTS)[0]
        timezone = org.timezone if demo else _pick(rng, org.learner_timezones)
        days = self.clocks[timezone].days
        focus = self.department_skills[department.id]
        wanted = min(len(courses), 3 if demo else rng.randint(1, 4))
        chosen: list[_CourseSpec] = [] if demo_course is None else [demo_course]
        while len(chosen) < wanted:
            course = rng.choices(courses, cum_weights=cum_weights)[0]
            if course not in chosen:
                chosen.append(course)
        first = rng.randint(0, int(days * (0.15 if archetype == "returning" else 0.35)))
        starts = sorted([first] + [rng.randint(first, days - 8) for _ in chosen[1:]])
        if len(starts) > 1 and archetype != "fading":
            # Most keep taking courses: the latest enrolment falls in the last 40 % of the window.
            starts[-1] = max(starts[-1], rng.randint(int(days * 0.6), days - 8))
        drop_day: int | None = None
        gap: tuple[int, int] | None = None
        always_active_from: int | None = None
        if demo:
            # The demo course last, recent enough to be open on the anchor day.
            chosen = [*chosen[1:], chosen[0]]
            starts = [first, *sorted(rng.randint(first, days // 2) for _ in chosen[2:])]
            starts.append(days - 12)
            always_active_from = days - 14
        elif archetype == "fading":
            drop_day = rng.randint(min(first + 10, days - 7), days - 7)
        elif archetype == "returning":
            length = rng.randint(14, 24)
            begin = rng.randint(first + 7, first + 7 + int(days * 0.3))
            begin = min(begin, days - 5 - length)
            gap = (begin, begin + length)
            # Comes back with a fresh enrolment on the first day back.
            if len(chosen) == 1:
                chosen.append(rng.choice([c for c in courses if c is not chosen[0]]))
                starts.append(gap[1])
            else:
                starts[-1] = gap[1]
        enrollments = tuple(
            self._enroll(course, day=day, timezone=timezone)
            for course, day in sorted(zip(chosen, starts, strict=True), key=lambda p: p[1])
        )
        clock = self.clocks[timezone]
        drop_date = None if drop_day is None else clock.first_date + timedelta(days=drop_day)
        user = self._add_user(
            org=org,
            role=Role.LEARNER,
            email=DEMO_LEARNER_EMAIL if demo else None,
            department_id=department.id,
            team_id=team.id,
            manager_id=team.manager_id,
            timezone=timezone,
            archetype=archetype,
            drop_date=drop_date,
        )
        skills = dict.fromkeys(focus[:3])
        for enrollment in enrollments:
            skills.update(dict.fromkeys(enrollment.course.skills))
        self.plans.append(
            _LearnerPlan(
                number=len(self.users),
                user_id=user.id,
                archetype=archetype,
                timezone=timezone,
                enrollments=enrollments,
                skills=tuple(skills),
                drop_day=drop_day,
                gap=gap,
                always_active_from=always_active_from,
            )
        )

    def _learners(self, learners_per_org: dict[str, int]) -> None:
        for position, org in enumerate(_ORGS):
            org_departments = [d for d in self.departments if d.organization_id == org.id]
            courses = [c for c in self.courses if c.course.organization_id == org.id]
            # Learners pick courses on their department's skills three times as often.
            cum_weights = {
                department.id: list(
                    accumulate(
                        3.0 if set(c.skills) & set(self.department_skills[department.id]) else 1.0
                        for c in courses
                    )
                )
                for department in org_departments
            }
            teams_of = {
                d.id: [t for t in self.teams if t.department_id == d.id] for d in org_departments
            }
            for index in range(learners_per_org[org.id]):
                demo = position == 0 and index == 0
                department = org_departments[0] if demo else self.rng.choice(org_departments)
                teams = teams_of[department.id]
                demo_course = None
                if demo:
                    trainer = next(u for u in self.users if u.email == DEMO_TRAINER_EMAIL)
                    demo_course = next(c for c in courses if c.course.trainer_id == trainer.id)
                self._learner(
                    org=org,
                    department=department,
                    team=teams[0] if demo else self.rng.choice(teams),
                    courses=courses,
                    cum_weights=cum_weights[department.id],
                    demo_course=demo_course,
                )

    # -- end states ----------------------------------------------------------------------------

    def _outcomes(
        self, world: _World
    ) -> tuple[list[Enrollment], list[SkillProfile], list[LearningPath]]:
        targets = {(t.organization_id, t.skill_id): t.target_level for t in self.targets}
        enrollments: list[Enrollment] = []
        profiles: list[SkillProfile] = []
        paths: list[LearningPath] = []
        for plan in self.plans:
            run = _LearnerRun(world, plan, collect=False)
            run.run()
            org_id = world.users_by_id[plan.user_id].organization_id
            clock = self.clocks[plan.timezone]
            steps: list[Mapping[str, JsonValue]] = []
            for progress in run.progress:
                done = progress.position
                total = len(progress.plan.course.contents)
                enrollments.append(
                    Enrollment(
                        id=progress.plan.enrollment_id,
                        user_id=plan.user_id,
                        course_id=progress.plan.course.course.id,
                        enrolled_at=progress.plan.enrolled_at,
                        due_at=progress.plan.due_at,
                        completed_at=progress.completed_at,
                        progress_pct=round(100.0 * done / total, 1),
                    )
                )
                status = (
                    "completed"
                    if progress.completed_at is not None
                    else "in_progress"
                    if progress.baseline_taken
                    else "not_started"
                )
                steps.append(
                    {
                        "step": len(steps) + 1,
                        "type": "course",
                        "courseId": progress.plan.course.course.id,
                        "status": status,
                    }
                )
            updated = (
                clock.midnights[run.last_active_day] + timedelta(hours=23)
                if run.last_active_day is not None
                else plan.enrollments[0].enrolled_at
            )
            updated = min(updated, self.anchor)
            gaps: list[tuple[int, str]] = []
            for skill in plan.skills:
                level = max(0, min(5, int(run.knowledge[skill] / 20 + 0.5)))
                target = targets.get((org_id, skill), 3)
                gaps.append((target - level, skill))
                profiles.append(
                    SkillProfile(
                        user_id=plan.user_id,
                        skill_id=skill,
                        current_level=level,
                        updated_at=updated,
                        target_level=target,
                        verified=skill in run.verified,
                    )
                )
            gap, weakest = max(gaps)
            if gap > 0:
                steps.append(
                    {
                        "step": len(steps) + 1,
                        "type": "practice",
                        "skillId": weakest,
                        "status": "recommended",
                    }
                )
            open_courses = [p.plan.course.course.id for p in run.open]
            paths.append(
                LearningPath(
                    id=f"lp-{plan.number:06d}",
                    user_id=plan.user_id,
                    updated_at=max(e.enrolled_at for e in plan.enrollments),
                    course_id=open_courses[0] if open_courses else None,
                    steps=tuple(steps),
                )
            )
        return enrollments, profiles, paths

    def build(self) -> Population:
        first = min(self.learners, max(1, round(self.learners * _ORGS[0].learner_share)))
        learners_per_org = {_ORGS[0].id: first, _ORGS[1].id: self.learners - first}
        self._staff()
        self._trainers_and_courses(learners_per_org)
        self._targets()
        self._learners(learners_per_org)
        world = _World(
            seed=self.seed,
            anchor=self.anchor,
            clocks=self.clocks,
            plans=tuple(self.plans),
            plans_by_user={plan.user_id: plan for plan in self.plans},
            users_by_id={user.id: user for user in self.users},
            users_by_email={(user.email or "").lower(): user for user in self.users},
            people_by_id={person.user_id: person for person in self.people},
        )
        enrollments, profiles, paths = self._outcomes(world)
        return Population(
            seed=self.seed,
            anchor=self.anchor,
            history_days=self.history_days,
            password=self.password,
            organizations=self.organizations,
            departments=self.departments,
            teams=self.teams,
            users=self.users,
            external_ids=self.external_ids,
            courses=[spec.course for spec in self.courses],
            course_units=self.course_units,
            enrollments=enrollments,
            skill_profiles=profiles,
            strategic_skill_targets=self.targets,
            learning_paths=paths,
            people=self.people,
            _world=world,
        )


def demo_logins(population: Population) -> dict[str, str]:
    """The demo accounts: role label -> email (all log in with the population's password)."""
    labels: dict[str, str] = {
        "learner": DEMO_LEARNER_EMAIL,
        "trainer": DEMO_TRAINER_EMAIL,
        "manager": DEMO_MANAGER_EMAIL,
        "org_admin": DEMO_ORG_ADMIN_EMAIL,
        "admin": DEMO_ADMIN_EMAIL,
    }
    return {label: email for label, email in labels.items() if population.user_by_email(email)}
