"""Logs (and later metrics, audit and tracing): an edge room that imports nothing inward."""
