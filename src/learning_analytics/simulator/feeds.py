"""Wire items of the simulated upstreams and their paging ("rest" contract, docs/upstreams.md).

Every bulk collection is a `Feed`: its items serialised once (camelCase JSON bytes) and kept in
(updatedAt, id) order, with their instants in an `array` of epoch microseconds. A page is a
binary search (for `since` and the cursor) and a slice, so serving one costs the same on page
one and page ten thousand, and nothing is simulated per request.

Feeds are built lazily, on first use, under a lock. Structure (organisations ... learning paths)
is cheap to build, one feed at a time. The five activity feeds (learning events, assessment
attempts, practice sessions, assistant interactions, feedback) come from one pass over every
learner's simulation and are built together: about 20 s of CPU and ~250 MB for 10 000 learners
(~870 000 items), after which a page of 1 000 items takes about a millisecond. Per-user reads of
activity simulate that one learner (a few ms, the last 256 learners kept).

The cursor is opaque to clients: URL-safe base64 of `<collection>|<epoch µs>|<id>`, the last
item served. The next page starts right after that (updatedAt, id) key, so a cursor stays valid
for as long as the population does, and a cursor of one collection is refused by another.

`updatedAt` is the activity's own instant for activity records; for enrolments the completion
(or withdrawal) instant, else the learner's last activity; for skill profiles and learning paths
the record's own `updated_at`; for the rest of the structure a deterministic instant within the
30 days before the history window (a hash of the id), so incremental `since` syncs are
meaningful.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    Feedback,
    LearningEvent,
    LearningPath,
    Organization,
    PracticeSession,
    SkillProfile,
    StrategicSkillTarget,
    Team,
    User,
)
from learning_analytics.simulator.population import (
    PASS_MARK,
    SKILLS,
    LearnerActivity,
    Population,
)

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
ACTIVITY_CACHE_SIZE = 256
STRUCTURE_SPREAD = timedelta(days=30)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PROFICIENCY = (None, "BEGINNER", "BEGINNER", "INTERMEDIATE", "ADVANCED", "EXPERT")
_SKILL_NAMES = {"sql": "SQL", "devops": "DevOps", "javascript": "JavaScript"}

Item = dict[str, Any]
Entry = tuple[int, str, bytes]  # (updatedAt in epoch µs, id, the item's JSON)
Owned = tuple[str | None, Entry]  # (the user it belongs to, if any; the entry)


class InvalidCursorError(ValueError):
    """A cursor that this simulator did not hand out for this collection."""


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    service: str  # the path prefix without its slash, e.g. "course-builder"
    name: str  # the path segment, e.g. "enrollments"
    per_user: bool  # also served at /api/v1/users/{userId}/<name>
    activity: bool  # built from the learners' simulated activity


# fmt: off
COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec("directory", "organizations", per_user=False, activity=False),
    CollectionSpec("directory", "departments", per_user=False, activity=False),
    CollectionSpec("directory", "teams", per_user=False, activity=False),
    CollectionSpec("directory", "employees", per_user=False, activity=False),
    CollectionSpec("course-builder", "courses", per_user=False, activity=False),
    CollectionSpec("course-builder", "course-units", per_user=False, activity=False),
    CollectionSpec("course-builder", "enrollments", per_user=True, activity=False),
    CollectionSpec("course-builder", "feedback", per_user=True, activity=True),
    CollectionSpec("content-studio", "learning-events", per_user=True, activity=True),
    CollectionSpec("assessment", "attempts", per_user=True, activity=True),
    CollectionSpec("skills-engine", "skills", per_user=False, activity=False),
    CollectionSpec("skills-engine", "skill-profiles", per_user=True, activity=False),
    CollectionSpec("skills-engine", "strategic-targets", per_user=False, activity=False),
    CollectionSpec("learner-ai", "learning-paths", per_user=True, activity=False),
    CollectionSpec("devlab", "practice-sessions", per_user=True, activity=True),
    CollectionSpec("rag", "assistant-interactions", per_user=True, activity=True),
)
# fmt: on
SERVICES: tuple[str, ...] = tuple(dict.fromkeys(spec.service for spec in COLLECTIONS))
_ACTIVITY = "activity"  # the lock and build of the five activity feeds


# --------------------------------------------------------------------------------------------
# Wire items


def iso(instant: datetime) -> str:
    """ISO-8601 in UTC with a `Z` (microseconds only when there are some)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.isoformat()[:-6] + "Z"  # drops "+00:00"


def _iso_or_none(instant: datetime | None) -> str | None:
    return None if instant is None else iso(instant)


def epoch_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def skill_name(skill_id: str) -> str:
    return _SKILL_NAMES.get(skill_id) or skill_id.replace("-", " ").title()


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _entry(item: Item, updated_at: datetime, *, text: str | None = None) -> Entry:
    """`text`: `updated_at` in ISO-8601 already, when the item carries it in another field."""
    item["updatedAt"] = text or iso(updated_at)
    return epoch_us(updated_at), item["id"], _ENCODER.encode(item).encode()


def organization_entry(org: Organization, *, updated_at: datetime) -> Entry:
    item = {"id": org.id, "name": org.name, "timezone": org.timezone}
    return _entry(item, updated_at)


def department_entry(department: Department, *, updated_at: datetime) -> Entry:
    item = {
        "id": department.id,
        "organizationId": department.organization_id,
        "name": department.name,
        "managerId": department.manager_id,
    }
    return _entry(item, updated_at)


def team_entry(team: Team, *, updated_at: datetime) -> Entry:
    item = {
        "id": team.id,
        "departmentId": team.department_id,
        "name": team.name,
        "managerId": team.manager_id,
    }
    return _entry(item, updated_at)


def employee_entry(user: User, *, updated_at: datetime) -> Entry:
    item = {
        "id": user.id,
        "organizationId": user.organization_id,
        "email": user.email,
        "displayName": user.display_name,
        "role": user.role,
        "departmentId": user.department_id,
        "teamId": user.team_id,
        "managerId": user.manager_id,
        "timezone": user.timezone,
        "leaderboardVisible": user.leaderboard_visible,
    }
    return _entry(item, updated_at)


def course_entry(course: Course, *, updated_at: datetime) -> Entry:
    item = {
        "id": course.id,
        "organizationId": course.organization_id,
        "title": course.title,
        "trainerId": course.trainer_id,
        "visibility": course.visibility,
        "dueAt": _iso_or_none(course.due_at),
        "defaultDueDays": course.default_due_days,
    }
    return _entry(item, updated_at)


def course_unit_entry(unit: CourseUnit, *, updated_at: datetime) -> Entry:
    item = {
        "id": unit.id,
        "courseId": unit.course_id,
        "position": unit.position,
        "kind": unit.kind,
        "title": unit.title,
        "contentType": unit.content_type,
        "parentId": unit.parent_id,
        "skills": list(unit.skills),
    }
    return _entry(item, updated_at)


def enrollment_entry(enrollment: Enrollment, *, updated_at: datetime) -> Entry:
    item = {
        "id": enrollment.id,
        "userId": enrollment.user_id,
        "courseId": enrollment.course_id,
        "enrolledAt": iso(enrollment.enrolled_at),
        "dueAt": _iso_or_none(enrollment.due_at),
        "completedAt": _iso_or_none(enrollment.completed_at),
        "withdrawnAt": _iso_or_none(enrollment.withdrawn_at),
        "progressPct": enrollment.progress_pct,
    }
    return _entry(item, updated_at)


def skill_entry(skill_id: str, *, updated_at: datetime) -> Entry:
    return _entry({"id": skill_id, "name": skill_name(skill_id)}, updated_at)


def skill_profile_entry(profile: SkillProfile) -> Entry:
    item = {
        "id": f"{profile.user_id}:{profile.skill_id}",
        "userId": profile.user_id,
        "skillId": profile.skill_id,
        "currentLevel": profile.current_level,
        "proficiencyLevel": _PROFICIENCY[profile.current_level],
        "targetLevel": profile.target_level,
        "verified": profile.verified,
    }
    return _entry(item, profile.updated_at)


def strategic_target_entry(target: StrategicSkillTarget, *, updated_at: datetime) -> Entry:
    item = {
        "id": f"{target.organization_id}:{target.skill_id}",
        "organizationId": target.organization_id,
        "skillId": target.skill_id,
        "weight": target.weight,
        "targetLevel": target.target_level,
    }
    return _entry(item, updated_at)


def learning_path_entry(path: LearningPath) -> Entry:
    item = {
        "id": path.id,
        "userId": path.user_id,
        "courseId": path.course_id,
        "steps": [dict(step) for step in path.steps],
    }
    return _entry(item, path.updated_at)


def feedback_entry(feedback: Feedback) -> Entry:
    at = iso(feedback.submitted_at)
    item = {
        "id": feedback.id,
        "userId": feedback.user_id,
        "courseId": feedback.course_id,
        "rating": feedback.rating,
        "submittedAt": at,
    }
    return _entry(item, feedback.submitted_at, text=at)


def learning_event_entry(event: LearningEvent) -> Entry:
    at = iso(event.occurred_at)
    item = {
        "id": event.id,
        "userId": event.user_id,
        "courseId": event.course_id,
        "unitId": event.unit_id,
        "verb": event.verb,
        "occurredAt": at,
        "secondsSpent": event.seconds_spent,
    }
    return _entry(item, event.occurred_at, text=at)


def attempt_entry(attempt: AssessmentAttempt) -> Entry:
    at = iso(attempt.submitted_at)
    item = {
        "id": attempt.id,
        "userId": attempt.user_id,
        "courseId": attempt.course_id,
        "assessmentId": attempt.assessment_id,
        "examType": attempt.exam_type,
        "scorePct": attempt.score_pct,
        "passingGrade": PASS_MARK,
        "passed": attempt.passed,
        "submittedAt": at,
        "skillScores": [
            {
                "skillId": score.skill_id,
                "scorePct": score.score_pct,
                "status": "acquired" if score.score_pct >= PASS_MARK else "failed",
            }
            for score in attempt.skill_scores
        ],
    }
    return _entry(item, attempt.submitted_at, text=at)


def practice_session_entry(session: PracticeSession) -> Entry:
    at = iso(session.started_at)
    item = {
        "id": session.id,
        "userId": session.user_id,
        "startedAt": at,
        "skillId": session.skill_id,
        "competitionId": session.competition_id,
        "completed": session.completed,
        "won": session.won,
        "seconds": session.seconds,
    }
    return _entry(item, session.started_at, text=at)


def assistant_interaction_entry(interaction: AssistantInteraction) -> Entry:
    at = iso(interaction.asked_at)
    item = {
        "id": interaction.id,
        "userId": interaction.user_id,
        "askedAt": at,
        "topic": interaction.topic,
        "courseId": interaction.course_id,
    }
    return _entry(item, interaction.asked_at, text=at)


_ACTIVITY_ENTRIES: Mapping[str, Callable[[LearnerActivity], Iterator[Entry]]] = {
    "learning-events": lambda a: map(learning_event_entry, a.learning_events),
    "attempts": lambda a: map(attempt_entry, a.assessment_attempts),
    "practice-sessions": lambda a: map(practice_session_entry, a.practice_sessions),
    "assistant-interactions": lambda a: map(assistant_interaction_entry, a.assistant_interactions),
    "feedback": lambda a: map(feedback_entry, a.feedback),
}


# --------------------------------------------------------------------------------------------
# Cursors and pages


def encode_cursor(collection: str, *, updated_at_us: int, item_id: str) -> str:
    raw = f"{collection}|{updated_at_us}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(collection: str, cursor: str) -> tuple[int, str]:
    """The (updatedAt µs, id) key a cursor stands for; InvalidCursorError if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        name, stamp, item_id = raw.split("|", 2)
        key = int(stamp), item_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if name != collection or not item_id:
        raise InvalidCursorError(f"cursor is not a cursor of {collection}")
    return key


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[bytes]  # JSON of each item
    next_cursor: str | None  # None when nothing follows


class Feed:
    """One bulk collection, serialised once, in (updatedAt, id) order."""

    def __init__(self, name: str, entries: list[Entry]) -> None:
        entries.sort()
        self.name = name
        self._times = array("q", (entry[0] for entry in entries))
        self._ids = [entry[1] for entry in entries]
        self._bodies = [entry[2] for entry in entries]

    def __len__(self) -> int:
        return len(self._bodies)

    def page(self, *, since: datetime | None, cursor: str | None, limit: int) -> Page:
        """Up to `limit` items with updatedAt >= `since`, after `cursor`'s item."""
        start = 0 if since is None else bisect_left(self._times, epoch_us(since))
        if cursor is not None:
            stamp, item_id = decode_cursor(self.name, cursor)
            low = bisect_left(self._times, stamp)
            high = bisect_right(self._times, stamp)
            start = max(start, bisect_right(self._ids, item_id, low, high))
        end = min(len(self._bodies), start + limit)
        next_cursor = None
        if end < len(self._bodies):
            last = end - 1
            next_cursor = encode_cursor(
                self.name, updated_at_us=self._times[last], item_id=self._ids[last]
            )
        return Page(items=self._bodies[start:end], next_cursor=next_cursor)


# --------------------------------------------------------------------------------------------
# The feeds of one population


def structure_stamp(population: Population, item_id: str) -> datetime:
    """A deterministic instant in the 30 days before the history window (a hash of the id)."""
    spread = int(STRUCTURE_SPREAD.total_seconds())
    return population.window_start - timedelta(seconds=1 + zlib.crc32(item_id.encode()) % spread)


def _ordered(entries: Iterable[Entry]) -> list[bytes]:
    return [body for _, _, body in sorted(entries)]


class Feeds:
    """Every collection of the eight data upstreams over one population (see module doc)."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self._feeds: dict[str, Feed] = {}
        self._by_user: dict[str, Mapping[str, list[bytes]]] = {}
        self._locks = {spec.name: threading.Lock() for spec in COLLECTIONS if not spec.activity}
        self._locks[_ACTIVITY] = threading.Lock()
        self._activity = lru_cache(maxsize=ACTIVITY_CACHE_SIZE)(population.activity)
        self._specs = {spec.name: spec for spec in COLLECTIONS}

    def ready(self, collection: str) -> Feed | None:
        """The feed if it is built already (no waiting)."""
        return self._feeds.get(collection)

    def feed(self, collection: str) -> Feed:
        """The feed, built first if needed (blocking: call it from a worker thread)."""
        found = self._feeds.get(collection)
        if found is not None:
            return found
        spec = self._specs[collection]
        with self._locks[_ACTIVITY if spec.activity else collection]:
            if collection not in self._feeds:
                if spec.activity:
                    self._build_activity()
                else:
                    owned = self._structure(collection)
                    if spec.per_user:
                        self._by_user[collection] = _by_owner(owned)
                    self._feeds[collection] = Feed(collection, [entry for _, entry in owned])
        return self._feeds[collection]

    def warm(self) -> None:
        """Build every feed now (the simulator does this on startup)."""
        for spec in COLLECTIONS:
            self.feed(spec.name)

    def user_items(self, collection: str, user_id: str) -> list[bytes]:
        """One user's items of a per-user collection, in (updatedAt, id) order.

        Structure collections are built first if needed (blocking, as `feed`).
        """
        spec = self._specs[collection]
        if spec.activity:
            entries = _ACTIVITY_ENTRIES[collection](self._activity(user_id))
            return _ordered(entries)
        self.feed(collection)
        return self._by_user[collection].get(user_id, [])

    # -- building ------------------------------------------------------------------------------

    def _build_activity(self) -> None:
        collected: dict[str, list[Entry]] = {name: [] for name in _ACTIVITY_ENTRIES}
        for activity in self.population.iter_activity():
            for name, entries_of in _ACTIVITY_ENTRIES.items():
                collected[name].extend(entries_of(activity))
        for name, entries in collected.items():
            self._feeds[name] = Feed(name, entries)

    def _structure(self, collection: str) -> list[Owned]:
        population = self.population

        def stamp(item_id: str) -> datetime:
            return structure_stamp(population, item_id)

        match collection:
            case "organizations":
                return [
                    (None, organization_entry(o, updated_at=stamp(o.id)))
                    for o in population.organizations
                ]
            case "departments":
                return [
                    (None, department_entry(d, updated_at=stamp(d.id)))
                    for d in population.departments
                ]
            case "teams":
                return [(None, team_entry(t, updated_at=stamp(t.id))) for t in population.teams]
            case "employees":
                return [(None, employee_entry(u, updated_at=stamp(u.id))) for u in population.users]
            case "courses":
                return [(None, course_entry(c, updated_at=stamp(c.id))) for c in population.courses]
            case "course-units":
                return [
                    (None, course_unit_entry(u, updated_at=stamp(u.id)))
                    for u in population.course_units
                ]
            case "enrollments":
                return self._enrollments()
            case "skills":
                return [(None, skill_entry(s, updated_at=stamp(f"skill:{s}"))) for s in SKILLS]
            case "skill-profiles":
                return [(p.user_id, skill_profile_entry(p)) for p in population.skill_profiles]
            case "strategic-targets":
                return [
                    (
                        None,
                        strategic_target_entry(
                            t, updated_at=stamp(f"target:{t.organization_id}:{t.skill_id}")
                        ),
                    )
                    for t in population.strategic_skill_targets
                ]
            case "learning-paths":
                return [(p.user_id, learning_path_entry(p)) for p in population.learning_paths]
        raise KeyError(collection)

    def _enrollments(self) -> list[Owned]:
        """Stamped when they last changed: completion or withdrawal, else the learner's last
        activity (the skill profiles' stamp), never before enrolling nor after the anchor."""
        population = self.population
        last_active: dict[str, datetime] = {}
        for profile in population.skill_profiles:
            known = last_active.get(profile.user_id)
            if known is None or profile.updated_at > known:
                last_active[profile.user_id] = profile.updated_at
        owned: list[Owned] = []
        for enrollment in population.enrollments:
            changed = enrollment.completed_at or enrollment.withdrawn_at
            if changed is None:
                active = last_active.get(enrollment.user_id, enrollment.enrolled_at)
                changed = min(max(enrollment.enrolled_at, active), population.anchor)
            owned.append((enrollment.user_id, enrollment_entry(enrollment, updated_at=changed)))
        return owned


def _by_owner(owned: list[Owned]) -> Mapping[str, list[bytes]]:
    groups: defaultdict[str, list[Entry]] = defaultdict(list)
    for owner, entry in owned:
        if owner is not None:
            groups[owner].append(entry)
    return {owner: [body for _, _, body in sorted(entries)] for owner, entries in groups.items()}
