"""Test access to the app's function handlers (see scripts/invoke.py)."""

from scripts.invoke import bindings, function_named, handler, http_request, service_bus_message

__all__ = ["bindings", "function_named", "handler", "http_request", "service_bus_message"]
