"""Reachability of what the app depends on, for /api/health and the demo."""

from __future__ import annotations

from pydantic import BaseModel

from shared.errors import RagworkerError


class Component(BaseModel):
    ok: bool
    detail: str


class HealthReport(BaseModel):
    ok: bool
    provider: str
    database: Component
    model: Component


def check() -> HealthReport:
    """Never raises: a failing component is reported, not thrown."""
    from shared.runtime import get_services

    try:
        services = get_services()
    except Exception as exc:
        down = Component(ok=False, detail=f"start-up failed: {exc}")
        return HealthReport(ok=False, provider="unknown", database=down, model=down)
    database = _probe(services.db.ping)
    model = _probe(services.model.ping)
    return HealthReport(ok=database.ok and model.ok, provider=services.model.provider,
                        database=database, model=model)


def _probe(fn: object) -> Component:
    try:
        detail = fn()  # type: ignore[operator]
    except (RagworkerError, OSError, Exception) as exc:
        return Component(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return Component(ok=True, detail=str(detail))
