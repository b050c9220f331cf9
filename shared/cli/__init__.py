"""Operator commands (``python -m shared <command>``), one module per capability.

Each module exposes ``register(subparsers)`` adding its commands; each command's handler
takes the parsed arguments and returns an exit code.
"""
