"""The OpenAPI document, generated from the API routes themselves.

Each endpoint declares what it does with ``@operation(...)``; ``document()``
walks the mounted routes, so a route without a declaration fails the test
that compares the two, and the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Route

from . import __version__

__all__ = ["Operation", "document", "operation"]

F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem document",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine-readable reason"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "ref": {"type": "string", "description": "reference id of an unexpected error"},
    },
}


@dataclass(frozen=True)
class Operation:
    summary: str
    #: Success status and the JSON schema of its body (None: no body).
    status: int = 200
    response: Mapping[str, Any] | None = None
    request: Mapping[str, Any] | None = None
    #: Error statuses this operation may answer with, besides 500.
    errors: tuple[int, ...] = ()
    #: Whether a member's session is required.
    auth: bool = True
    tags: tuple[str, ...] = ()
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Declare an endpoint's OpenAPI operation."""
    op = Operation(**kwargs)

    def decorate(endpoint: F) -> F:
        endpoint.__openapi__ = op  # type: ignore[attr-defined]
        return endpoint

    return decorate


_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def document(
    routes: Iterable[BaseRoute], *, server_url: str, title: str, cookie: str = "ac_session"
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        op: Operation | None = getattr(route.endpoint, "__openapi__", None)
        if op is None:
            continue
        path = _PARAM.sub(r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} API", "version": __version__},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie,
                    "description": "Unsafe methods also need the X-CSRF-Token header.",
                },
            },
        },
    }


def _operation(route: Route, op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operationId": route.name,
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": {},
    }
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer" if kind == "int" else "string"},
        }
        for name, kind in _PARAM.findall(route.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
        for name, schema in op.query.items()
    ]
    if params:
        body["parameters"] = params
    if op.request is not None:
        body["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(op.request)}},
        }
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": dict(op.response)}}
    body["responses"][str(op.status)] = success
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    # Every body is read the same way: malformed (400), too large (413), invalid (422).
    body_errors = (400, 413, 422) if op.request is not None else ()
    # With a session, an unsafe method without the CSRF token is refused (403).
    csrf = (403,) if op.auth and route.methods and route.methods - {"GET", "HEAD"} else ()
    statuses = {*op.errors, *body_errors, *csrf, *((401,) if op.auth else ()), 500}
    for status in sorted(statuses):
        body["responses"][str(status)] = {
            "description": _REASONS.get(status, "error"),
            "content": problem,
        }
    body["security"] = [{"session": []}] if op.auth else []
    return body


_REASONS = {
    400: "bad request",
    401: "not signed in, or wrong credentials",
    403: "not allowed",
    404: "not found",
    409: "conflict",
    413: "too large",
    422: "validation failed",
    429: "rate limited",
    500: "unexpected error (the body carries a reference id)",
    503: "temporarily unavailable",
}
