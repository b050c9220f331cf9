"""Access to the app's registered functions; ``get_functions()`` may run only once per app."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import function_app


@lru_cache(maxsize=1)
def _functions() -> dict[str, Any]:
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def function_named(name: str) -> Any:
    """The registered function object (``.get_user_function()`` is the handler)."""
    return _functions()[name]


def handler(name: str) -> Any:
    return function_named(name).get_user_function()


def bindings(name: str) -> list[dict[str, Any]]:
    """The bindings the host would read from function.json."""
    return list(json.loads(function_named(name).get_function_json())["bindings"])
