"""The platform's gRPC channel (EDUCORE.md §2.5): `microservice.v1.MicroserviceAPI/Process`,
which every service runs and through which the Coordinator relays RAG's batch syncs and
real-time questions.

`ProcessRequest{string envelope_json = 1; map<string, string> metadata = 2}` →
`ProcessResponse{bool success = 1; string envelope_json = 2; string error = 3}`. The messages
are built from their descriptor with the protobuf library (no generated code to keep in step).
`envelope_json` is answered exactly as the HTTP integration endpoint answers the same JSON.

The platform runs this channel with insecure credentials and no signature, so it is off unless
`GRPC_PORT` is set, listens on `GRPC_HOST` (loopback by default), and must only be reachable
from the Coordinator's network; messages through it count as unverified.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import structlog
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from learning_analytics.application.integration import refused
from learning_analytics.domain.integration import MalformedMessageError, classify, parse_message
from learning_analytics.presentation.routers.integration import dispatch
from learning_analytics.presentation.state import Services

log = structlog.get_logger("learning_analytics.grpc")
SERVICE = "microservice.v1.MicroserviceAPI"


def _message_classes() -> tuple[Any, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="learning_analytics/microservice.proto", package="microservice.v1", syntax="proto3"
    )
    request = file.message_type.add(name="ProcessRequest")
    request.field.add(name="envelope_json", number=1, type=9, label=1)  # string
    entry = request.nested_type.add(name="MetadataEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=9, label=1)
    entry.field.add(name="value", number=2, type=9, label=1)
    request.field.add(
        name="metadata",
        number=2,
        type=11,  # message
        label=3,  # repeated
        type_name=".microservice.v1.ProcessRequest.MetadataEntry",
    )
    response = file.message_type.add(name="ProcessResponse")
    response.field.add(name="success", number=1, type=8, label=1)  # bool
    response.field.add(name="envelope_json", number=2, type=9, label=1)
    response.field.add(name="error", number=3, type=9, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("microservice.v1.ProcessRequest")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("microservice.v1.ProcessResponse")
        ),
    )


ProcessRequest, ProcessResponse = _message_classes()


async def process(services: Services, envelope_json: str) -> tuple[bool, str, str]:
    """(success, reply envelope JSON, error) for one `Process` call."""
    body = envelope_json.encode("utf-8", errors="replace")
    if len(body) > services.settings.integration_max_body_bytes:
        outcome = refused(None, 413, "the envelope is too large")
    else:
        try:
            message = parse_message("application/json", body)
        except MalformedMessageError as error:
            outcome = refused(None, 400, str(error))
        else:
            outcome, _ = await dispatch(services, message, classify(message), verified=False)
    success = outcome.status == 200
    return success, json.dumps(outcome.envelope), "" if success else outcome.error


class ProcessServer:
    """The gRPC server of one API process (started and stopped by the app's lifespan)."""

    def __init__(self, services: Services, *, host: str, port: int) -> None:
        self._services = services
        self._server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(
            self._process,
            request_deserializer=ProcessRequest.FromString,
            response_serializer=ProcessResponse.SerializeToString,
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Process": handler}),)
        )
        self.port = self._server.add_insecure_port(f"{host}:{port}")

    async def _process(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,  # noqa: ARG002 — the handler signature
    ) -> Any:
        try:
            success, envelope, error = await process(self._services, request.envelope_json)
        except Exception:  # a bug must still answer, without internals
            log.exception("grpc_process_failed")
            success, envelope, error = False, "", "internal error"
        return ProcessResponse(success=success, envelope_json=envelope, error=error)

    async def start(self) -> None:
        await self._server.start()
        log.info("grpc_started", port=self.port)

    async def stop(self) -> None:
        await self._server.stop(grace=2)
