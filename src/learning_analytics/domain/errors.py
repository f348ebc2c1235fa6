"""The error tree of Learning Analytics. No HTTP here: presentation/errors.py maps each class.

LearningAnalyticsError
├── AuthenticationError            the caller is not authenticated (missing/invalid token)
│   ├── TokenExpiredError          the token was valid but has expired
│   └── InvalidCredentialsError    login refused (same error for unknown user and wrong password)
├── ForbiddenError                 authenticated but not allowed (never says if it exists)
├── NotFoundError                  no such subject (told only to callers who could see it)
├── InvalidInputError              a request value is invalid
├── InsufficientDataError          not enough data to compute an honest answer
├── PayloadTooLargeError           request body (or upstream payload) over the limit
├── RateLimitedError               a rate limit was hit; carries retry_after seconds
└── UpstreamError                  an upstream service could not give a usable answer
    ├── UpstreamUnavailableError   connection refused, 5xx, circuit open
    ├── UpstreamTimeoutError       no answer within the budget
    └── UpstreamContractError      the answer did not match the contract (garbage)
"""

from __future__ import annotations


class LearningAnalyticsError(Exception):
    """Base of every error this service raises on purpose."""

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class AuthenticationError(LearningAnalyticsError):
    pass


class TokenExpiredError(AuthenticationError):
    pass


class InvalidCredentialsError(AuthenticationError):
    pass


class ForbiddenError(LearningAnalyticsError):
    pass


class NotFoundError(LearningAnalyticsError):
    pass


class InvalidInputError(LearningAnalyticsError):
    pass


class InsufficientDataError(LearningAnalyticsError):
    pass


class PayloadTooLargeError(LearningAnalyticsError):
    pass


class RateLimitedError(LearningAnalyticsError):
    def __init__(self, message: str, *, retry_after: int, details: str | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class UpstreamError(LearningAnalyticsError):
    def __init__(self, message: str, *, service: str, details: str | None = None) -> None:
        super().__init__(message, details=details)
        self.service = service


class UpstreamUnavailableError(UpstreamError):
    pass


class UpstreamTimeoutError(UpstreamError):
    pass


class UpstreamContractError(UpstreamError):
    pass
