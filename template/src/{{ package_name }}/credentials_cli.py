"""Credential commands: `gen-key`, `dev-token` and `dev-setup` (a working local `.env`)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .auth.api_keys import generate_key, hash_key
from .project import DEFAULT_TRANSPORT, DISTRIBUTION, ENV_PREFIX, STDIO_OFFERED
from .settings import Settings

LOCAL_URL = "http://127.0.0.1:8000/mcp"
DEV_ISSUER_DIR = Path(".dev-issuer")


def available_scopes(settings: Settings) -> list[str]:
    """Every scope some tool or resource needs."""
    from .app import collect_tools  # imported here: it loads the SDK and every tool
    from .auth.scopes import ScopePolicy

    registry = collect_tools(settings)
    return ScopePolicy(registry.scopes, registry.resource_scopes).all_scopes


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


def dev_setup(env_file: Path, settings: Settings, *, refresh: bool = False, new_key: bool = False) -> int:
    """Create `.env` for local development with a fresh credential; never overwrite an existing file.

    With `refresh`, an existing `.env` keeps every line but the development credential's, which
    is rewritten to grant every scope the current tools declare.
    """
    if env_file.exists():
        if refresh:
            return refresh_credential(env_file, settings, new_key=new_key)
        print(f"{env_file} already exists; leaving it as it is.")
        print(f"After adding a tool with a new scope, `{DISTRIBUTION} dev-setup --refresh` updates its credential.")
        return 0
    # The multi-round-trip sealing key: every server started from this .env shares it.
    lines = [f"{ENV_PREFIX}ENVIRONMENT=development", f"{ENV_PREFIX}STATE__REQUEST_STATE_SECRET={secrets.token_hex(32)}"]
    if settings.auth.mode == "none":
        env_file.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
        env_file.chmod(0o600)
        print(f"Wrote {env_file} (development mode). {ENV_PREFIX}AUTH__MODE=none: no credential is needed.")
        print_client_snippets(None)
        return 0
    scopes = available_scopes(settings)
    if settings.auth.uses_api_keys:
        credential = generate_key()
        lines.append(f"{API_KEYS}={json.dumps([key_entry(DEV_KEY_ID, credential, scopes, None)])}")
        what = "a development API key"
    else:
        credential, what = dev_issuer_setup(lines, scopes)
    env_file.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    print(f"Wrote {env_file} with {what}, shown only now:\n\n  {credential}\n")
    print(f"It grants every scope the tools use: {', '.join(scopes) or 'none'}.\n")
    print_client_snippets(credential)
    return 0


HEADER = "# Local development settings written by `dev-setup`. Never commit this file.\n"
API_KEYS = f"{ENV_PREFIX}AUTH__API_KEYS"
DEV_KEY_ID = "dev"
"""The principal of the development API key (the entry `--refresh` rewrites)."""


def print_client_snippets(credential: str | None) -> None:
    """Client configuration with this machine's paths (GUI launchers do not read the shell's PATH)."""
    if DEFAULT_TRANSPORT == "http" or credential is not None:
        http: dict[str, object] = {"type": "http", "url": LOCAL_URL}
        if credential is not None:
            http["headers"] = {"Authorization": f"Bearer {credential}"}
        print("Client configuration over HTTP, for a running `make run` (see README, Connect a client):\n")
        print(json.dumps({"mcpServers": {DISTRIBUTION: http}}, indent=2) + "\n")
    if STDIO_OFFERED:
        uv = os.environ.get("UV") or shutil.which("uv") or "/ABSOLUTE/PATH/TO/uv"
        args = ["--directory", str(Path.cwd()), "run", DISTRIBUTION, "serve", "--transport", "stdio"]
        print("Client configuration over stdio (the client starts the server; no credential):\n")
        print(json.dumps({"mcpServers": {DISTRIBUTION: {"command": uv, "args": args}}}, indent=2))


def refresh_credential(env_file: Path, settings: Settings, *, new_key: bool) -> int:
    """Rewrite the development credential in `env_file` with every current scope; keep other lines."""
    if settings.auth.mode == "none":
        print(f"{ENV_PREFIX}AUTH__MODE=none: there is no credential to refresh; {env_file} is unchanged.")
        return 0
    scopes = available_scopes(settings)
    lines = env_file.read_text(encoding="utf-8").splitlines()
    if settings.auth.uses_api_keys:
        outcome = refresh_api_key(lines, scopes, new_key=new_key)
        if isinstance(outcome, int):
            return outcome
        credential = outcome
    else:
        from .auth.dev_issuer import DEV_ISSUER  # the `oauth` extra: imported only where it is used

        issuer = env_value(lines, f"{ENV_PREFIX}AUTH__OAUTH__ISSUER")
        if issuer is not None and issuer[1] != DEV_ISSUER:
            print(
                f"{ENV_PREFIX}AUTH__OAUTH__ISSUER in {env_file} is {issuer[1]!r}, not the local development issuer: "
                "get a token with the new scopes from that issuer; nothing was changed."
            )
            return 2
        for name in ("AUTH__RESOURCE_URL", "AUTH__OAUTH__ISSUER", "AUTH__OAUTH__JWKS_URL"):
            remove_setting(lines, f"{ENV_PREFIX}{name}")
        credential, _what = dev_issuer_setup(lines, scopes, reuse=True)
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    overridden = sorted(name for name in os.environ if name.startswith(f"{ENV_PREFIX}AUTH__"))
    if overridden:
        print(f"Note: the environment sets {', '.join(overridden)}, which wins over {env_file}.")
    print(f"Updated the development credential in {env_file}; every other line is as it was.")
    print(f"It now grants every scope the tools use: {', '.join(scopes) or 'none'}. Restart the server to apply it.")
    if credential is None:
        print("The key itself is unchanged, so clients configured with it keep working (`--new-key` replaces it).")
        return 0
    print(f"\nThe new credential, shown only now:\n\n  {credential}\n")
    print_client_snippets(credential)
    return 0


def refresh_api_key(lines: list[str], scopes: list[str], *, new_key: bool) -> str | int | None:
    """Give the `dev` entry of the API-key list every scope; return a new key, None if the key is
    kept, or an exit code when the list cannot be read."""
    found = env_value(lines, API_KEYS)
    entries: object = []
    if found is not None:
        try:
            entries = json.loads(found[1])
        except json.JSONDecodeError:
            entries = None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        print(f"{API_KEYS} in .env is not a JSON list of key entries; fix or delete that line, then run this again.")
        return 2
    current = next((entry for entry in entries if entry.get("id") == DEV_KEY_ID), None)
    credential = None
    if current is None or new_key:
        credential = generate_key()
        replacement = key_entry(DEV_KEY_ID, credential, scopes, None)
    else:
        replacement = {**current, "scopes": scopes}
    # In place, so the other keys keep their order; a new development key goes last.
    refreshed = [replacement if entry is current else entry for entry in entries]
    if current is None:
        refreshed.append(replacement)
    line = f"{API_KEYS}={json.dumps(refreshed)}"
    if found is None:
        lines.append(line)
    else:
        lines[found[0]] = line
    return credential


def env_value(lines: list[str], name: str) -> tuple[int, str] | None:
    """The index and unquoted value of the last `name=` line (`export name=` too), or None."""
    for index in range(len(lines) - 1, -1, -1):
        key, sep, value = lines[index].removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return index, value
    return None


def remove_setting(lines: list[str], name: str) -> None:
    """Drop every `name=` line."""
    lines[:] = [line for line in lines if line.removeprefix("export ").partition("=")[0].strip() != name]


def dev_issuer_setup(lines: list[str], scopes: list[str], *, reuse: bool = False) -> tuple[str, str]:
    """Create the local issuer (or, with `reuse`, keep the one there is), add its settings to
    `lines`; return a token and what it is."""
    from .auth import dev_issuer  # the `oauth` extra: imported only where it is used

    existing = DEV_ISSUER_DIR / "jwks.json"
    keep = reuse and existing.exists() and (DEV_ISSUER_DIR / "signing-key.pem").exists()
    jwks = existing if keep else dev_issuer.create(DEV_ISSUER_DIR)
    credential = dev_issuer.mint(DEV_ISSUER_DIR, audience=LOCAL_URL, scopes=scopes, days=30)
    lines += [
        f"{ENV_PREFIX}AUTH__RESOURCE_URL={LOCAL_URL}",
        f"{ENV_PREFIX}AUTH__OAUTH__ISSUER={dev_issuer.DEV_ISSUER}",
        f"{ENV_PREFIX}AUTH__OAUTH__JWKS_URL=file://{jwks.resolve()}",
    ]
    return credential, f"a 30-day token from the local issuer in {DEV_ISSUER_DIR}/ (`dev-token` mints more)"
