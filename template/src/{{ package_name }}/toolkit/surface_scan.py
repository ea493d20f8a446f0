"""Scan the server's declared tools, resources and prompts for text that could steer a model.

Everything here is pure: it reads the SDK models the server lists (`await mcp.list_tools()` and
friends) and returns findings. Descriptions go straight into a model's context, so they are reviewed
like code (MCP03 tool poisoning, MCP04 lookalike tools). `surface_waivers` removes reviewed findings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from mcp.server import MCPServer
from mcp_types import Prompt, Resource, ResourceTemplate, Tool

RULES: Mapping[str, str] = {
    "hidden-instruction": "an imperative to the model: ignore previous instructions, keep something from the user, "
    "read or call something first, <IMPORTANT>-style tags, 'system prompt', 'you must always'",
    "file-reference": "a path a model should never be sent to: ~/.ssh, id_rsa, /etc/passwd, .env, mcp.json, home paths",
    "secret-reference": "asks for or mentions a credential: password, API key, access token, private key, credentials",
    "tool-shadowing": "a description naming another registered tool: it may redirect or override that tool",
    "invisible-unicode": "zero-width, bidirectional control, tag (U+E0000-E007F) or other format characters",
    "lookalike-name": "a name confusable with another item's name (Cyrillic/Greek lookalikes, 0/o, 1/l, case)",
    "non-ascii-name": "a tool name outside ASCII",
    "url": "a URL in a description or title",
    "long-description": "a description over 50 words",
    "secret-parameter": "a parameter named like a secret (password, token, api_key, secret, credential...)",
    "context-sink-parameter": "a parameter the model may dump its context into (context, notes, history, memory...)",
    "secret-output": "an output schema property that invites a raw secret (password, token, private_key...)",
}
"""Every rule the scan applies, by id; waivers name these ids."""

MAX_DESCRIPTION_WORDS = 50

_HIDDEN_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|other)"
    r"\s+(?:instructions?|prompts?|rules?|messages?)"
    r"|\b(?:do\s+not|don'?t|never)\s+(?:tell|mention|inform|show|reveal|notify|alert)\b[^.]{0,60}\b(?:user|human)"
    r"|\bbefore\s+(?:using|calling|running|invoking)\s+(?:this|any|the)\b[^.]{0,60}\b(?:read|call|run|fetch|send|open)\b"
    r"|</?\s*(?:important|system|instructions?|secret|hidden|admin)\s*>"
    r"|\bsystem\s+prompt\b"
    r"|\byou\s+(?:must|should|have\s+to|need\s+to)\s+(?:always|first|never)\b"
    r"|\bwithout\s+(?:telling|informing|asking)\s+the\s+user\b",
    re.IGNORECASE,
)
_FILE_REFERENCE = re.compile(
    r"~/[\w.-]+|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.ssh\b|/etc/(?:passwd|shadow|hosts|sudoers)\b"
    r"|(?<![\w.])\.env\b|\bmcp\.json\b|\b(?:claude_desktop_config|credentials)\.json\b|\.aws/credentials"
    r"|/(?:home|Users)/\w+|\bC:\\Users\\",
    re.IGNORECASE,
)
_SECRET_REFERENCE = re.compile(
    r"\b(?:passwords?|passphrases?|api[ _-]?keys?|access[ _-]?tokens?|bearer\s+tokens?|auth(?:entication)?\s+tokens?"
    r"|private[ _-]?keys?|secret[ _-]?keys?|credentials?|session\s+cookies?|ssh\s+keys?)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?|ftp|file|wss?)://\S+|\bwww\.[\w-]+\.\w\S*", re.IGNORECASE)
# Not all of these are category Cf: Hangul fillers and variation selectors render as nothing too.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u034f") | frozenset(map(chr, range(0xFE00, 0xFE10)))
_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "pwd", "token", "tokens", "secret", "secrets", "credential", "credentials"}
    | {"apikey", "privatekey", "cookie", "cookies", "authorization", "otp", "mfa", "pin", "ssn"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("ssh", "key")})
_SINK_WORDS = frozenset(
    {"context", "notes", "conversation", "history", "memory", "memories", "transcript", "chat", "scratchpad"}
)
# Pairs of (lookalike, Latin letter), after casefolding: Cyrillic, Armenian, Greek, then digits.
_CONFUSABLE_PAIRS = (
    "а:a в:b с:c ԁ:d е:e һ:h і:i ј:j к:k ӏ:l м:m н:h о:o р:p ԛ:q ѕ:s т:t у:y х:x ԝ:w"  # noqa: RUF001
    " ո:n ս:u α:a β:b ε:e η:n ι:i κ:k μ:m ν:v ο:o ρ:p τ:t υ:u χ:x ζ:z 0:o 1:l 3:e 5:s"  # noqa: RUF001
)
_CONFUSABLES = str.maketrans({pair[0]: pair[2] for pair in _CONFUSABLE_PAIRS.split()})
_SEPARATORS = re.compile(r"[\s_.\-/]+")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True)
class Finding:
    """One rule that one field of one declared item breaks."""

    kind: str
    """tool, resource, resource-template or prompt"""
    name: str
    field: str
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} {self.field}: {self.rule}: {self.excerpt!r}"


@dataclass(frozen=True)
class Surface:
    """What the server declares to clients, as the SDK lists it."""

    tools: tuple[Tool, ...] = ()
    resources: tuple[Resource, ...] = ()
    templates: tuple[ResourceTemplate, ...] = ()
    prompts: tuple[Prompt, ...] = ()

    def names(self) -> set[tuple[str, str]]:
        """Every (kind, name) pair, for checking that a waiver names a real item."""
        return {(kind, item.name) for kind, item in self._items()}

    def _items(self) -> Iterator[tuple[str, Tool | Resource | ResourceTemplate | Prompt]]:
        yield from (("tool", tool) for tool in self.tools)
        yield from (("resource", resource) for resource in self.resources)
        yield from (("resource-template", template) for template in self.templates)
        yield from (("prompt", prompt) for prompt in self.prompts)


async def declared_surface(mcp: MCPServer[Any]) -> Surface:
    """List the server's tools, resources, templates and prompts the way clients will see them."""
    return Surface(
        tools=tuple(await mcp.list_tools()),
        resources=tuple(await mcp.list_resources()),
        templates=tuple(await mcp.list_resource_templates()),
        prompts=tuple(await mcp.list_prompts()),
    )


def scan(surface: Surface) -> list[Finding]:
    """Every finding on `surface`, in declaration order."""
    tool_names = [tool.name for tool in surface.tools]
    findings: list[Finding] = []
    for kind, item in surface._items():

        def found(field: str, rule: str, excerpt: str, *, kind: str = kind, name: str = item.name) -> None:
            findings.append(Finding(kind, name, field, rule, excerpt))

        for field, text in _prose(item):
            for rule, excerpt in prose_findings(text, field=field):
                found(field, rule, excerpt)
            for other in tool_names:
                if other != item.name and _mentions(text, other):
                    found(field, "tool-shadowing", other)
        for field, text in _labels(item):
            if excerpt := invisible(text):
                found(field, "invisible-unicode", excerpt)
        for field, parameter in _parameters(item):
            words = name_words(parameter)
            if _is_secret(words):
                found(field, "secret-parameter", parameter)
            if _SINK_WORDS & set(words):
                found(field, "context-sink-parameter", parameter)
        if isinstance(item, Tool):
            for field, prop in _schema_properties(item.output_schema, "outputSchema"):
                if _is_secret(name_words(prop)):
                    found(field, "secret-output", prop)
            if not item.name.isascii():
                found("name", "non-ascii-name", item.name)
    findings.extend(lookalikes(surface))
    return findings


def prose_findings(text: str, *, field: str = "description") -> list[tuple[str, str]]:
    """(rule, excerpt) for each text rule that `text` breaks."""
    results: list[tuple[str, str]] = []
    for rule, pattern in (
        ("hidden-instruction", _HIDDEN_INSTRUCTION),
        ("file-reference", _FILE_REFERENCE),
        ("secret-reference", _SECRET_REFERENCE),
        ("url", _URL),
    ):
        results.extend((rule, excerpt(text, match)) for match in pattern.finditer(text))
    if field.endswith("description") and len(text.split()) > MAX_DESCRIPTION_WORDS:
        results.append(("long-description", f"{len(text.split())} words: {text[:60]}..."))
    return results


def invisible(text: str) -> str:
    """The invisible characters in `text`, spelled as code points (empty when there are none)."""
    hidden = [
        c for c in text if unicodedata.category(c) == "Cf" or c in _INVISIBLE_EXTRA or 0xE0100 <= ord(c) <= 0xE01EF
    ]
    return " ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(hidden))


def skeleton(name: str) -> str:
    """What `name` looks like: lookalike letters folded together, case and separators dropped."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_CONFUSABLES)
    return _SEPARATORS.sub("", "".join(c for c in folded if unicodedata.category(c) != "Cf"))


def lookalikes(surface: Surface) -> list[Finding]:
    """A finding for each name that looks like an earlier, different name of the same kind."""
    findings: list[Finding] = []
    for kind, names in (
        ("tool", [tool.name for tool in surface.tools]),
        ("resource", [resource.name for resource in surface.resources]),
        ("resource-template", [template.name for template in surface.templates]),
        ("prompt", [prompt.name for prompt in surface.prompts]),
    ):
        seen: dict[str, str] = {}
        for name in names:
            first = seen.setdefault(skeleton(name), name)
            if first != name:
                findings.append(Finding(kind, name, "name", "lookalike-name", f"looks like {first!r}"))
    return findings


def name_words(name: str) -> list[str]:
    """`api_key`, `apiKey` and `API-Key` all become ['api', 'key']."""
    return [word.lower() for word in _WORDS.findall(name)]


def excerpt(text: str, match: re.Match[str], margin: int = 20) -> str:
    """The match with a little context, on one line."""
    start, end = max(match.start() - margin, 0), min(match.end() + margin, len(text))
    return " ".join(text[start:end].split())


def _is_secret(words: Sequence[str]) -> bool:
    return bool(_SECRET_WORDS & set(words)) or any(pair in _SECRET_PAIRS for pair in pairwise(words))


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _prose(item: Tool | Resource | ResourceTemplate | Prompt) -> Iterator[tuple[str, str]]:
    """Free text a model reads: descriptions and titles."""
    for field in ("description", "title"):
        if text := getattr(item, field, None):
            yield field, text
    if isinstance(item, Tool):
        if item.annotations is not None and item.annotations.title:
            yield "annotations.title", item.annotations.title
        yield from _schema_texts(item.input_schema, "inputSchema")
        yield from _schema_texts(item.output_schema, "outputSchema")
    if isinstance(item, Prompt):
        for argument in item.arguments or ():
            if argument.description:
                yield f"arguments.{argument.name}.description", argument.description


def _labels(item: Tool | Resource | ResourceTemplate | Prompt) -> Iterator[tuple[str, str]]:
    """Every string a client shows or a model reads, names and URIs included."""
    yield "name", item.name
    yield from _prose(item)
    if isinstance(item, Resource):
        yield "uri", str(item.uri)
    if isinstance(item, ResourceTemplate):
        yield "uriTemplate", item.uri_template
    yield from ((field, name) for field, name in _parameters(item))
    if isinstance(item, Tool):
        yield from _schema_properties(item.output_schema, "outputSchema")


def _parameters(item: Tool | Resource | ResourceTemplate | Prompt) -> Iterator[tuple[str, str]]:
    if isinstance(item, Tool):
        yield from _schema_properties(item.input_schema, "inputSchema")
    if isinstance(item, Prompt):
        for argument in item.arguments or ():
            yield f"arguments.{argument.name}", argument.name


def _schema_properties(schema: Mapping[str, Any] | None, path: str) -> Iterator[tuple[str, str]]:
    """(field, property name) for every property at any depth, `$defs` included."""
    for where, node in _schema_nodes(schema, path):
        for name in node.get("properties") or {}:
            yield f"{where}.properties.{name}", name


def _schema_texts(schema: Mapping[str, Any] | None, path: str) -> Iterator[tuple[str, str]]:
    for where, node in _schema_nodes(schema, path):
        for field in ("description", "title"):
            text = node.get(field)
            # A property's title is its name made pretty by pydantic; only a hand-written one can carry prose.
            if isinstance(text, str) and text and (field == "description" or " " in text):
                yield f"{where}.{field}", text


def _schema_nodes(node: object, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield path, node
        for key, child in node.items():
            if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(child, Mapping):
                for name, sub in child.items():
                    yield from _schema_nodes(sub, f"{path}.{key}.{name}")
            elif isinstance(child, Mapping):
                yield from _schema_nodes(child, f"{path}.{key}")
            elif isinstance(child, list):
                for index, sub in enumerate(child):
                    yield from _schema_nodes(sub, f"{path}.{key}[{index}]")
