"""`--workers` scaling: the same load against one worker and against several, and a check that
the workers' shared metrics still count every call.

wrk (with a Lua script) drives the load when it is installed: the server workers then have
the machine's cores nearly to themselves. Without it the asyncio generator is used, which needs
a core of its own and so understates scaling on a small machine; the report says which ran.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

_CALLS = re.compile(
    r'^mcp_server_operation_duration_seconds_count\{([^}]*mcp_method_name="tools/call"[^}]*)\} (\S+)$', re.M
)

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.path = "/mcp"
wrk.body = BODY
HEADERS
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "http_errors": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_installed() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this ASCII text


def wrk_drive(port: int, request: bytes, clients: int, seconds: float, *, prefix: list[str]) -> dict[str, Any]:
    """Send the raw HTTP `request`'s method, headers and body with wrk; return its counts."""
    head, body = request.split(b"\r\n\r\n", 1)
    headers = [line.split(": ", 1) for line in head.decode().split("\r\n")[1:]]
    lines = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}"
        for name, value in headers
        if name.lower() not in ("host", "content-length")  # wrk sets both itself
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT.replace("BODY", _lua_string(body.decode()), 1).replace("HEADERS", lines, 1))
    try:
        threads = max(1, min(4, clients // 25))
        completed = subprocess.run(
            [
                *prefix,
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(clients),
                "-d",
                f"{max(1, round(seconds))}s",  # wrk takes whole seconds
                "-s",
                script.name,
                "--timeout",
                "10s",
                f"http://127.0.0.1:{port}/mcp",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
    finally:
        Path(script.name).unlink()
    if completed.returncode != 0:
        raise SystemExit(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout.strip()}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK-RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK-RESULT "))
    # wrk sees statuses only; tool errors (HTTP 200, isError) are counted from /metrics.
    result["errors"] = result.pop("http_errors") + result.pop("socket_errors")
    result["rps"] = round(result["requests"] / max(1, round(seconds)), 1)
    return result


def counted_calls(metrics_port: int) -> tuple[float, float]:
    """tools/call operations the server's /metrics (its separate listener on `metrics_port`)
    reports (all workers together): all of
    them, and those that failed (a non-empty error type). Tool errors come back as HTTP 200,
    so this, not the status, is where wrk's run learns of them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    series = [(labels, float(value)) for labels, value in _CALLS.findall(text)]
    return sum(v for _, v in series), sum(v for labels, v in series if 'error_type=""' not in labels)
