"""Re-validating an expired nAuth token through the Coordinator (EDUCORE.md §3.10).

nAuth access tokens live 15 minutes; a browser keeps using one after it expired while its
session (a refresh cookie we never see) is alive. The platform's services then ask nAuth,
through the Coordinator's `/request` entry point with an exact action sentence, and nAuth
re-issues the token (`ACCESS_TOKEN_REFRESHED` + `new_access_token`), which the service returns
in `X-New-Access-Token` for the frontend to swap in.

Only tokens whose signature already verified locally are sent (the verifier reports expiry only
after checking the signature), and only a re-issued token that verifies locally is accepted:
the Coordinator's word alone never authenticates anyone. Answers are remembered for a minute
per token, so the fast path and the route do not ask twice.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import structlog

from learning_analytics.infrastructure.educore.signing import EnvelopeSigner, encode_envelope

log = structlog.get_logger("learning_analytics.auth")

VALIDATION_ACTION = (
    "Route this request to nAuth service only for access token validation and session "
    "continuity decision."
)
REFRESHED = "ACCESS_TOKEN_REFRESHED"
MAX_REPLY_BYTES = 65_536


def validation_envelope(requester: str, token: str, *, route: str, method: str) -> dict[str, Any]:
    return {
        "requester_service": requester,
        "payload": {
            "action": VALIDATION_ACTION,
            "access_token": token,
            "route": route,
            "method": method,
        },
        "response": {
            "valid": False,
            "reason": "",
            "auth_state": "",
            "directory_user_id": "",
            "organization_id": "",
            "primary_role": "",
            "is_system_admin": False,
            "is_trainer": False,
            "new_access_token": "",
        },
    }


def validation_reply(document: Any) -> Mapping[str, Any] | None:
    """The filled template wherever the Coordinator put it: `data.response`,
    `data.data.response`, `data.data`, `response`, or the document itself (the object that
    carries `valid`)."""
    candidates: list[Any] = []
    if isinstance(document, Mapping):
        data = document.get("data")
        if isinstance(data, Mapping):
            inner = data.get("data")
            candidates += [data.get("response")]
            if isinstance(inner, Mapping):
                candidates += [inner.get("response"), inner]
            candidates.append(data)
        candidates += [document.get("response"), document]
    for candidate in candidates:
        if isinstance(candidate, Mapping) and "valid" in candidate:
            return candidate
    return None


class CoordinatorTokenRevalidator:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        coordinator_url: str,
        requester_service: str,
        path: str = "/request",
        signer: EnvelopeSigner | None = None,
        timeout_seconds: float = 2.0,
        remember_seconds: float = 60.0,
        remember_size: int = 4096,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = coordinator_url.rstrip("/") + "/" + path.lstrip("/")
        self._requester = requester_service
        self._signer = signer
        self._timeout = timeout_seconds
        self._remember_seconds = remember_seconds
        self._remember_size = remember_size
        self._monotonic = monotonic
        self._answers: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def reissue(self, token: str, *, route: str, method: str) -> str | None:
        """A new access token for an expired one, or None (not re-issued, or no answer)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        remembered = self._answers.get(key)
        if remembered is not None and self._monotonic() < remembered[0]:
            return remembered[1]
        answer = await self._ask(token, route=route, method=method)
        self._answers[key] = (self._monotonic() + self._remember_seconds, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._remember_size:
            self._answers.popitem(last=False)
        return answer

    async def _ask(self, token: str, *, route: str, method: str) -> str | None:
        envelope = validation_envelope(self._requester, token, route=route, method=method)
        body, headers = encode_envelope(self._signer, envelope)
        try:
            reply = await self._http.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx2.HTTPError as error:
            log.warning("token_revalidation_unreachable", error=type(error).__name__)
            return None
        if reply.status_code != 200 or len(reply.content) > MAX_REPLY_BYTES:
            log.warning("token_revalidation_refused", status=reply.status_code)
            return None
        try:
            filled = validation_reply(reply.json())
        except ValueError:
            filled = None
        if filled is None or filled.get("valid") is not True:
            return None
        new_token = filled.get("new_access_token")
        if filled.get("auth_state") != REFRESHED or not isinstance(new_token, str):
            return None
        return new_token or None
