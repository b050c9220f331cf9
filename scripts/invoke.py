"""Call the app's function handlers the way the host would, without the host.

Used by the demo and the tests: real binding types in, real responses out. ``get_functions()``
may run only once per app, so every caller goes through the cache here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from starlette.requests import Request


@lru_cache(maxsize=1)
def _functions() -> dict[str, Any]:
    import function_app

    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def function_named(name: str) -> Any:
    """The registered function object (``.get_user_function()`` is the handler)."""
    return _functions()[name]


def handler(name: str) -> Any:
    return function_named(name).get_user_function()


def bindings(name: str) -> list[dict[str, Any]]:
    """The bindings the host would read from function.json."""
    return list(json.loads(function_named(name).get_function_json())["bindings"])


def http_request(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    tenant: str | None = None,
    path_params: dict[str, str] | None = None,
    query: str = "",
) -> Request:
    """A Starlette request as the Functions host's HTTP streaming proxy delivers it."""
    payload = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
    all_headers = {"content-type": "application/json", **(headers or {})}
    if tenant:
        all_headers["x-tenant-id"] = tenant
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "", "scheme": "http", "server": ("127.0.0.1", 7071),
        "client": ("127.0.0.1", 50000), "path_params": path_params or {},
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    return Request(scope, receive)


def service_bus_message(
    payload: Any, *, message_id: str | None = None, tenant: str | None = None, delivery_count: int = 1
) -> Any:
    """A Service Bus message binding (the full type: the top-level one drops fields)."""
    from azure.functions.servicebus import ServiceBusMessage

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if message_id is None and isinstance(payload, dict):
        message_id = str(payload.get("id"))
    return ServiceBusMessage(
        body=body, message_id=message_id or "message-1", delivery_count=delivery_count,
        application_properties={"tenant": tenant} if tenant else {}, user_properties={},
        content_type="application/json",
    )


def blob_binding(name: str, container: str, connection: str = "DocumentsStorage") -> Any:
    """The BlobClient the host injects for the SDK-type blob binding, built by the binding's own
    converter from the ``model_binding_data`` the host sends. The connection setting named here must
    be in the environment, as it is under the host."""
    from types import SimpleNamespace

    from azurefunctions.extensions.base import Datum
    from azurefunctions.extensions.bindings.blob import BlobClient as SdkBlobClient
    from azurefunctions.extensions.bindings.blob.blobClientConverter import BlobClientConverter

    content = json.dumps({"Connection": connection, "ContainerName": container, "BlobName": name})
    data = SimpleNamespace(version="1.0", source="AzureStorageBlobs", content_type="application/json",
                           content=content)
    return BlobClientConverter.decode(Datum(data, "model_binding_data"), trigger_metadata=None, pytype=SdkBlobClient)
