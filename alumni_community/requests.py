"""Reading request bodies safely: size-capped, JSON only, clear errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import BadRequest, PayloadTooLarge, ValidationFailed

__all__ = ["read_json"]


async def read_json(request: Request, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx.

    Reads at most ``max_bytes`` (then ``413 too_large`` without buffering the
    rest), requires ``Content-Type: application/json``, and an object at the
    top level (every endpoint takes named fields).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send the body as JSON with Content-Type: application/json.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    return data
