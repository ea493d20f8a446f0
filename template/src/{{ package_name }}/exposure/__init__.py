"""What this deployment offers: the operator's allow and deny lists over tools, resources and prompts.

An edge room: it imports nothing from transport, tools or services. The lists apply before
scopes, on every transport: a disabled item is absent from every caller's lists and refused
by name, whatever the caller's credential grants.
"""
