"""Who is calling: the tenant comes from the authenticated principal, never from the body.

App Service authentication puts the signed-in principal in ``x-ms-client-principal``
(base64 JSON). A plain header is trusted only when ALLOW_TENANT_HEADER is on, which the
settings refuse in production.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from shared.config import Settings
from shared.errors import UnauthorizedError

PRINCIPAL_HEADER = "x-ms-client-principal"
TENANT_HEADER = "x-tenant-id"
TENANT_CLAIMS = ("tenant", "extension_tenant", "tid", "http://schemas.microsoft.com/identity/claims/tenantid")
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def valid_tenant(value: str) -> str:
    """Tenant ids appear in blob paths and logs: keep them to a safe alphabet."""
    if not _TENANT_ID.match(value):
        raise UnauthorizedError("the tenant id is not valid")
    return value


def tenant_from_headers(headers: Mapping[str, str], settings: Settings) -> str:
    """The caller's tenant, from the principal; the dev header or default only in development."""
    lower = {k.lower(): v for k, v in headers.items()}
    encoded = lower.get(PRINCIPAL_HEADER)
    if encoded:
        try:
            principal = json.loads(base64.b64decode(encoded))
        except (binascii.Error, ValueError) as exc:
            raise UnauthorizedError("the client principal header is malformed") from exc
        claims = {c.get("typ"): c.get("val") for c in principal.get("claims", []) if isinstance(c, dict)}
        for claim in TENANT_CLAIMS:
            if claims.get(claim):
                return valid_tenant(str(claims[claim]))
        raise UnauthorizedError("the signed-in principal has no tenant claim")
    if settings.allow_tenant_header:
        return valid_tenant(lower.get(TENANT_HEADER) or settings.default_tenant)
    if settings.environment == "development":
        return settings.default_tenant
    raise UnauthorizedError("no authenticated principal: enable App Service authentication")
