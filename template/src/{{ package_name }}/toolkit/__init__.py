"""What a tool author uses: the registry, errors a model can act on, idempotency, untrusted content
and confined paths.

`from ..toolkit import Registry` is the seam between your `tools/` and the server. Services may
use the framework-free parts (`toolkit.idempotency`, `toolkit.safe_paths`) by their module path.
"""

from .failures import ActionableToolError, tool_failure, upstream_failure
from .idempotency import IdempotencyCache, IdempotencyInProgressError, IdempotencyKeyReusedError
from .registry import Registry, ToolRules, register_package
from .safe_paths import UnsafePathError, resolve_inside
from .untrusted import UntrustedText, untrusted_result

__all__ = [
    "ActionableToolError",
    "IdempotencyCache",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "Registry",
    "ToolRules",
    "UnsafePathError",
    "UntrustedText",
    "register_package",
    "resolve_inside",
    "tool_failure",
    "untrusted_result",
    "upstream_failure",
]
