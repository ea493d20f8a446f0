"""How much traffic is accepted: rate limits, concurrency caps, timeouts.

An edge room: it imports nothing from transport, tools or services.
"""
