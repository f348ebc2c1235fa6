"""The outbound EDUCORE transport's adapters, one per sibling, all through one Coordinator."""

from __future__ import annotations

from typing import Any

import httpx2

from learning_analytics.application.ports import Clock
from learning_analytics.infrastructure.educore.assessment import AssessmentSource
from learning_analytics.infrastructure.educore.content_studio import ContentStudioSource
from learning_analytics.infrastructure.educore.coordinator import CoordinatorClient, DirectoryToken
from learning_analytics.infrastructure.educore.course_builder import CourseBuilderSource
from learning_analytics.infrastructure.educore.devlab import DevLabSource
from learning_analytics.infrastructure.educore.directory import DirectorySource
from learning_analytics.infrastructure.educore.envelope import MAX_PAGE_SIZE
from learning_analytics.infrastructure.educore.learner_ai import LearnerAiSource
from learning_analytics.infrastructure.educore.signing import EnvelopeSigner, SignatureVerifier
from learning_analytics.infrastructure.educore.skills_engine import SkillsEngineSource
from learning_analytics.infrastructure.educore.sources import SIBLINGS, EducoreSource
from learning_analytics.infrastructure.upstreams.http import (
    UpstreamObserver,
    UpstreamPolicy,
    UpstreamRegistry,
)


def coordinator_registry(
    coordinator_url: str,
    *,
    policy: UpstreamPolicy,
    observer: UpstreamObserver | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> UpstreamRegistry:
    """One resilient client per sibling, each pointing at the Coordinator (own circuit each)."""
    return UpstreamRegistry(
        dict.fromkeys(SIBLINGS, coordinator_url),
        policy=policy,
        observer=observer,
        transport=transport,
    )


def educore_sources(
    registry: UpstreamRegistry,
    *,
    signer: EnvelopeSigner | None,
    clock: Clock,
    verifier: SignatureVerifier | None = None,
    directory_token: DirectoryToken | None = None,
    page_size: int = MAX_PAGE_SIZE,
    timeout_header_ms: int | None = None,
) -> list[EducoreSource[Any]]:
    """Every sibling's adapter, in sync order (Directory first: the others' people are its)."""

    def client(sibling: str) -> CoordinatorClient:
        return CoordinatorClient(
            registry[sibling], signer=signer, verifier=verifier, timeout_header_ms=timeout_header_ms
        )

    return [
        DirectorySource(
            client("directory"), clock=clock, token=directory_token or DirectoryToken()
        ),
        CourseBuilderSource(client("course-builder"), clock=clock),
        ContentStudioSource(client("content-studio"), clock=clock),
        AssessmentSource(client("assessment"), clock=clock),
        SkillsEngineSource(client("skills-engine"), clock=clock, page_size=page_size),
        LearnerAiSource(client("learner-ai"), clock=clock),
        DevLabSource(client("devlab"), clock=clock),
    ]


def per_user_sources(sources: list[EducoreSource[Any]]) -> list[EducoreSource[Any]]:
    return [source for source in sources if source.per_user]
