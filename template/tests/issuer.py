"""A local OAuth issuer for tests: an RSA key, its JWKS served on 127.0.0.1, and a token minter."""

from __future__ import annotations

import atexit
import functools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

RESOURCE_URL = "http://testserver/mcp"


class LocalIssuer:
    """Signs tokens with a fresh key and publishes the public half as a JWKS."""

    def __init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        self.jwks: dict[str, Any] = {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{port}"
        self.jwks_url = f"{self.issuer}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        atexit.register(self.server.shutdown)

    def mint(self, *, key: Any = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A signed access token; claims override sensible valid defaults."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": RESOURCE_URL,
            "sub": "user-1",
            "client_id": "client-1",
            "scope": "",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload,
            key or self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})},
        )


@functools.cache
def local_issuer() -> LocalIssuer:
    """One issuer per test session, started on first use."""
    return LocalIssuer()
