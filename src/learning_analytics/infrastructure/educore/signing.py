"""The platform's service-to-service signature (contracts/EDUCORE.md §2.3).

The signed message is `"educoreai-" + serviceName + "-" + sha256_hex(JSON.stringify(envelope))`,
signed with ECDSA P-256 over SHA-256 and sent base64 (DER) in `X-Signature`, with the signer's
registered name in `X-Service-Name`. `JSON.stringify` is reproduced by `js_stringify`: no
whitespace, keys in their order, non-ASCII kept, and integral numbers without a fraction (JS
has one number type: `1.0` prints as `1`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SERVICE_NAME_HEADER = "X-Service-Name"
SIGNATURE_HEADER = "X-Signature"
MAX_SIGNATURE_LENGTH = 512  # base64 of a P-256 DER signature is under 100 characters


class SigningKeyError(ValueError):
    """A configured key is not an EC P-256 key in PEM form."""


def _js_numbers(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _js_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_js_numbers(item) for item in value]
    return value


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)` for JSON-shaped values."""
    return json.dumps(_js_numbers(value), separators=(",", ":"), ensure_ascii=False)


def signed_message(service_name: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"educoreai-{service_name}-{digest}".encode()


def envelope_message(service_name: str, envelope: Any) -> bytes:
    return signed_message(service_name, js_stringify(envelope).encode())


def pem_bytes(value: str | bytes) -> bytes:
    """A PEM key as configured: environment variables often carry its newlines as `\\n`."""
    text = value.decode() if isinstance(value, bytes) else value
    return text.replace("\\n", "\n").strip().encode()


def _curve_checked(key: Any, kind: str) -> Any:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or not (
        isinstance(key.curve, ec.SECP256R1)
    ):
        raise SigningKeyError(f"the {kind} key must be an EC P-256 key")
    return key


class EnvelopeSigner:
    """Signs outbound envelopes as `service_name` with a PEM private key."""

    def __init__(self, private_key_pem: str | bytes, service_name: str) -> None:
        try:
            key = serialization.load_pem_private_key(pem_bytes(private_key_pem), password=None)
        except (ValueError, TypeError) as error:
            raise SigningKeyError("the signing key is not a PEM private key") from error
        self._key: ec.EllipticCurvePrivateKey = _curve_checked(key, "signing")
        self.service_name = service_name

    def sign_body(self, body: bytes) -> str:
        signature = self._key.sign(
            signed_message(self.service_name, body), ec.ECDSA(hashes.SHA256())
        )
        return base64.b64encode(signature).decode("ascii")

    def headers(self, envelope: Any) -> tuple[bytes, dict[str, str]]:
        """The body to send (the envelope as JSON.stringify writes it) and its headers."""
        body = js_stringify(envelope).encode()
        return body, {
            "Content-Type": "application/json",
            SERVICE_NAME_HEADER: self.service_name,
            SIGNATURE_HEADER: self.sign_body(body),
        }


class SignatureVerifier:
    """Checks `X-Signature` against a PEM public key (the Coordinator's)."""

    def __init__(self, public_key_pem: str | bytes) -> None:
        try:
            key = serialization.load_pem_public_key(pem_bytes(public_key_pem))
        except (ValueError, TypeError) as error:
            raise SigningKeyError("the verification key is not a PEM public key") from error
        self._key: ec.EllipticCurvePublicKey = _curve_checked(key, "verification")

    def verify(
        self, service_name: str, signature_b64: str, *, body: bytes, envelope: Any = None
    ) -> bool:
        """Whether the signature covers the body as received or, when the sender signed its own
        `JSON.stringify` of the envelope and the body went through another serialiser, the
        envelope re-stringified."""
        if not signature_b64 or len(signature_b64) > MAX_SIGNATURE_LENGTH:
            return False
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            return False
        candidates = [signed_message(service_name, body)]
        if envelope is not None:
            candidates.append(envelope_message(service_name, envelope))
        for message in candidates:
            try:
                self._key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return True
        return False


def encode_envelope(signer: EnvelopeSigner | None, envelope: Any) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an envelope sent to the Coordinator: signed when we have a key,
    else as `JSON.stringify` writes it."""
    if signer is not None:
        return signer.headers(envelope)
    return js_stringify(envelope).encode(), {"Content-Type": "application/json"}


def generate_key_pair() -> tuple[str, str]:
    """A new P-256 key pair as PEM (private PKCS#8, public SubjectPublicKeyInfo): for tests,
    the simulator and operators setting up a deployment."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
