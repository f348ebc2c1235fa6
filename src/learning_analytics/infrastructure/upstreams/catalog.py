"""Which collections each configured upstream contributes (the "rest" transport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from learning_analytics.infrastructure.upstreams import activity, course_builder, directory, skills
from learning_analytics.infrastructure.upstreams.http import UpstreamClient, UpstreamRegistry
from learning_analytics.infrastructure.upstreams.rest import RestCollection

Factory = Callable[[UpstreamClient], list[RestCollection[Any]]]

# In sync order: structure first, so a first sync fills the store in a sensible order.
FACTORIES: dict[str, Factory] = {
    "directory": directory.collections,
    "course-builder": course_builder.collections,
    "skills-engine": skills.skills_engine,
    "learner-ai": skills.learner_ai,
    "content-studio": activity.content_studio,
    "assessment": activity.assessment,
    "devlab": activity.devlab,
    "rag": activity.rag,
}


def rest_collections(registry: UpstreamRegistry) -> list[RestCollection[Any]]:
    """Every collection of every configured data upstream."""
    return [
        source
        for name, factory in FACTORIES.items()
        if (client := registry.get(name)) is not None
        for source in factory(client)
    ]


def per_user_collections(registry: UpstreamRegistry) -> list[RestCollection[Any]]:
    return [source for source in rest_collections(registry) if source.per_user]
