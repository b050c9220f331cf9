"""Regenerate the README settings table and local.settings.sample.json from the Settings class.

``python -m scripts.settings_docs`` rewrites both; ``--check`` exits 1 when either is stale,
which the test suite runs so documentation cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from shared.config import ROOT, Settings, setting_names

README = ROOT / "README.md"
SAMPLE = ROOT / "local.settings.sample.json"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
# Values the local Functions host needs that are not ours to read.
HOST_VALUES = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "PYTHON_ENABLE_INIT_INDEXING": "1",
    "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
}
# Sample values for local development (Azurite's well-known development account).
LOCAL_VALUES = {
    "DocumentsStorage": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "",
    "ALLOW_TENANT_HEADER": "true",
}


def _default(name: str) -> Any:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return ""
    else:
        value = field.default
    if isinstance(value, Path):
        return str(value.relative_to(ROOT)) if value.is_relative_to(ROOT) else str(value)
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def table() -> str:
    rows = ["| Setting | Default | What it does |", "|---|---|---|"]
    for name, env in setting_names().items():
        default = _default(name)
        shown = f"`{default}`" if default and len(default) <= 40 else ("(see description)" if default else "—")
        description = (Settings.model_fields[name].description or "").replace("|", "\\|")
        rows.append(f"| `{env}` | {shown} | {description} |")
    return "\n".join(rows)


def sample() -> str:
    values: dict[str, str] = dict(HOST_VALUES)
    for name, env in setting_names().items():
        values[env] = LOCAL_VALUES.get(env, _default(name))
    return json.dumps({"IsEncrypted": False, "Values": values}, indent=2) + "\n"


def render_readme(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    readme = README.read_text("utf-8")
    wanted_readme, wanted_sample = render_readme(readme), sample()
    current_sample = SAMPLE.read_text("utf-8") if SAMPLE.exists() else ""
    if "--check" in argv:
        stale = [p.name for p, ok in ((README, readme == wanted_readme), (SAMPLE, current_sample == wanted_sample))
                 if not ok]
        if stale:
            print("stale: " + ", ".join(stale) + " (run: python -m scripts.settings_docs)")
            return 1
        return 0
    README.write_text(wanted_readme, "utf-8")
    SAMPLE.write_text(wanted_sample, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
