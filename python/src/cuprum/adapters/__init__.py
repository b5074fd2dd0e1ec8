"""Telemetry adapters over ExecEvents: structured logging, metrics,
tracing. No telemetry library is imported; each defines the small protocol
it needs."""
