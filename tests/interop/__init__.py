"""Rendered projects driven by real clients and servers from outside Python: the official TypeScript
client, the MCP Inspector CLI and the MCP conformance suite (Node 22, provisioned into .cache/)."""
