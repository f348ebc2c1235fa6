"""Levels: named thresholds of all-time points (SPEC §11, docs/gamification.md)."""

from __future__ import annotations

from dataclasses import dataclass

# (minimum all-time points, name); level numbers count from 1.
LEVELS: tuple[tuple[int, str], ...] = (
    (0, "Newcomer"),
    (100, "Explorer"),
    (300, "Apprentice"),
    (600, "Practitioner"),
    (1_000, "Achiever"),
    (1_600, "Specialist"),
    (2_500, "Expert"),
    (4_000, "Master"),
    (6_000, "Grandmaster"),
    (9_000, "Legend"),
)


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    name: str
    min_points: int
    next_level_points: int | None  # None at the top level
    points_to_next: int
    progress: float  # 0-1 through the current level (1 at the top level)


def level_for(points: int) -> Level:
    """The level of `points` and the progress to the next: (points - this level's minimum) /
    (next level's minimum - this level's minimum)."""
    index = 0
    for i, (minimum, _) in enumerate(LEVELS):
        if points >= minimum:
            index = i
    minimum, name = LEVELS[index]
    if index + 1 == len(LEVELS):
        return Level(index + 1, name, minimum, None, 0, 1.0)
    following = LEVELS[index + 1][0]
    progress = (max(points, minimum) - minimum) / (following - minimum)
    return Level(
        number=index + 1,
        name=name,
        min_points=minimum,
        next_level_points=following,
        points_to_next=following - max(points, 0),
        progress=round(progress, 4),
    )
