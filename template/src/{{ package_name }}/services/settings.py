"""Settings for your services: add fields here, read them as `{PREFIX}SERVICES__<FIELD>`.

This file belongs to you: the template seeds it once and never updates it.
"""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .example_docs import SAMPLE_DOCS


class ServiceSettings(BaseModel):
    """Configuration handed to `open_services` at start-up."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    report_step_seconds: float = Field(default=0.5, ge=0.0, le=60.0)
    """Simulated work per report section in the example report service."""

    idempotency_ttl_seconds: float = Field(default=24 * 3600, ge=1.0)
    """How long a destructive call's idempotency key is remembered."""

    docs_root: Path = SAMPLE_DOCS
    """Directory the example document tools read from (nothing outside it is reachable)."""

    docs_max_bytes: int = Field(default=64 * 1024, ge=1, le=16 * 1024 * 1024)
    """Largest document slice returned to a caller."""
