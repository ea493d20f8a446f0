"""Who is calling: API keys and/or OAuth access tokens, checked before any MCP work is done.

An edge room: it imports nothing from transport, tools or services.
"""
