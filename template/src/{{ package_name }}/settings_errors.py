"""The configuration mistakes pydantic-settings lets through or cannot name, by variable.

It decodes list, dict and model settings as JSON and, when one does not parse, raises an error
naming only the top-level group ("auth"); and it ignores an environment variable whose section
does not exist (`..._HTTPP__PORT`), since it only looks up the fields it has. This finds those
variables as the user wrote them, so the error can name them.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel

from .project import ENV_PREFIX
from .settings import Settings

COMPLEX_ORIGINS = (list, dict, set, frozenset, tuple)


def configured_variables(env_file: Path = Path(".env")) -> dict[str, str]:
    """The prefixed variables from `.env` and the environment (the environment wins, as in Settings)."""
    found = {name: value for name, value in dotenv_values(env_file).items() if value is not None}
    found.update(os.environ)
    return {name: value for name, value in found.items() if name.upper().startswith(ENV_PREFIX)}


def field_annotation(path: list[str]) -> Any:
    """The annotation of the nested settings field at `path` (lowercase names), or None."""
    model: type[BaseModel] = Settings
    annotation: Any = None
    for index, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        if index < len(path) - 1:
            nested = model_of(annotation)
            if nested is None:
                return None
            model = nested
    return annotation


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model an annotation (possibly `X | None`) names, if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def json_kind(annotation: Any) -> str | None:
    """`list` or `object` when the setting is decoded from JSON; None for plain values."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        origin = typing.get_origin(option) or option
        if origin in (list, set, frozenset, tuple):
            return "list"
        if origin is dict or model_of(option) is not None:
            return "object"
    return None


def malformed_json(variables: Mapping[str, str]) -> list[str]:
    """One problem per variable whose value must be JSON and does not parse (empty when fine)."""
    problems = []
    for name, value in sorted(variables.items()):
        kind = json_kind(field_annotation(name[len(ENV_PREFIX) :].lower().split("__")))
        if kind is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            example = '\'["first", "second"]\'' if kind == "list" else '\'{"name": "value"}\''
            problems.append(
                f"{name.upper()}: not valid JSON; this setting takes a JSON {kind}, e.g. {name.upper()}={example}"
            )
    return problems


def unknown_sections(environ: Mapping[str, str]) -> list[str]:
    """One problem per prefixed environment variable that names no setting at all (empty when fine).

    Misspelt keys inside a section, and anything unknown in `.env`, are refused by the settings
    model itself."""
    known = {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.split("__")[0] in known:
            continue
        close = difflib.get_close_matches(upper.split("__")[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{upper}: not a setting{hint}; check its spelling against .env.example, or remove it")
    return problems
