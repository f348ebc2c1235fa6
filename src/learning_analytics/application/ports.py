"""Ports: what the application needs from the outside world, named by role.

Each port has at least two implementations (a real adapter and a fake, or SQLite and PostgreSQL,
or memory and Redis), and one contract test suite parametrised over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from learning_analytics.domain.gamification.events import LearnerEvents
from learning_analytics.domain.gamification.leaderboard import Period
from learning_analytics.domain.gamification.rules import Award
from learning_analytics.domain.integration import PlatformStatistics
from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.metrics.organization import (
    ActivityAggregate,
    CultureAggregate,
    DepartmentAggregate,
    DepartmentHeadcount,
    EffortAggregate,
    SkillTargetAggregate,
    WeekAggregate,
)
from learning_analytics.domain.metrics.trainer import (
    AssessmentAggregate,
    CourseAggregate,
    EnrollmentAggregate,
    GainAggregate,
    RateAggregate,
    UnitAggregate,
)
from learning_analytics.domain.policy import LearnerFacts
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    ExternalId,
    Feedback,
    LearningEvent,
    LearningPath,
    Organization,
    PracticeSession,
    SkillProfile,
    StrategicSkillTarget,
    SyncState,
    Team,
    User,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


# --------------------------------------------------------------------------------------------
# Response cache (SPEC §9 layer 3)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A rendered analytics answer: the `data` member as JSON bytes plus what `meta` needs."""

    data: bytes
    etag: str
    calculated_at: datetime
    data_as_of: datetime | None
    fresh_until: datetime
    data_source: str  # the source of the computation that produced it: realtime | stale | mock


class ResponseCache(Protocol):
    """Key/value store of rendered answers; entries outlive their freshness for stale fallback."""

    async def get(self, key: str) -> CachedResponse | None: ...

    async def set(self, key: str, entry: CachedResponse, *, keep_seconds: int) -> None:
        """Store `entry` and keep it `keep_seconds` (freshness + stale window)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def data_version(self, scope: str) -> int:
        """Current data version of `scope` (bumped when ingestion changes its data)."""
        ...

    async def bump_data_version(self, scope: str) -> int: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Rate limiting (SPEC §8.4)


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    name: str
    amount: int
    per_seconds: int


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window resets


class RateLimiter(Protocol):
    async def hit(self, policy: RateLimitPolicy, key: str) -> RateLimitDecision:
        """Count one request of `key` under `policy`, and say whether it is allowed."""
        ...

    async def peek(self, policy: RateLimitPolicy, key: str) -> RateLimitDecision:
        """Say whether one more request would be allowed, without counting it."""
        ...

    @property
    def degraded(self) -> bool:
        """True while the shared storage is unreachable and limits are kept in process."""
        ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Tokens


class TokenRevocationStore(Protocol):
    """Revoked token ids (`jti`), shared by every replica when Redis is configured."""

    async def revoke(self, token_id: str, *, expires_at: datetime) -> None: ...

    async def is_revoked(self, token_id: str) -> bool: ...


# --------------------------------------------------------------------------------------------
# Upstreams


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """What the Auth upstream says about a user whose credentials it accepted."""

    id: str
    email: str
    roles: tuple[str, ...]
    organization_id: str | None
    department_ids: tuple[str, ...] = ()


class AuthGateway(Protocol):
    """The Auth upstream (MS12). Raises UpstreamError when it cannot answer."""

    async def authenticate(
        self, *, email: str, password: str, request_id: str | None = None
    ) -> AuthenticatedUser | None:
        """The user when the credentials are valid, None when they are not."""
        ...


# --------------------------------------------------------------------------------------------
# Learning record store


@dataclass(frozen=True, slots=True)
class UserProfile:
    id: str
    email: str | None
    display_name: str | None
    role: str
    organization_id: str
    department_id: str | None
    team_id: str | None
    manager_id: str | None
    timezone: str | None
    organization_timezone: str | None
    leaderboard_visible: bool


class MembershipRepository(Protocol):
    """Membership facts for authorization (who is in which org/department/team, who trains whom)."""

    async def learner_facts(self, user_id: str) -> LearnerFacts | None: ...


class UserRepository(Protocol):
    async def get_profile(self, user_id: str) -> UserProfile | None: ...


class ActivityRepository(Protocol):
    async def activity_times(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> Sequence[datetime]:
        """Instants (UTC) of every activity of the user in [since, until): learning events,
        assessment attempts, practice sessions and assistant questions."""
        ...

    async def last_ingested_at(self, user_id: str) -> datetime | None:
        """When the newest row about this user reached the store (for `meta.dataAsOf`)."""
        ...


# --------------------------------------------------------------------------------------------
# Store writes


class RecordWriter(Protocol):
    """Ingestion's way into the learning record store (SPEC §4, §5.4).

    Every `upsert_*` is an idempotent batch upsert keyed by the record's id (or natural key):
    writing a batch twice leaves the store as writing it once, and a record whose key is stored
    already replaces the stored row (the newest fields win). Each stored row is stamped with
    `source` and `ingested_at`. Within one batch the last record with a given key wins. Each call
    is one transaction and returns how many distinct records it wrote.
    """

    async def upsert_organizations(
        self, records: Sequence[Organization], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_departments(
        self, records: Sequence[Department], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_teams(
        self, records: Sequence[Team], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_users(
        self, records: Sequence[User], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_external_ids(
        self, records: Sequence[ExternalId], *, ingested_at: datetime
    ) -> int:
        """Keyed by (source, kind, external id); each record names its own source."""
        ...

    async def upsert_courses(
        self, records: Sequence[Course], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_course_units(
        self, records: Sequence[CourseUnit], *, source: str, ingested_at: datetime
    ) -> int:
        """A unit's skills are replaced by the record's."""
        ...

    async def upsert_enrollments(
        self, records: Sequence[Enrollment], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_learning_events(
        self, records: Sequence[LearningEvent], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_assessment_attempts(
        self, records: Sequence[AssessmentAttempt], *, source: str, ingested_at: datetime
    ) -> int:
        """An attempt's per-skill scores are replaced by the record's."""
        ...

    async def upsert_skill_profiles(
        self, records: Sequence[SkillProfile], *, source: str, ingested_at: datetime
    ) -> int:
        """Keyed by (user, skill)."""
        ...

    async def upsert_strategic_skill_targets(
        self, records: Sequence[StrategicSkillTarget], *, source: str, ingested_at: datetime
    ) -> int:
        """Keyed by (organization, skill)."""
        ...

    async def upsert_learning_paths(
        self, records: Sequence[LearningPath], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_practice_sessions(
        self, records: Sequence[PracticeSession], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_assistant_interactions(
        self, records: Sequence[AssistantInteraction], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def upsert_feedback(
        self, records: Sequence[Feedback], *, source: str, ingested_at: datetime
    ) -> int: ...

    async def internal_ids(
        self, *, source: str, kind: str, external_ids: Sequence[str]
    ) -> dict[str, str]:
        """Our ids of the given external ids of `source`, for those that are known."""
        ...

    async def archive_raw_payload(self, *, source: str, fetched_at: datetime, payload: str) -> None:
        """Keep an upstream reply as received, for replay."""
        ...

    async def bump_data_version(self, scope: str) -> int:
        """Increment the data version of `scope` (starting from 0) and return the new one."""
        ...

    async def get_data_version(self, scope: str) -> int:
        """The data version of `scope`; 0 if it was never bumped."""
        ...


class SyncStateRepository(Protocol):
    """Where each source's incremental sync stands (SPEC §5.4)."""

    async def get(self, source: str) -> SyncState | None: ...

    async def record_success(self, source: str, *, cursor: str | None, at: datetime) -> None:
        """Store the cursor to resume from; the last error stays on record."""
        ...

    async def record_failure(self, source: str, *, error: str, at: datetime) -> None:
        """Note a failed run; the cursor is kept so the next run resumes where it was."""
        ...


# --------------------------------------------------------------------------------------------
# Ingestion (SPEC §5)


@dataclass(frozen=True, slots=True)
class SourcePage:
    """One page of one upstream collection, already mapped to canonical records."""

    records: Sequence[object]
    next_cursor: str | None
    newest: datetime | None  # the newest `updatedAt` on the page (the next run's `since`)
    raw: str  # the reply as received, for the raw-payload archive


class CollectionSource(Protocol):
    """One collection of one upstream, read in pages for incremental sync."""

    @property
    def name(self) -> str:
        """`<service>.<collection>`, the key of its sync state."""
        ...

    async def fetch(
        self, *, since: datetime | None, cursor: str | None, request_id: str | None = None
    ) -> SourcePage: ...

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        """Upsert the page's records with the writer method that fits them."""
        ...


class LeaderLock(Protocol):
    """A lock one replica holds at a time (the scheduler's leader election, SPEC §5.4)."""

    async def acquire(self, name: str, *, ttl_seconds: float) -> str | None:
        """A token when this caller now holds `name`, None when another holder has it."""
        ...

    async def release(self, name: str, token: str) -> None:
        """Release `name` if `token` still holds it (an expired lock is never stolen back)."""
        ...


class UserSource(Protocol):
    """One upstream's per-user read, for the on-demand refresh of one learner."""

    @property
    def name(self) -> str: ...

    async def fetch_user(self, user_id: str, *, request_id: str | None = None) -> SourcePage: ...

    async def write(
        self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime
    ) -> int: ...


class LearnerHistoryRepository(Protocol):
    """Learners' records for the learner analytics (activity windowed, state whole)."""

    async def history(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> LearnerHistory: ...

    async def histories(
        self, user_ids: Sequence[str], *, since: datetime | None, until: datetime
    ) -> dict[str, LearnerHistory]: ...


@dataclass(frozen=True, slots=True)
class OrganizationSkills:
    """An organisation's skill picture: its learners' skill profiles now and as they stood at
    an earlier instant, and its strategic targets."""

    organization_id: str
    profiles: tuple[SkillProfile, ...]
    previous_profiles: tuple[SkillProfile, ...]  # the latest per (user, skill) at `previous_at`
    previous_at: datetime
    strategic_targets: tuple[StrategicSkillTarget, ...]
    data_as_of: datetime | None  # when the newest of these rows reached the store


class CohortRepository(Protocol):
    """Who is in a cohort (learners only), and an organisation's skills (SPEC §10 Comparison)."""

    async def department_learners(self, department_id: str) -> list[str]:
        """Ids of the learners of a department (directly, or through one of its teams)."""
        ...

    async def organization_learners(self, organization_id: str) -> list[str]: ...

    async def course_learners(self, course_id: str) -> list[str]:
        """Ids of the learners enrolled in a course and not withdrawn."""
        ...

    async def organization_skills(
        self, organization_id: str, *, previous_at: datetime
    ) -> OrganizationSkills | None:
        """None when the organisation is unknown to the store."""
        ...


class SkillEvidenceRepository(Protocol):
    """The evidence BKT parameters are fitted from (SPEC §10 Mastery, docs/metrics.md)."""

    async def skill_score_sequences(self, organization_id: str) -> dict[str, list[list[float]]]:
        """Per skill, one sequence per learner of the organisation with scores on it: that
        learner's skill scores (%) in submission order. Learners without any score on a skill
        have no sequence for it; an unknown organisation has no skills."""
        ...


class PlatformRepository(Protocol):
    """Platform-wide aggregates for the platform's reporting service."""

    async def statistics(self, *, since: datetime, until: datetime) -> PlatformStatistics: ...


# --------------------------------------------------------------------------------------------
# Trainer and organisation analytics (SPEC §10): aggregates computed by the store


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A window of instants: [start, end), and `as_of` = min(end, now) for "recent" figures."""

    start: datetime
    end: datetime
    as_of: datetime


@dataclass(frozen=True, slots=True)
class OrganizationScope:
    """The learners an organisation figure is about: the organisation's learners in
    `departments` ("" = without a department), activity restricted to `course_id` if given."""

    organization_id: str
    departments: tuple[str, ...]
    window: TimeRange  # local midnights in the request's timezone
    course_id: str | None = None
    # The window's local days are the organisation's (its zone, or one with the same offsets
    # over everything the figures read), which the store may keep rolled up per learner (then
    # it can read them instead of the activity rows).
    organization_zone: bool = False


class TrainerAnalyticsRepository(Protocol):
    """Sums and counts over a trainer's courses, one GROUP BY query each."""

    async def trainer_courses(
        self, trainer_id: str, *, course_id: str | None = None
    ) -> list[tuple[str, str]]:
        """(course id, title) of the courses the trainer owns, by id."""
        ...

    async def course_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[CourseAggregate]: ...

    async def unit_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[UnitAggregate]: ...

    async def assessment_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[AssessmentAggregate]: ...

    async def enrollment_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[EnrollmentAggregate]: ...

    async def gain_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[GainAggregate]: ...

    async def organization_rates(self, organization_id: str, window: TimeRange) -> RateAggregate:
        """Completion and pass rates over all the organisation's courses (the baseline)."""
        ...


class OrganizationAnalyticsRepository(Protocol):
    """Sums and counts per department of an organisation, one GROUP BY query each."""

    async def organization_timezone(self, organization_id: str) -> tuple[bool, str | None]:
        """(whether the organisation is known, its timezone)."""
        ...

    async def department_headcounts(self, organization_id: str) -> list[DepartmentHeadcount]: ...

    async def managed_departments(self, manager_id: str) -> frozenset[str]:
        """Departments the user manages, directly or through one of its teams."""
        ...

    async def weekly_activity(
        self, scope: OrganizationScope, *, anchor: datetime
    ) -> list[WeekAggregate]:
        """Learning events per department and 7-day week counted from `anchor`."""
        ...

    async def window_activity(self, scope: OrganizationScope) -> list[ActivityAggregate]: ...

    async def strategic_aggregates(
        self, scope: OrganizationScope, *, previous: TimeRange
    ) -> tuple[list[SkillTargetAggregate], EffortAggregate, EffortAggregate]:
        """The organisation's strategic targets with their learners' levels and the window's
        learning time on each; all learning time of the window and of `previous`, plain and
        weighted by the targets."""
        ...

    async def department_aggregates(
        self, scope: OrganizationScope
    ) -> list[DepartmentAggregate]: ...

    async def culture_aggregates(
        self, scope: OrganizationScope, *, weeks: int
    ) -> list[CultureAggregate]: ...

    async def last_sync_at(self) -> datetime | None:
        """When a sync last succeeded (the data's age), None when nothing was synced."""


# --------------------------------------------------------------------------------------------
# Gamification (SPEC §11)


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    rank: int
    user_id: str
    display_name: str | None
    visible: bool  # the user's leaderboard preference
    points: int


@dataclass(frozen=True, slots=True)
class LeaderboardScope:
    """Who competes: an organisation's users, optionally only a department's or a course's
    (enrolled, not withdrawn)."""

    organization_id: str
    department_id: str | None = None
    course_id: str | None = None


@dataclass(frozen=True, slots=True)
class LeaderboardSlice:
    top: tuple[LeaderboardRow, ...]  # ranked, at most `limit` rows
    participants: int  # users of the scope with points in the period
    caller: LeaderboardRow | None  # the caller's row when they have points in the period


class GamificationRepository(Protocol):
    """The points ledger, achievements and leaderboard preference (SQL on both databases)."""

    async def users_touched_since(self, since: datetime) -> list[str]:
        """Users with any gamification-relevant row ingested at or after `since`."""
        ...

    async def user_ids_after(self, after: str | None, *, limit: int) -> list[str]:
        """Every user id in id order, a page at a time (for a full replay)."""
        ...

    async def learner_events(self, user_ids: Sequence[str]) -> dict[str, LearnerEvents]: ...

    async def timezones(self, user_ids: Sequence[str]) -> dict[str, str | None]:
        """Each user's timezone, else their organisation's (None: neither is known)."""
        ...

    async def awards(self, user_ids: Sequence[str]) -> dict[str, list[Award]]: ...

    async def append_awards(self, awards: Sequence[Award]) -> int:
        """Add awards whose (user, rule, source event) is new, and their points to the period
        totals leaderboards rank; return how many were added."""
        ...

    async def points(
        self, user_id: str, *, periods: Sequence[tuple[datetime, datetime]]
    ) -> tuple[int, list[int]]:
        """The user's all-time points and their points within each [start, end)."""
        ...

    async def leaderboard(
        self,
        scope: LeaderboardScope,
        *,
        period: Period,
        period_start: date,
        limit: int,
        caller_id: str | None,
    ) -> LeaderboardSlice:
        """The scope's members ranked by their points of the period starting on
        `period_start` (a local day of the organisation's zone; see `period_start_day`)."""
        ...

    async def in_scope(self, user_id: str, scope: LeaderboardScope) -> bool: ...

    async def organization_timezone(self, organization_id: str) -> str | None: ...

    async def department_organization(self, department_id: str) -> str | None: ...

    async def course_organization(self, course_id: str) -> str | None: ...

    async def set_leaderboard_visible(self, user_id: str, *, visible: bool) -> bool:
        """False when the user is unknown to the store."""
        ...

    async def earned_achievements(self, user_id: str) -> dict[str, datetime]: ...

    async def record_achievements(self, user_id: str, earned: Mapping[str, datetime]) -> int:
        """Keep newly earned achievements (an achievement once recorded keeps its date)."""
        ...


@dataclass(frozen=True, slots=True)
class ActivityScope:
    """Whose activity: an organisation's learners, or one of them; since an instant."""

    organization_id: str
    since: datetime | None = None
    user_id: str | None = None


class ActivityItemsRepository(Protocol):
    """The store's activity as RAG's data-structure report names it (EDUCORE.md §3.9)."""

    async def items(
        self, scope: ActivityScope, *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(how many items there are, the page [offset, offset + limit) newest first)."""
        ...
