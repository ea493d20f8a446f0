"""How requests arrive: Streamable HTTP, stdio, and the health routes."""
