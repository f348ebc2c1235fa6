"""The platform's envelope signature (contracts/EDUCORE.md §2.3)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    SigningKeyError,
    envelope_message,
    generate_key_pair,
    js_stringify,
)

ENVELOPE = {
    "requester_service": "LearningAnalytics",
    "payload": {"action": "x", "limit": 1000, "ratio": 1.0, "name": "Zoë"},
    "response": {},
}


def test_js_stringify_matches_json_stringify() -> None:
    # JSON.stringify(ENVELOPE) in Node: compact, keys in order, 1.0 printed as 1, "ë" kept.
    assert js_stringify(ENVELOPE) == (
        '{"requester_service":"LearningAnalytics","payload":{"action":"x","limit":1000,'
        '"ratio":1,"name":"Zoë"},"response":{}}'
    )
    assert js_stringify({"a": 0.5, "b": [2.0, None, True]}) == '{"a":0.5,"b":[2,null,true]}'


def test_message_is_prefix_service_and_sha256_of_the_stringified_envelope() -> None:
    digest = hashlib.sha256(js_stringify(ENVELOPE).encode()).hexdigest()
    assert envelope_message("LearningAnalytics", ENVELOPE) == (
        f"educoreai-LearningAnalytics-{digest}".encode()
    )


def test_signed_envelope_verifies_and_tampering_does_not() -> None:
    private, public = generate_key_pair()
    signer = EnvelopeSigner(private, "coordinator")
    body, headers = signer.headers(ENVELOPE)
    assert headers["X-Service-Name"] == "coordinator"
    assert json.loads(body) == ENVELOPE
    verifier = SignatureVerifier(public)
    assert verifier.verify("coordinator", headers["X-Signature"], body=body)
    assert not verifier.verify("directory-service", headers["X-Signature"], body=body)
    assert not verifier.verify("coordinator", headers["X-Signature"], body=body + b" ")
    assert not verifier.verify("coordinator", "", body=body)
    assert not verifier.verify("coordinator", "not base64 !", body=body)
    assert not verifier.verify("coordinator", "A" * 600, body=body)


def test_body_reserialised_by_another_writer_verifies_through_the_envelope() -> None:
    private, public = generate_key_pair()
    signature = EnvelopeSigner(private, "coordinator").headers(ENVELOPE)[1]["X-Signature"]
    pretty = json.dumps(ENVELOPE, indent=2).encode()  # same envelope, other bytes
    verifier = SignatureVerifier(public)
    assert not verifier.verify("coordinator", signature, body=pretty)
    assert verifier.verify("coordinator", signature, body=pretty, envelope=json.loads(pretty))


def test_signature_made_by_node_style_code_verifies() -> None:
    # What the siblings' Node code does: crypto.sign('sha256', message, privateKey) -> DER b64.
    key = ec.generate_private_key(ec.SECP256R1())
    body = js_stringify(ENVELOPE).encode()
    message = b"educoreai-coordinator-" + hashlib.sha256(body).hexdigest().encode()
    signature = base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert SignatureVerifier(public).verify("coordinator", signature, body=body)


def test_another_key_does_not_verify() -> None:
    private, _ = generate_key_pair()
    _, other_public = generate_key_pair()
    body, headers = EnvelopeSigner(private, "coordinator").headers(ENVELOPE)
    assert not SignatureVerifier(other_public).verify(
        "coordinator", headers["X-Signature"], body=body
    )


def test_keys_other_than_p256_are_refused() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(SigningKeyError):
        EnvelopeSigner(rsa_pem, "LearningAnalytics")
    with pytest.raises(SigningKeyError):
        SignatureVerifier("not a key")


def test_keys_with_escaped_newlines_from_the_environment_load() -> None:
    private, public = generate_key_pair()
    signer = EnvelopeSigner(private.replace("\n", "\\n"), "coordinator")
    body, headers = signer.headers(ENVELOPE)
    verifier = SignatureVerifier(public.replace("\n", "\\n"))
    assert verifier.verify("coordinator", headers["X-Signature"], body=body)
