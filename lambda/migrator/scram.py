"""SCRAM-SHA-256 verifiers computed here, so a role's plain password never reaches the server or its log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ["SCRAM_ITERATIONS", "scram_sha256_verifier"]

SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def scram_sha256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802 / RFC 7677), in its format
    ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, for ``ALTER ROLE ... PASSWORD``.

    PostgreSQL normalises a password with SASLprep first; for printable ASCII SASLprep changes nothing, so
    this equals what the server would compute.
    """
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
