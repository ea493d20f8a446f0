"""A local token issuer for development: a signing key on disk and tokens minted from it.

`dev-setup` creates `.dev-issuer/` (git-ignored) with an ES256 key and its JWKS, and points
the server at that JWKS through a `file://` URL, so OAuth works on a laptop without an
authorization server. Never use it in production: anyone with the key can mint tokens.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEV_ISSUER = "http://dev-issuer.localhost"
KID = "dev-1"


def create(directory: Path) -> Path:
    """Write a new signing key and its JWKS into `directory`; return the JWKS path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_file = directory / "signing-key.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks_file = directory / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "ES256"}]}))
    return jwks_file


def mint(directory: Path, *, audience: str, scopes: list[str], days: int, subject: str = "developer") -> str:
    """A token from the key in `directory` for `audience`, valid for `days`."""
    key = serialization.load_pem_private_key((directory / "signing-key.pem").read_bytes(), password=None)
    now = int(time.time())
    claims = {
        "iss": DEV_ISSUER,
        "aud": audience,
        "sub": subject,
        "client_id": "dev-client",
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + days * 86_400,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID, "typ": "at+jwt"})  # type: ignore[arg-type]
