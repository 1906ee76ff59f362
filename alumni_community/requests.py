"""Reading request bodies safely: size-capped, JSON only, clear errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from .errors import BadRequest, PayloadTooLarge, ValidationFailed

__all__ = ["flag_param", "id_cursor", "read_body", "read_json", "small_int", "string_fields"]

#: The largest id a database integer column holds (PostgreSQL's ``integer``).
MAX_ID = 2**31 - 1


async def read_json(request: Request, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx.

    Reads at most ``max_bytes`` (then ``413 too_large`` without buffering the
    rest), requires ``Content-Type: application/json``, and an object at the
    top level (every endpoint takes named fields).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send the body as JSON with Content-Type: application/json.")
    body = await read_body(request, max_bytes=max_bytes)
    try:
        data = json.loads(body, parse_float=_number)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    declared = _declared_fields(request)
    unknown = sorted(set(data) - declared) if declared is not None else []
    if unknown:
        # A misspelt field would otherwise be dropped without a word.
        raise ValidationFailed({name[:64]: ["is not a field this takes"] for name in unknown[:20]})
    with_nul = sorted(name for name, value in data.items() if _has_nul(value))
    if with_nul:
        # PostgreSQL cannot store NUL in text, and no person types one.
        raise ValidationFailed({name: ["must not contain NUL characters"] for name in with_nul})
    return data


def _number(text: str) -> int | float:
    """A JSON number written with a fraction or an exponent; a whole one reads as ``int``.

    JSON does not tell ``3.0`` from ``3`` (nor does JSON Schema's ``integer``),
    and the services take a whole number as ``isinstance(value, int)``.
    """
    value = float(text)
    return int(value) if value.is_integer() else value


def _declared_fields(request: Request) -> set[str] | None:
    """The fields the endpoint's published request schema names (None: it takes any)."""
    op = getattr(request.scope.get("endpoint"), "__openapi__", None)
    schema = getattr(op, "request", None) or {}
    if "properties" not in schema or schema.get("additionalProperties", False):
        return None
    return set(schema["properties"])


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The request's body, or ``413 too_large`` as soon as it passes ``max_bytes``.

    Counted as it streams in, so a body sent without ``Content-Length``
    (chunked) is held to the same limit as one that declares its size.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def string_fields(data: dict[str, Any], *names: str, optional: tuple[str, ...] = ()) -> list[str]:
    """The named fields as strings, or one ``ValidationFailed`` listing every problem.

    Optional fields come back as "" when absent.
    """
    errors: dict[str, list[str]] = {}
    values: list[str] = []
    for name in (*names, *optional):
        value = data.get(name)
        if value is None and name in optional:
            values.append("")
        elif not isinstance(value, str) or (name in names and value == ""):
            errors[name] = ["is required" if value in (None, "") else "must be text"]
            values.append("")
        else:
            values.append(value)
    if errors:
        raise ValidationFailed(errors)
    return values


def small_int(raw: str) -> int | None:
    """``raw`` as a whole number a database id can be, or None.

    ASCII digits only (``str.isdigit`` also takes "²" and other digits
    ``int`` refuses), and at most ``MAX_ID`` (PostgreSQL refuses more).
    """
    if not raw or len(raw) > 10 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def id_cursor(raw: str | None) -> int | None:
    """A keyset cursor that is an id, or None when there is none; anything else is 422."""
    if not raw:
        return None
    value = small_int(raw)
    if value is None:
        raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]})
    return value


def flag_param(params: Mapping[str, str], name: str) -> bool:
    """A yes-or-no query parameter: ``true`` or ``1``, ``false`` or ``0``; absent is no.

    Anything else is 422, so a misspelt value is not taken as "no" without a word.
    """
    raw = params.get(name)
    if raw is None or raw in ("false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ValidationFailed({name: ["true or false"]})
