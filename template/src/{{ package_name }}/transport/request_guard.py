"""Cheap checks before any MCP work: URL and header size, Host (DNS rebinding) and Origin.

Replaces the SDK's Host/Origin check so that the allowlists come from settings, a trusted
proxy's `X-Forwarded-Host` is honoured only when the peer is a configured proxy, and lookups are set membership
instead of a scan per request. Refusals carry a one-line reason and never echo the header.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..refusal import Refusal, refusal

VIA_TRUSTED_PROXY = "mcp.via_trusted_proxy"
"""Scope key set when the TCP peer is a configured proxy (before X-Forwarded-For replaces it)."""


class HostPatterns:
    """Exact `host[:port]` values plus `host:*` (any port) patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.any_port: set[str] = set()
        for pattern in patterns:
            if pattern.endswith(":*"):
                self.any_port.add(pattern[:-2].lower())
            else:
                self.exact.add(pattern.lower())

    def match(self, value: str) -> bool:
        value = value.lower()
        if value in self.exact:
            return True
        base, sep, port = value.rpartition(":")
        # "[::1]:8000" splits at the last colon; a bare IPv6 literal has no port after "]".
        return bool(sep) and port.isascii() and port.isdigit() and not base.endswith(":") and base in self.any_port


class TrustedProxies:
    """Addresses whose forwarding headers are believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def __contains__(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class ForwardedHeaders:
    """Outermost: believe X-Forwarded-For/-Proto/-Host only from a configured proxy.

    The peer is checked here, before the client address is replaced by X-Forwarded-For (uvicorn's
    own proxy handling is off: done first, it would hide the peer from the Host check, which then
    compared the end user's address with the proxy list and ignored X-Forwarded-Host).
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        entries = list(trusted_proxies)
        self.app = app
        self.proxies = TrustedProxies(entries)
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=entries)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in self.proxies:
            scope[VIA_TRUSTED_PROXY] = True
            await self.forwarded(scope, receive, send)  # type: ignore[arg-type]
            return
        await self.app(scope, receive, send)


HOST_SYNTAX = re.compile(rb"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::([0-9]{1,5}))?$")
"""RFC 3986 `host[:port]` (reg-name or IPv4, or a bracketed IPv6 literal), in ASCII only."""


def valid_host(value: bytes) -> bool:
    """Whether a Host (or forwarded host) value is well-formed, its port within 0-65535."""
    match = HOST_SYNTAX.match(value)
    return match is not None and (match.group(1) is None or int(match.group(1)) <= 65535)


def json_media_type(value: bytes) -> bool:
    """Whether a Content-Type names exactly `application/json` (parameters such as charset allowed)."""
    return value.partition(b";")[0].strip().lower() == b"application/json"


class RequestGuard:
    """Refuse what no MCP request may look like, before any work is done for it.

    Long URLs (414), oversized headers (431), a missing, repeated or malformed Host (400), an
    unknown Host (421), a foreign Origin (403), and a POST body that is not declared as JSON (415).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[str],
        max_header_bytes: int = 16 * 1024,
        max_headers: int = 100,
        max_url_bytes: int = 8 * 1024,
    ) -> None:
        self.app = app
        self.hosts = HostPatterns(allowed_hosts)
        self.origins = HostPatterns(allowed_origins)
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_url_bytes = max_url_bytes
        self.too_long = refusal(414, "uri_too_long", "The request URL is too long.")
        self.too_large = refusal(431, "headers_too_large", "Request headers are too large.")
        self.no_host = refusal(400, "bad_host", "Send exactly one Host header (RFC 9112).")
        self.bad_host_syntax = refusal(
            400, "bad_host", "The Host header is malformed: send host[:port] in ASCII, the port at most 65535."
        )
        self.bad_host = refusal(421, "misdirected_request", "Invalid Host header: this host name is not served here.")
        self.bad_origin = refusal(403, "forbidden_origin", "Invalid Origin header: cross-origin requests are refused.")
        self.two_origins = refusal(400, "bad_origin", "Send at most one Origin header.")
        self.not_json = refusal(
            415,
            "unsupported_media_type",
            "Send MCP messages with 'Content-Type: application/json' (one header, that media type exactly).",
            headers={"accept": "application/json"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is not None:
            await problem.send(scope, send)
            return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> Refusal | None:
        """The refusal this request has earned, if any."""
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > self.max_url_bytes:
            return self.too_long
        headers = scope["headers"]
        host = origin = forwarded_host = content_type = None
        hosts = origins = content_types = size = 0
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"host":
                host, hosts = value, hosts + 1
            elif name == b"origin":
                origin, origins = value, origins + 1
            elif name == b"content-type":
                content_type, content_types = value, content_types + 1
            elif name == b"x-forwarded-host" and forwarded_host is None:
                forwarded_host = value
        if size > self.max_header_bytes or len(headers) > self.max_headers:
            return self.too_large
        if hosts != 1 or host is None:
            return self.no_host
        if not valid_host(host):
            return self.bad_host_syntax
        if forwarded_host is not None and scope.get(VIA_TRUSTED_PROXY):
            host = forwarded_host.split(b",")[0].strip()
            if not valid_host(host):
                return self.bad_host_syntax
        if not self.hosts.match(host.decode("ascii")):
            return self.bad_host
        if origins > 1:
            return self.two_origins
        if origin is not None and not self.origins.match(origin.decode("latin-1")):
            return self.bad_origin
        if scope["method"] == "POST" and (
            content_types != 1 or content_type is None or not json_media_type(content_type)
        ):
            return self.not_json
        return None
