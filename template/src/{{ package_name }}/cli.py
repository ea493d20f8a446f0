"""Command-line entry point: `serve`, `check-config`, `replay`, `smoke`, `gen-key`, `dev-token`,
`dev-setup`, `lock-tools`, `scan-tools` and `--version`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_settings import SettingsError

from . import __version__, credentials_cli
from .observability.setup import configure_observability
from .project import DEFAULT_TRANSPORT, DESCRIPTION, DISTRIBUTION, ENV_PREFIX, SERVER_NAME
from .settings import Settings, http_problems, metrics_address
from .settings_errors import configured_variables, malformed_json, unknown_sections

if TYPE_CHECKING:
    from .toolkit.registry import Registry

TRANSPORTS = ("http", "stdio")
APP_FACTORY = f"{__name__.rpartition('.')[0]}.app:create_app_from_env"
"""What each HTTP worker calls to build its app (uvicorn's factory mode)."""


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and option."""
    parser = argparse.ArgumentParser(prog=DISTRIBUTION, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server")
    serve.add_argument("--transport", choices=TRANSPORTS, default=DEFAULT_TRANSPORT, help="default: %(default)s")
    serve.add_argument("--host", help=f"bind address (default from {ENV_PREFIX}HTTP__HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"TCP port (default from {ENV_PREFIX}HTTP__PORT, else 8000)")
    serve.add_argument("--workers", type=int, help=f"worker processes (default from {ENV_PREFIX}HTTP__WORKERS, else 1)")

    commands.add_parser("check-config", help="validate the configuration and print it with secrets masked")

    replay = commands.add_parser("replay", help="re-send a tool call recorded in the audit trail (dry-run by default)")
    replay.add_argument("audit_file", type=Path, help="audit records (JSON lines), e.g. from OBSERVABILITY__AUDIT_SINK")
    replay.add_argument("--request-id", help="which call (default: the last failed one)")
    replay.add_argument("--url", default="http://127.0.0.1:8000/mcp", help="MCP endpoint (default: %(default)s)")
    replay.add_argument("--header", action="append", default=[], help="extra header, e.g. 'Authorization: Bearer ...'")
    replay.add_argument("--execute", action="store_true", help="send it (otherwise only print it)")
    replay.add_argument("--allow-incomplete", action="store_true", help="send even if arguments were redacted or cut")

    smoke = commands.add_parser("smoke", help="check a running server end to end, one line per check")
    smoke.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000")
    smoke.add_argument("--key", help="API key or token (default: the MCP_KEY environment variable, which is safer)")
    smoke.add_argument(
        "--metrics-url",
        help=f"its /metrics (default: the same host, port {ENV_PREFIX}OBSERVABILITY__METRICS_PORT or 9464; "
        "skipped if unreachable)",
    )
    smoke.add_argument(
        "--skip-metrics",
        action="store_true",
        help="skip the /metrics check (several replicas behind one address: the scrape may reach another pod)",
    )
    smoke.add_argument(
        "--phrase", help=f"the expected canary phrase (default: {ENV_PREFIX}CANARY__PHRASE, else the default)"
    )

    gen_key = commands.add_parser("gen-key", help="create an API key and print its configuration entry")
    gen_key.add_argument("--id", required=True, help="name of the key's principal, e.g. ci or alice")
    gen_key.add_argument("--scope", action="append", default=[], help="scope to grant (repeatable)")
    gen_key.add_argument("--expires-days", type=int, help="days until the key stops working")

    dev_token = commands.add_parser("dev-token", help="mint a token from the local development issuer")
    dev_token.add_argument("--scope", action="append", help="scope to grant (repeatable; default: all)")
    dev_token.add_argument("--days", type=int, default=1, help="days until it expires (default: %(default)s)")

    dev_setup = commands.add_parser("dev-setup", help="write .env for local development with a fresh credential (once)")
    dev_setup.add_argument(
        "--refresh", action="store_true", help="in an existing .env, grant the credential every scope the tools use now"
    )
    dev_setup.add_argument("--new-key", action="store_true", help="with --refresh: replace the development API key")

    lock = commands.add_parser("lock-tools", help="write tools.lock, the reviewed snapshot of the tool surface")
    lock.add_argument("--check", action="store_true", help="compare instead: exit 1 with a diff when it differs")
    lock.add_argument("--path", type=Path, help="the lock file (default: ./tools.lock)")

    scan = commands.add_parser("scan-tools", help="scan tool, resource and prompt descriptions for poisoning")
    scan.add_argument("--waivers", type=Path, help="the waivers file (default: ./tools-waivers.toml)")
    return parser


def env_name(loc: Sequence[int | str]) -> str:
    """The environment variable behind a settings field location."""
    path = "__".join(str(part).upper() for part in loc if not isinstance(part, int))
    if not path:
        return "configuration"
    return path if path.startswith(ENV_PREFIX) else f"{ENV_PREFIX}{path}"  # .env keys carry the prefix


def describe_errors(exc: ValidationError, others: Sequence[str] = ()) -> str:
    """Every invalid setting on its own line, named by the environment variable the user wrote,
    then `others` (problems found outside the settings model)."""
    written = {name.upper() for name in configured_variables()}
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        variable, inside = written_variable(error["loc"], written)
        if error["type"] == "extra_forbidden":
            if inside:
                message = f"{inside.rpartition('.')[2]!r} is not a key this setting takes; check its spelling"
            else:
                message = "not a setting; check its spelling against .env.example, or remove it"
        where = f" (in its JSON value, at {inside})" if inside else ""
        problems.append(f"{variable}{where}: {message}")
    return describe_problems([*problems, *others])


def written_variable(loc: Sequence[int | str], written: set[str]) -> tuple[str, str]:
    """The variable behind a field location, and where inside its JSON value the field is (or "").

    A location inside a list or object setting (`auth.api_keys.0.sha256`) is named by the
    variable that holds the JSON (`AUTH__API_KEYS`), never by one nobody could have set."""
    for length in range(len(loc), 0, -1):
        head = loc[:length]
        if any(isinstance(part, int) for part in head):
            continue
        name = env_name(head)
        if name in written and length < len(loc):
            inside = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[length:])
            return name, inside.removeprefix(".")
    return env_name(loc), ""


def describe_malformed_json(exc: SettingsError, others: Sequence[str] = ()) -> str:
    """The variables whose value must be JSON and is not (pydantic-settings names only the group)."""
    problems = malformed_json(configured_variables()) or [f"{exc}; a list or object setting there is not valid JSON"]
    return describe_problems([*problems, *others])


def describe_problems(problems: list[str]) -> str:
    """Configuration problems, one per line, with how many and where to fix them."""
    lines = [f"Invalid configuration ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("Set these in the environment or in .env (see .env.example).")
    return "\n".join(lines)


def report_problems(problems: list[str], refusing: str = "Refusing to serve HTTP") -> int:
    """Print why serving (over HTTP, by default) is refused; return the exit code."""
    if not problems:
        return 0
    print(f"{refusing} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


def listen_problems(settings: Settings) -> list[str]:
    """Why the HTTP server could not listen where it is configured to (a taken port, a foreign host)."""
    from .transport.listen_check import bind_problems

    return bind_problems(settings.http, metrics_address(settings))


def load_settings() -> Settings:
    """Read settings from the environment and `.env`."""
    return Settings()


def surface_problems(settings: Settings, register: Callable[[Registry], None] | None) -> list[str]:
    """Settings naming tools, resources or prompts the server does not register (empty when fine)."""
    from . import app  # imported here: it loads the SDK and every tool

    registry = app.collect_tools(settings) if register is None else app.collect_tools(settings, register)
    return app.surface_problems(registry, settings)


def main(
    argv: Sequence[str] | None = None,
    *,
    register: Callable[[Registry], None] | None = None,
    app_factory: str = APP_FACTORY,
) -> int:
    """Run the command line; return the process exit code.

    `register` (stdio) and `app_factory` (HTTP) replace the project's tools, for test servers;
    settings are checked against what `register` adds, so the two must add the same.
    """
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        from .replay_cli import replay

        return replay(
            args.audit_file,
            request_id=args.request_id,
            url=args.url,
            headers=args.header,
            execute=args.execute,
            allow_incomplete=args.allow_incomplete,
        )
    if args.command == "smoke":
        # Before the settings load: it checks a server elsewhere, whatever this environment sets.
        from .smoke_cli import smoke

        return smoke(
            args.url,
            key=args.key,
            metrics_url=args.metrics_url,
            phrase=args.phrase,
            skip_metrics=args.skip_metrics,
        )
    if args.command == "lock-tools":
        # Before the settings load: the snapshot is of the code, whatever this environment sets.
        from .lock_cli import lock_tools

        return lock_tools(args.path, check=args.check)
    if args.command == "scan-tools":
        from .scan_cli import scan_tools

        return scan_tools(args.waivers)
    # Worker processes re-read the environment, so command-line overrides travel through it.
    for option, field in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS")):
        value = getattr(args, option, None)
        if value is not None:
            os.environ[f"{ENV_PREFIX}HTTP__{field}"] = str(value)
    unknown = unknown_sections(os.environ)  # reported with the settings' own problems: all at once
    try:
        settings = load_settings()
    except ValidationError as exc:
        print(describe_errors(exc, unknown), file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(describe_malformed_json(exc, unknown), file=sys.stderr)
        return 2
    if unknown:
        print(describe_problems(unknown), file=sys.stderr)
        return 2

    if args.command == "dev-setup":
        if args.new_key and not args.refresh:
            print("--new-key replaces the key of an existing .env: use it with --refresh.", file=sys.stderr)
            return 2
        return credentials_cli.dev_setup(Path(".env"), settings, refresh=args.refresh, new_key=args.new_key)
    if args.command == "gen-key":
        return credentials_cli.gen_key(settings, args.id, args.scope, args.expires_days)
    if args.command == "dev-token":
        return credentials_cli.dev_token(settings, args.scope, args.days)
    if args.command == "check-config":
        print(json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True))
        refused = report_problems(surface_problems(settings, register), refusing="Refusing to serve")
        if DEFAULT_TRANSPORT == "http":
            refused = report_problems(http_problems(settings) or listen_problems(settings)) or refused
        return refused

    configure_observability(
        level=settings.observability.log_level,
        json_lines=settings.json_logs,
        audit_sink=settings.observability.audit_sink,
        otlp_endpoint=settings.observability.otlp_endpoint,
        service_name=SERVER_NAME,
        stdio=args.transport == "stdio",
    )
    # HTTP workers build their own apps: a problem found there would be a traceback per worker.
    if report_problems(surface_problems(settings, register), refusing="Refusing to serve"):
        return 2
    if args.transport == "stdio":
        # Imported here so that check-config and --version stay fast.
        from .app import build_mcp_server
        from .transport.stdio import serve_stdio

        serve_stdio(build_mcp_server(settings) if register is None else build_mcp_server(settings, register=register))
        return 0
    if report_problems(http_problems(settings) or listen_problems(settings)):
        return 2
    from .transport.http_server import serve_http

    return serve_http(settings.http, app_factory, metrics_address(settings))
