"""`replay`: re-send a recorded tool call from the audit trail to a running server.

Dry-run by default: prints the request it would send. With `--execute` it sends it as a
2026-07-28 `tools/call` and says whether the recorded outcome was reproduced. Arguments come
from the record's preview; when that preview was redacted or cut, the call is not sent unless
`--allow-incomplete` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from .observability.audit import digest

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "replay", "version": "1"},
}


def find_record(audit_file: Path, request_id: str | None) -> dict[str, Any] | None:
    """The tool-call record with `request_id`, or the last failed one when it is None."""
    found = None
    with audit_file.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or record.get("type") != "tool_call":
                continue
            if (request_id is None and record.get("outcome") != "ok") or record.get("request_id") == request_id:
                found = record
    return found


def outcome_of(body: dict[str, Any]) -> str:
    """The outcome label an audit record would give this response."""
    if "error" in body:
        return f"jsonrpc_{abs(int(body['error'].get('code', 0)))}"
    result = body.get("result", {})
    if not result.get("isError"):
        return "ok"
    error = (result.get("structuredContent") or {}).get("error")
    return error if isinstance(error, str) and error.isidentifier() else "tool_error"


def replay(
    audit_file: Path,
    *,
    request_id: str | None,
    url: str,
    headers: list[str],
    execute: bool,
    allow_incomplete: bool,
) -> int:
    """Print or send the recorded call; exit 0 when (dry-run, or) the outcome is reproduced."""
    record = find_record(audit_file, request_id)
    if record is None:
        what = f"request id {request_id}" if request_id else "a failed tool call"
        print(f"No audit record for {what} in {audit_file}.")
        return 2
    arguments = record.get("arguments_preview") or {}
    exact = digest(arguments) == record.get("arguments_sha256")
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": record["tool"], "arguments": arguments, "_meta": META},
    }
    recorded = f"{record['tool']} by {record.get('principal')} -> {record.get('outcome')}"
    print(f"Recorded: {recorded} (request {record.get('request_id')})")
    print(f"Arguments are {'the exact originals' if exact else 'a redacted or cut preview'}.")
    print(json.dumps(body, indent=2, ensure_ascii=False))
    if not execute:
        print("Dry run: add --execute to send it.")
        return 0
    if not exact and not allow_incomplete:
        print("Not sent: the arguments differ from the originals; pass --allow-incomplete to send the preview.")
        return 2
    request_headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": str(record["tool"]),
    }
    for header in headers:
        name, _, value = header.partition(":")
        request_headers[name.strip()] = value.strip()
    response = httpx2.post(url, json=body, headers=request_headers, timeout=60)
    try:
        answer = response.json()
    except ValueError:
        print(f"HTTP {response.status_code}: {response.text[:500]}")
        return 1
    outcome = outcome_of(answer) if isinstance(answer, dict) else "invalid"
    print(f"HTTP {response.status_code}, outcome {outcome}:")
    print(json.dumps(answer, indent=2, ensure_ascii=False)[:4000])
    reproduced = outcome == record.get("outcome")
    print("Reproduced the recorded outcome." if reproduced else "Did not reproduce the recorded outcome.")
    return 0 if reproduced else 1
