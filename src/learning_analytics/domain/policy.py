"""Who may read which subject (SPEC §8.3). Pure: the facts are loaded elsewhere.

Subject-viewers of a learner: the learner; a trainer of a course the learner is enrolled in;
a manager of the learner (direct manager, or manager of their department or team); an org admin
of the learner's organisation; a platform admin. Nobody else, in any organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from learning_analytics.domain.models import Principal, Role


@dataclass(frozen=True, slots=True)
class LearnerFacts:
    user_id: str
    organization_id: str
    department_id: str | None
    team_id: str | None
    manager_ids: frozenset[str]  # direct manager and managers of the department and team
    trainer_ids: frozenset[str]  # trainers of the courses the learner is enrolled in


def can_view_learner(principal: Principal, facts: LearnerFacts) -> bool:
    if principal.is_admin or principal.id == facts.user_id:
        return True
    if principal.organization_id != facts.organization_id:
        return False
    if principal.has(Role.ORG_ADMIN):
        return True
    if principal.has(Role.MANAGER) and principal.id in facts.manager_ids:
        return True
    return principal.has(Role.TRAINER) and principal.id in facts.trainer_ids


def can_view_model_card(principal: Principal) -> bool:
    """The drop-off model's card: org admins and platform admins (SPEC §7)."""
    return principal.is_admin or principal.has(Role.ORG_ADMIN)


def can_view_organization(principal: Principal, organization_id: str) -> bool:
    if principal.is_admin:
        return True
    return principal.has(Role.ORG_ADMIN) and principal.organization_id == organization_id


def member_organization(principal: Principal, requested: str | None) -> str | None:
    """The organisation a member-scoped endpoint answers for: always the caller's own; only a
    platform admin may name another with `orgId`."""
    if principal.is_admin and requested:
        return requested
    return principal.organization_id


def can_view_trainer(
    principal: Principal, trainer_id: str, trainer_organization_id: str | None
) -> bool:
    """Trainer analytics: the trainer, an org admin of the trainer's organisation, an admin."""
    if principal.is_admin or principal.id == trainer_id:
        return True
    return (
        principal.has(Role.ORG_ADMIN)
        and trainer_organization_id is not None
        and principal.organization_id == trainer_organization_id
    )


def can_view_departments(principal: Principal, organization_id: str) -> bool:
    """Department analytics beyond org admins: a manager of the organisation (restricted to the
    departments they manage, which the caller checks)."""
    return principal.has(Role.MANAGER) and principal.organization_id == organization_id
