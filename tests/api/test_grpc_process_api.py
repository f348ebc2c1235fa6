"""The platform's gRPC `Process` channel (EDUCORE.md §2.5), over a real loopback port: RAG's
batch sync and real-time questions answered as the HTTP integration endpoint answers them."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from learning_analytics.presentation.grpc_process import ProcessRequest, ProcessResponse
from tests.api.test_integration_api import map_directory_ids, sample

pytestmark = pytest.mark.anyio
METHOD = "/microservice.v1.MicroserviceAPI/Process"


async def call(port: int, envelope_json: str) -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        process = channel.unary_unary(
            METHOD,
            request_serializer=ProcessRequest.SerializeToString,
            response_deserializer=ProcessResponse.FromString,
        )
        request = ProcessRequest(envelope_json=envelope_json, metadata={"source": "coordinator"})
        return await process(request, timeout=10)


async def test_rag_batch_sync_over_grpc(api_factory: Any, world: Any, now: Any) -> None:
    await map_directory_ids(world, now)
    request = sample("rag-serve-grpc.json")["request_envelope_json_decoded"]
    async with api_factory(GRPC_PORT=0) as api:
        port = api.app.state.grpc_port
        reply = await call(port, json.dumps(request))
        assert (reply.success, reply.error) == (True, "")
        envelope = json.loads(reply.envelope_json)
        assert envelope["request_id"] == request["request_id"]
        assert envelope["data"]["total"] == 6
        assert envelope["metadata"]["mode"] == "batch"

        # The same envelope over HTTP gets the same items.
        over_http = (await api.client.post("/api/fill-content-metrics", json=request)).json()
        assert over_http["data"]["items"] == envelope["data"]["items"]

        realtime = {
            **sample("rag-serve-grpc.json")["realtime_request_envelope_json_decoded"],
            "user_id": "l-1",
        }
        answer = json.loads((await call(port, json.dumps(realtime))).envelope_json)
        assert isinstance(answer["data"], list)
        assert {item["user_id"] for item in answer["data"]} == {"l-1"}


@pytest.mark.parametrize(
    ("envelope_json", "error"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"target_service": "la", "payload": {"sync_type": "batch"}}), "tenant_id"),
        (json.dumps({"requester_service": "x", "payload": {}}), "unsupported request"),
    ],
)
async def test_bad_envelopes_get_success_false_and_the_reason(
    api_factory: Any, envelope_json: str, error: str
) -> None:
    async with api_factory(GRPC_PORT=0) as api:
        reply = await call(api.app.state.grpc_port, envelope_json)
    assert reply.success is False
    assert error in reply.error


async def test_the_channel_is_off_without_a_port(api: Any) -> None:
    assert not hasattr(api.app.state, "grpc_port")
