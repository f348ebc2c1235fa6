"""The Coordinator client of the outbound EDUCORE transport (SPEC §5.1, EDUCORE.md §2).

Every pull is one signed envelope POSTed to `${COORDINATOR_URL}/api/fill-content-metrics/`,
through the shared resilient `UpstreamClient` (timeouts, retries, breaker, bulkhead). There is
one `UpstreamClient` per sibling, all pointing at the Coordinator: a sibling that fails opens
its own circuit, not everyone's.

The body is the envelope as `JSON.stringify` writes it, signed (ECDSA P-256) as our registered
service name. When the Coordinator's public key is configured and a reply carries
`X-Service-Signature` (or `X-Signature`), it must verify over the reply body (or its re-stringified
object); a reply without one is accepted, as the Coordinator's reply framing is not pinned down
(EDUCORE.md §5.9).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from learning_analytics.domain.errors import UpstreamContractError
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    decode_json,
    filled_response,
)
from learning_analytics.infrastructure.educore.signing import (
    SERVICE_NAME_HEADER,
    EnvelopeSigner,
    SignatureVerifier,
    encode_envelope,
)
from learning_analytics.infrastructure.upstreams.http import RawReply, UpstreamClient

log = structlog.get_logger("learning_analytics.educore")

COORDINATOR_PATH = "/api/fill-content-metrics/"
REPLY_SIGNATURE_HEADERS = ("x-service-signature", "x-signature")


@dataclass(frozen=True, slots=True)
class Reply:
    """A sibling's reply through the Coordinator: the filled template and the body as received."""

    response: JsonObject
    raw: str


class DirectoryToken:
    """The system-admin nAuth token Directory requires (EDUCORE.md §3.3, §5.3): configured as
    a value, or as a file re-read on every call, so a token refreshed by an outside job is used
    without a restart."""

    def __init__(self, *, value: str | None = None, path: str | None = None) -> None:
        self._value = value.strip() if value else None
        self._path = Path(path) if path else None

    def __call__(self) -> str | None:
        if self._path is not None:
            try:
                text = self._path.read_text(encoding="utf-8").strip()
            except OSError:
                log.warning("directory_token_unreadable", path=str(self._path))
                return self._value
            return text or self._value
        return self._value


class CoordinatorClient:
    """Signed envelope calls for one sibling (its own circuit) through the Coordinator."""

    def __init__(
        self,
        client: UpstreamClient,
        *,
        signer: EnvelopeSigner | None,
        verifier: SignatureVerifier | None = None,
        timeout_header_ms: int | None = None,
    ) -> None:
        self.client = client
        self._signer = signer
        self._verifier = verifier
        self._timeout_header_ms = timeout_header_ms

    @property
    def name(self) -> str:
        return self.client.name

    async def call(self, envelope: Mapping[str, Any], *, request_id: str | None = None) -> Reply:
        body, headers = encode_envelope(self._signer, envelope)
        if self._timeout_header_ms:
            headers["X-Request-Timeout"] = str(self._timeout_header_ms)
        return await self.client.post(
            COORDINATOR_PATH,
            content=body,
            headers=headers,
            parse=self._parser(),
            request_id=request_id,
        )

    def _parser(self) -> Callable[[RawReply], Reply]:
        service = self.client.name

        def parse(reply: RawReply) -> Reply:
            decoded = decode_json(reply.body, service=service)
            self._check_signature(reply, decoded)
            return Reply(
                response=filled_response(decoded, service=service),
                raw=reply.body.decode("utf-8", errors="replace"),
            )

        return parse

    def _check_signature(self, reply: RawReply, decoded: Any) -> None:
        if self._verifier is None:
            return
        signature = next(
            (reply.headers[h] for h in REPLY_SIGNATURE_HEADERS if reply.headers.get(h)), None
        )
        if signature is None:
            return
        signer = reply.headers.get(SERVICE_NAME_HEADER.lower(), "coordinator")
        if not self._verifier.verify(signer, signature, body=reply.body, envelope=decoded):
            raise UpstreamContractError(
                f"{self.client.name}: the Coordinator's reply signature does not verify",
                service=self.client.name,
            )
