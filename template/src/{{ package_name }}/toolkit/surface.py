"""The declared surface as each era's client reads it: the document `tools.lock` pins after review.

A tool's description and schemas go straight into a model's context, so a change to them after
review (a "rug pull") must show up as a diff someone approves. The snapshot lists what an
in-process client of each protocol era receives from `tools/list`, `resources/list`,
`resources/templates/list` and `prompts/list`, reduced to the fields a reviewer judges.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.server import MCPServer
from pydantic import BaseModel

LOCK_FILE = "tools.lock"
REWRITE_COMMAND = "make lock-tools"
LOCK_COMMENT = (
    "The reviewed tool surface (names, descriptions, annotations, schema digests) for both protocol "
    "eras. Tests fail when the code's surface differs; review the diff, then rewrite this file with "
    f"`{REWRITE_COMMAND}` and commit it with the change."
)
ERAS = {"2025-11-25": "legacy", "2026-07-28": "auto"}
"""Protocol era -> the `Client` mode that negotiates it in process."""

# Left out of the snapshot on purpose: list-level `nextCursor` (paging state, not surface), `ttl`
# (a cache hint that may change without changing what a model reads) and every `_meta` (SDK and
# transport bookkeeping, free to change between SDK releases without a review).
VOLATILE_KEYS = frozenset({"nextCursor", "ttl", "_meta"})
SECTION_KEYS = {"tools": "name", "resources": "uri", "resource_templates": "uriTemplate", "prompts": "name"}
"""Each listed section and the field that names its items."""


class LockFileError(Exception):
    """`tools.lock` is missing or is not the JSON this module writes."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text, whatever the key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """The sha256 of a value's canonical JSON, prefixed with the algorithm."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def wire(model: BaseModel) -> dict[str, Any]:
    """A parsed item as its JSON on the wire, without the volatile keys."""
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {key: value for key, value in dumped.items() if key not in VOLATILE_KEYS}


def schema_entry(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """A schema as its digest, with its property names kept readable so a diff says what moved."""
    if schema is None:
        return None
    properties = schema.get("properties")
    return {
        "digest": digest(schema),
        "properties": sorted(properties) if isinstance(properties, dict) else [],
        "required": sorted(schema.get("required", [])),
    }


def tool_entry(tool: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer judges about one tool."""
    return {
        "name": tool["name"],
        "title": tool.get("title"),
        "description": tool.get("description"),
        "annotations": tool.get("annotations"),
        "inputSchema": schema_entry(tool.get("inputSchema")),
        "outputSchema": schema_entry(tool.get("outputSchema")),
    }


async def era_surface(server: MCPServer[Any], mode: str) -> dict[str, Any]:
    """Everything one era's client is offered, sorted so the document is stable."""
    async with Client(server, mode=mode, raise_exceptions=True) as client:
        tools = [wire(tool) for tool in (await client.list_tools()).tools]
        resources = [wire(item) for item in (await client.list_resources()).resources]
        templates = [wire(item) for item in (await client.list_resource_templates()).resource_templates]
        prompts = [wire(item) for item in (await client.list_prompts()).prompts]
    return {
        "tools": sorted((tool_entry(tool) for tool in tools), key=lambda t: t["name"]),
        "tools_list_bytes": len(json.dumps(tools).encode()),
        "resources": sorted(
            ({k: r.get(k) for k in ("uri", "name", "description", "mimeType")} for r in resources),
            key=lambda r: r["uri"],
        ),
        "resource_templates": sorted(
            ({k: t.get(k) for k in ("uriTemplate", "name", "description")} for t in templates),
            key=lambda t: t["uriTemplate"],
        ),
        "prompts": sorted(
            (
                {
                    "name": p["name"],
                    "description": p.get("description"),
                    "arguments": sorted(p.get("arguments", []), key=lambda a: a["name"]),
                }
                for p in prompts
            ),
            key=lambda p: p["name"],
        ),
    }


async def snapshot(server: MCPServer[Any]) -> dict[str, Any]:
    """The surface of `server` in every era, with the comment that explains the file."""
    return {"//": LOCK_COMMENT, "eras": {era: await era_surface(server, mode) for era, mode in ERAS.items()}}


def render(document: dict[str, Any]) -> str:
    """The lock file's text: indented, sorted, one trailing newline (stable under review tools)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_lock(path: Path) -> dict[str, Any]:
    """The reviewed snapshot at `path`; `LockFileError` says what to do when there is none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockFileError(
            f"{path} not found: no reviewed snapshot of the tool surface yet; review the tools and run "
            f"`{REWRITE_COMMAND}` to write it"
        ) from None
    except (OSError, ValueError) as exc:
        raise LockFileError(f"{path} is not readable JSON ({exc}); rewrite it with `{REWRITE_COMMAND}`") from None
    if not isinstance(document, dict) or not isinstance(document.get("eras"), dict):
        raise LockFileError(f"{path} has no 'eras' object; rewrite it with `{REWRITE_COMMAND}`")
    return document


def changed_items(reviewed: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """`era section: name` for every tool, resource or prompt added, removed or changed."""
    changed: list[str] = []
    before_eras, after_eras = reviewed.get("eras") or {}, live.get("eras") or {}
    for era in sorted(set(before_eras) | set(after_eras)):
        before, after = before_eras.get(era) or {}, after_eras.get(era) or {}
        for section, key in SECTION_KEYS.items():
            old = {item.get(key): item for item in before.get(section, []) if isinstance(item, dict)}
            new = {item.get(key): item for item in after.get(section, []) if isinstance(item, dict)}
            changed += [
                f"{era} {section}: {name}"
                for name in sorted(set(old) | set(new), key=str)
                if old.get(name) != new.get(name)
            ]
    return changed


def surface_diff(reviewed: dict[str, Any], live: dict[str, Any]) -> str:
    """The changed items, then a unified diff from the reviewed snapshot to the live surface
    (empty when they agree)."""
    # Only the surface is compared: the "//" comment may be reworded by a template update.
    before, after = render({"eras": reviewed.get("eras")}), render({"eras": live.get("eras")})
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{LOCK_FILE} (reviewed)",
            tofile="live surface",
        )
    )
    if not diff:
        return ""
    return "".join(f"changed: {item}\n" for item in changed_items(reviewed, live)) + diff


REVIEW_HINT = (
    f"The tool surface differs from {LOCK_FILE}. Review the diff (a changed description or schema "
    f"reaches every client's model), then run `{REWRITE_COMMAND}` and commit {LOCK_FILE}."
)
