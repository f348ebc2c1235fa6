"""What a learner did, as gamification reads it: the facts points and achievements come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Something that happened once: `key` names it (an event id, a course id, a skill id)."""

    key: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AttemptFact:
    id: str
    assessment_id: str
    at: datetime
    score_pct: float
    passed: bool


@dataclass(frozen=True, slots=True)
class PracticeFact:
    id: str
    at: datetime
    completed: bool
    won: bool


@dataclass(frozen=True, slots=True)
class LearnerEvents:
    """One learner's gamification facts from the store.

    `lessons`: completed learning units (learning events with verb "completed", by event id);
    `courses`: completed courses (by course id); `skills_at_target`: skills whose current level
    reached the target (by skill id, at the profile's update); `activity`: every instant that
    makes a day active (learning events of any verb, attempts, practice, assistant questions).
    """

    user_id: str
    lessons: tuple[Occurrence, ...] = ()
    courses: tuple[Occurrence, ...] = ()
    assessments: tuple[AttemptFact, ...] = ()
    skills_at_target: tuple[Occurrence, ...] = ()
    practice: tuple[PracticeFact, ...] = ()
    feedback: tuple[Occurrence, ...] = ()
    questions: tuple[datetime, ...] = ()
    activity: tuple[datetime, ...] = field(default=())
