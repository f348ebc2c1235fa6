"""Configuration: ecosystem names, demo and production modes (SPEC §2)."""

from __future__ import annotations

from typing import Any

import pytest

from learning_analytics.config import (
    ConfigurationError,
    Settings,
    check_production_safety,
    resolve_signing_secret,
)
from learning_analytics.presentation.app import create_app

STRONG = "s" * 40
PRODUCTION: dict[str, Any] = {
    "APP_ENV": "production",
    "JWT_SECRET": STRONG,
    "MOCK_FALLBACK": "false",
    "AUTH_SERVICE_URL": "http://auth.internal",
    "REDIS_URL": None,
    "DATABASE_URL": "sqlite+aiosqlite:///./var/x.db",
}


def settings(**values: Any) -> Settings:
    return Settings(**values)


def test_demo_defaults_are_embedded_and_mock_fallback_on() -> None:
    demo = settings(APP_ENV="demo", REDIS_URL=None, DATABASE_URL="sqlite:///./var/a.db")
    assert demo.database_url == "sqlite+aiosqlite:///./var/a.db"
    assert demo.redis_url is None
    assert demo.mock_fallback_enabled is True
    check_production_safety(demo)  # demo never refuses
    # Without a configured secret the demo signs with a fresh strong one per process.
    assert len(resolve_signing_secret(demo)) >= 32


def test_postgres_urls_are_normalised_to_the_async_driver() -> None:
    assert (
        settings(DATABASE_URL="postgres://u@h:5432/db").database_url
        == "postgresql+asyncpg://u@h:5432/db"
    )
    assert (
        settings(DATABASE_URL="postgresql://u@h/db").database_url == "postgresql+asyncpg://u@h/db"
    )


def test_production_with_safe_settings_starts() -> None:
    production = settings(**PRODUCTION)
    check_production_safety(production)
    assert production.mock_fallback_enabled is False
    create_app(production)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"JWT_SECRET": None}, "JWT_SECRET is not set"),
        ({"JWT_SECRET": "short-secret"}, "weaker than 32 bytes"),
        ({"MOCK_FALLBACK": None}, "MOCK_FALLBACK must be set explicitly"),
        ({"AUTH_SERVICE_URL": None}, "AUTH_SERVICE_URL is not set"),
    ],
)
def test_production_refuses_unsafe_settings(change: dict[str, Any], complaint: str) -> None:
    unsafe = settings(**{**PRODUCTION, **change})
    with pytest.raises(ConfigurationError, match=complaint):
        check_production_safety(unsafe)
    with pytest.raises(ConfigurationError, match=complaint):
        create_app(unsafe)


def test_mock_fallback_can_be_enabled_explicitly_in_production() -> None:
    assert settings(**{**PRODUCTION, "MOCK_FALLBACK": "true"}).mock_fallback_enabled is True


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"APP_ENV|app_env"):
        settings(APP_ENV="staging")
    with pytest.raises(ValueError, match=r"DATABASE_SCHEMA|database_schema"):
        settings(DATABASE_SCHEMA="bad schema; drop")


def test_gamification_rules_are_read_as_json_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMIFICATION_RULES", '{"lesson_completed": {"points": 15}}')
    assert Settings().gamification_rules == {"lesson_completed": {"points": 15}}
