"""Credential commands: `gen-key`, `dev-token` and `dev-setup` (a working local `.env`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .auth.api_keys import generate_key, hash_key
from .project import DISTRIBUTION, ENV_PREFIX
from .settings import Settings

LOCAL_URL = "http://127.0.0.1:8000/mcp"
DEV_ISSUER_DIR = Path(".dev-issuer")


def available_scopes(settings: Settings) -> list[str]:
    """Every scope some tool needs."""
    from .app import collect_tools  # imported here: it loads the SDK and every tool
    from .auth.scopes import ScopePolicy

    return ScopePolicy(collect_tools(settings).scopes).all_scopes


def key_entry(key_id: str, key: str, scopes: list[str], expires_days: int | None) -> dict[str, object]:
    """The configuration entry for `key` (its hash, never the key)."""
    entry: dict[str, object] = {"id": key_id, "sha256": hash_key(key), "scopes": scopes}
    if expires_days is not None:
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=expires_days)
        entry["expires_at"] = expires.isoformat().replace("+00:00", "Z")
    return entry


def gen_key(settings: Settings, key_id: str, scopes: list[str], expires_days: int | None) -> int:
    """Print a new key once, and the entry to add to the API-key list."""
    key = generate_key()
    entry = key_entry(key_id, key, scopes, expires_days)
    print(f"API key for {key_id!r} (shown once; store it in the client's secret store):\n\n  {key}\n")
    print(f"Add this entry to the JSON list in {ENV_PREFIX}AUTH__API_KEYS:\n")
    print(f"  {json.dumps(entry)}\n")
    known = available_scopes(settings)
    unknown = sorted(set(scopes) - set(known))
    print(f"Scopes the tools use: {', '.join(known) or 'none'}.")
    if unknown:
        print(f"Note: no tool needs {', '.join(unknown)}; check for typos.")
    if not settings.auth.uses_api_keys:
        print(f"Note: {ENV_PREFIX}AUTH__MODE={settings.auth.mode} accepts no API keys; set api_key or api_key+oauth.")
    return 0


def dev_token(settings: Settings, scopes: list[str] | None, days: int) -> int:
    """Print a token from the local development issuer."""
    audience = settings.auth.resource_url
    if not settings.auth.uses_oauth:
        print(f"{ENV_PREFIX}AUTH__MODE={settings.auth.mode} accepts no OAuth tokens; set it to oauth or api_key+oauth.")
        return 2
    if not (DEV_ISSUER_DIR / "signing-key.pem").exists() or audience is None:
        print(f"No development issuer here: run `{DISTRIBUTION} dev-setup` first.")
        return 2
    from .auth import dev_issuer  # the `oauth` extra: imported only where it is used

    granted = available_scopes(settings) if scopes is None else scopes
    print(dev_issuer.mint(DEV_ISSUER_DIR, audience=audience, scopes=granted, days=days))
    return 0


def dev_setup(env_file: Path, settings: Settings) -> int:
    """Create `.env` for local development with a fresh credential; never overwrite an existing file."""
    if env_file.exists():
        print(f"{env_file} already exists; leaving it as it is (delete it to start over).")
        return 0
    lines = [f"{ENV_PREFIX}ENVIRONMENT=development"]
    if settings.auth.mode == "none":
        env_file.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
        print(f"Wrote {env_file} (development mode). {ENV_PREFIX}AUTH__MODE=none: no credential is needed.")
        return 0
    scopes = available_scopes(settings)
    if settings.auth.uses_api_keys:
        credential = generate_key()
        lines.append(f"{ENV_PREFIX}AUTH__API_KEYS={json.dumps([key_entry('dev', credential, scopes, None)])}")
        what = "a development API key"
    else:
        credential, what = dev_issuer_setup(lines, scopes)
    env_file.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    snippet = {
        "mcpServers": {
            DISTRIBUTION: {"type": "http", "url": LOCAL_URL, "headers": {"Authorization": f"Bearer {credential}"}}
        }
    }
    print(f"Wrote {env_file} with {what}, shown only now:\n\n  {credential}\n")
    print(f"It grants every scope the tools use: {', '.join(scopes) or 'none'}.\n")
    print("Client configuration (e.g. for an MCP client's JSON config):\n")
    print(json.dumps(snippet, indent=2))
    return 0


HEADER = "# Local development settings written by `dev-setup`. Never commit this file.\n"


def dev_issuer_setup(lines: list[str], scopes: list[str]) -> tuple[str, str]:
    """Create the local issuer, add its settings to `lines`; return a token and what it is."""
    from .auth import dev_issuer  # the `oauth` extra: imported only where it is used

    jwks = dev_issuer.create(DEV_ISSUER_DIR)
    credential = dev_issuer.mint(DEV_ISSUER_DIR, audience=LOCAL_URL, scopes=scopes, days=30)
    lines += [
        f"{ENV_PREFIX}AUTH__RESOURCE_URL={LOCAL_URL}",
        f"{ENV_PREFIX}AUTH__OAUTH__ISSUER={dev_issuer.DEV_ISSUER}",
        f"{ENV_PREFIX}AUTH__OAUTH__JWKS_URL=file://{jwks.resolve()}",
    ]
    return credential, f"a 30-day token from the local issuer in {DEV_ISSUER_DIR}/ (`dev-token` mints more)"
