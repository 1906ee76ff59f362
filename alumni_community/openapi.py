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

__all__ = [
    "HANDLE_REF",
    "ID_CURSOR",
    "NOT_BLANK",
    "NO_NUL",
    "Operation",
    "decimal",
    "document",
    "operation",
    "request_schema",
    "text",
]

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
    #: The success body's media type (JSON unless it is, say, a calendar).
    media_type: str = "application/json"
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

#: An id in a path: what the router matches (see ``paths.bound_path_params``).
_ID: Mapping[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
#: Any other path segment (a session's public id): no NUL, slash or control character.
_TEXT: Mapping[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "pattern": "^[^\\x00-\\x1f/]+$",
}
#: Path parameters with a known shape, by name.
PATH_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "slug": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
        "description": "a room's slug",
    },
    "handle": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[^\\x00-\\x1f/\\s]+$",
        "description": "a member's handle",
    },
}


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
                    "description": "The session cookie that signing in sets.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "With the session, on unsafe methods: the csrf_token "
                    "that signing in (and GET /session) returns.",
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
            "schema": dict(PATH_PARAMS.get(name, _TEXT) if kind != "int" else _ID),
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
            "content": {"application/json": {"schema": request_schema(op.request)}},
        }
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {op.media_type: {"schema": dict(op.response)}}
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
    unsafe = bool(route.methods and route.methods - {"GET", "HEAD"})
    if not op.auth:
        body["security"] = []
    else:
        body["security"] = [{"session": [], "csrf": []}] if unsafe else [{"session": []}]
    return body


#: Text with no NUL character: every body refuses one (``requests.read_json``).
NO_NUL = "^[^\\u0000]*$"
#: Text with something besides white space in it, and no NUL: what the
#: services mean by "required" text. White space is what Python's
#: ``str.split`` splits on, which also counts U+001C..U+001F.
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000\\u001c-\\u001f][^\\u0000]*$"


def decimal(top: int) -> str:
    """A regular expression for the numbers 0 to ``top`` written in ASCII digits.

    Leading zeros are allowed up to ``top``'s own number of digits, as the
    readers (``requests.small_int``) allow them.
    """
    digits = str(top)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            lower = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            rest = len(digits) - i - 1
            tail = "" if not rest else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"
            options.append(digits[:i] + lower + tail)
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


#: An id as text (a keyset cursor): 0 to 2^31 - 1; empty means the first page.
ID_CURSOR: Mapping[str, Any] = {
    "type": "string",
    "pattern": f"^{decimal(2**31 - 1)}?$",
    "description": "the `next` of the page before (absent or empty: the first page)",
}


def text(max_length: int | None = None, **extra: Any) -> dict[str, Any]:
    """Required text: not blank, at most ``max_length`` characters."""
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": NOT_BLANK}
    if max_length is not None:
        schema["maxLength"] = max_length
    return {**schema, **extra}


#: A member named in a body: looked up ignoring case (unknown: 404, or 401 at sign-in).
HANDLE_REF: Mapping[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": NO_NUL,
    "description": "a member's handle, matched ignoring case",
}


def request_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A request body's schema as published: what every body reader also enforces.

    Objects take only the fields they name (unless they say otherwise: the
    reader refuses the others), and text never holds NUL.
    """
    out = dict(schema)
    kinds = out.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if "object" in kinds and "properties" in out:
        out.setdefault("additionalProperties", False)
        out["properties"] = {k: request_schema(v) for k, v in out["properties"].items()}
    if "array" in kinds and isinstance(out.get("items"), Mapping):
        out["items"] = request_schema(out["items"])
    if "string" in kinds and not {"pattern", "enum", "format"} & out.keys():
        out["pattern"] = NO_NUL
    return out


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
