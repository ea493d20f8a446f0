"""MCP server package: `app.py` wires it, `cli.py` runs it."""

from importlib.metadata import PackageNotFoundError, version

from .project import DISTRIBUTION

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
