"""What a tool author uses: the registry, errors a model can act on, idempotency, partial results
of a fan-out, untrusted content and confined paths.

`from ..toolkit import Registry` is the seam between your `tools/` and the server. Services may
use the framework-free parts (`toolkit.idempotency`, `toolkit.safe_paths`) by their module path.
"""

from ..caching.policy import ToolCache
from .failures import ActionableToolError, tool_failure, upstream_failure
from .idempotency import (
    IdempotencyCache,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    IdempotencyUnavailableError,
)
from .partial import Gathered, MissingItem, gather_partial
from .registry import Registry, ToolRules, register_package
from .safe_paths import UnsafePathError, resolve_inside
from .untrusted import UntrustedText, untrusted_result

__all__ = [
    "ActionableToolError",
    "Gathered",
    "IdempotencyCache",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "IdempotencyUnavailableError",
    "MissingItem",
    "Registry",
    "ToolCache",
    "ToolRules",
    "UnsafePathError",
    "UntrustedText",
    "gather_partial",
    "register_package",
    "resolve_inside",
    "tool_failure",
    "untrusted_result",
    "upstream_failure",
]
