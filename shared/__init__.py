"""ragworker core: everything but the Azure Functions wiring (which lives in function_app.py)."""
