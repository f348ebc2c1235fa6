"""The Auth upstream (MS12) over the "rest" transport: checks credentials for `/auth/login`.

Contract (docs/upstreams.md, "Auth (MS12)"): `POST {base}/api/v1/auth/login` with JSON
`{email, password}`; 2xx carries the user at `data.user`, `data` or `user`; 400/401/403/404/422
mean the credentials are refused (one answer for an unknown user and a wrong password).

Errors: UpstreamUnavailableError (connection failure, 429, 5xx), UpstreamTimeoutError (no answer
in time), UpstreamContractError (any other status, a body over the size limit, or a 2xx whose
body is not the user object). The login POST is never retried: it is not idempotent from the
Auth service's point of view (failed-attempt counters, lockouts).
"""

from __future__ import annotations

import json
from typing import Annotated

import httpx2
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from learning_analytics.application.ports import AuthenticatedUser
from learning_analytics.domain.errors import (
    UpstreamContractError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

SERVICE = "auth"
LOGIN_PATH = "/api/v1/auth/login"
MAX_RESPONSE_BYTES = 64 * 1024
REFUSED_STATUSES = frozenset({400, 401, 403, 404, 422})

_Id = Annotated[str, Field(min_length=1, max_length=256)]


class _AuthUser(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True)

    id: Annotated[_Id, Field(validation_alias=AliasChoices("id", "sub", "userId", "user_id"))]
    email: Annotated[str, Field(min_length=3, max_length=320)]
    roles: list[_Id] = Field(default_factory=list)
    role: _Id | None = None
    organization_id: Annotated[
        _Id | None, Field(validation_alias=AliasChoices("organizationId", "organization_id"))
    ] = None
    department_ids: Annotated[
        list[_Id], Field(validation_alias=AliasChoices("departmentIds", "department_ids"))
    ] = Field(default_factory=list)

    def to_user(self) -> AuthenticatedUser:
        roles = [*self.roles, *([self.role] if self.role else [])]
        return AuthenticatedUser(
            id=self.id,
            email=self.email,
            roles=tuple(dict.fromkeys(roles)),
            organization_id=self.organization_id,
            department_ids=tuple(dict.fromkeys(self.department_ids)),
        )


class HttpAuthGateway:
    """AuthGateway over HTTP; the client carries the connection pool and default timeouts."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        base_url: str,
        service_token: str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self._client = client
        self._url = base_url.rstrip("/") + LOGIN_PATH
        self._service_token = service_token or None
        self._timeout = timeout_seconds

    async def authenticate(
        self, *, email: str, password: str, request_id: str | None = None
    ) -> AuthenticatedUser | None:
        headers = {"Accept": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        if self._service_token:
            headers["Authorization"] = f"Bearer {self._service_token}"
        try:
            async with self._client.stream(
                "POST",
                self._url,
                json={"email": email, "password": password},
                headers=headers,
                timeout=httpx2.USE_CLIENT_DEFAULT if self._timeout is None else self._timeout,
            ) as response:
                status = response.status_code
                if status in REFUSED_STATUSES:
                    return None
                if status == 429 or status >= 500:
                    raise UpstreamUnavailableError(
                        f"Auth service answered HTTP {status}", service=SERVICE
                    )
                if not 200 <= status < 300:
                    raise UpstreamContractError(
                        f"Auth service answered unexpected HTTP {status}", service=SERVICE
                    )
                body = await _read_limited(response)
        except httpx2.TimeoutException as error:
            raise UpstreamTimeoutError(
                "Auth service did not answer in time", service=SERVICE
            ) from error
        except httpx2.DecodingError as error:
            raise UpstreamContractError(
                "Auth service sent an undecodable body", service=SERVICE
            ) from error
        except httpx2.HTTPError as error:
            raise UpstreamUnavailableError(
                f"Auth service is unreachable: {type(error).__name__}", service=SERVICE
            ) from error
        return _parse_login_reply(body)


async def _read_limited(response: httpx2.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise UpstreamContractError(
                f"Auth service reply is larger than {MAX_RESPONSE_BYTES} bytes", service=SERVICE
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_login_reply(body: bytes) -> AuthenticatedUser | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise UpstreamContractError("Auth service reply is not JSON", service=SERVICE) from error
    if not isinstance(document, dict):
        raise UpstreamContractError("Auth service reply is not a JSON object", service=SERVICE)
    if document.get("success") is False:
        return None
    data = document.get("data")
    candidate: object
    if isinstance(data, dict):
        candidate = data.get("user") if isinstance(data.get("user"), dict) else data
    else:
        candidate = document.get("user")
    try:
        return _AuthUser.model_validate(candidate).to_user()
    except ValidationError as error:
        raise UpstreamContractError(
            "Auth service reply has no valid user",
            service=SERVICE,
            details="; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['type']}" for item in error.errors()
            ),
        ) from error
