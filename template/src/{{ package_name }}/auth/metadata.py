"""RFC 9728 protected-resource metadata: tells OAuth clients which issuer to ask for a token."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import Response

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_url(resource_url: str) -> str:
    """The path-suffixed metadata URL for `resource_url` (clients probe this form first)."""
    parts = urlsplit(resource_url)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{parts.path.rstrip('/')}"


def metadata_router(resource_url: str, issuer: str, scopes_supported: Sequence[str]) -> APIRouter:
    """Serve the metadata at the path-suffixed URL and at the root form.

    `resource` comes from configuration, never from the request's Host header.
    """
    document: dict[str, object] = {
        "resource": resource_url,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
    }
    if scopes_supported:
        document["scopes_supported"] = sorted(set(scopes_supported) - {"offline_access"})
    body = json.dumps(document).encode()
    router = APIRouter()

    async def protected_resource() -> Response:
        # The body is built once; the response (and its header list) per request, so nothing a
        # layer adds to one answer can reach another.
        return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=3600"})

    suffix = urlsplit(resource_url).path.rstrip("/")
    for path in dict.fromkeys([WELL_KNOWN + suffix, WELL_KNOWN]):
        router.add_api_route(path, protected_resource, methods=["GET"], include_in_schema=False)
    return router
