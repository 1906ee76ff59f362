"""Errors raised by alumni_community.

Every error the library raises on purpose derives from one root, and each
one knows the HTTP status and the stable ``code`` it is reported with. The
edges turn them into RFC 9457 problem documents
(``application/problem+json``); services raise them without knowing about
HTTP.

The tree::

    CommunityError                      500 internal_error
    ├── ConfigurationError (ValueError)  -- invalid Settings; never reaches a client
    ├── BadRequest                      400 bad_request
    ├── ValidationFailed                422 validation_failed  (+ errors per field)
    ├── NotAuthenticated                401 not_authenticated
    │   ├── InvalidCredentials          401 invalid_credentials
    │   └── HandleNeeded                401 handle_needed     (host user with no handle yet)
    ├── Forbidden                       403 forbidden
    │   ├── CsrfFailed                  403 csrf_failed
    │   ├── AccountInactive             403 account_inactive
    │   └── Silenced                    403 silenced          (read-only until a time)
    ├── NotFound                        404 not_found
    ├── MethodNotAllowed                405 method_not_allowed
    ├── Conflict                        409 conflict
    │   └── IdentifyingDetails          409 identifying_details (+ what was found)
    ├── PayloadTooLarge                 413 too_large
    ├── RateLimited                     429 rate_limited      (+ retry_after seconds)
    └── ServiceUnavailable              503 unavailable       (the database does not answer)
        ├── SchemaNotReady              503 schema_not_ready
        ├── StorageFull                 503 storage_full      (nothing more can be written)
        └── StorageReadOnly             503 read_only         (the database refuses writes)

``code`` values are part of the public contract: clients branch on them, so
they never change once released. Titles and details are for people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AccountInactive",
    "BadRequest",
    "CommunityError",
    "ConfigurationError",
    "Conflict",
    "CsrfFailed",
    "Forbidden",
    "HandleNeeded",
    "IdentifyingDetails",
    "InvalidCredentials",
    "MethodNotAllowed",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "SchemaNotReady",
    "ServiceUnavailable",
    "Silenced",
    "StorageFull",
    "StorageReadOnly",
    "ValidationFailed",
]


class CommunityError(Exception):
    """Root of every error alumni_community raises on purpose.

    ``detail`` is a sentence safe to show to the person who made the
    request: it must never carry another member's data, a host id, an IP
    address or anything internal.
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Something went wrong"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        #: Things the person must see even though the request was refused
        #: (crisis resources, above all); sent as ``notices`` in the problem.
        self.notices: list[dict[str, str]] = []
        super().__init__(self.detail)

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 members for this error (``instance`` is added by the edge)."""
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.notices:
            body["notices"] = self.notices
        return body

    def headers(self) -> dict[str, str]:
        """Extra response headers this error needs (``Retry-After``, ``Allow``)."""
        return {}


class ConfigurationError(CommunityError, ValueError):
    """Settings that cannot work. Raised when ``Settings`` is built, never per request.

    ``field`` names the setting so the message points at the line to fix.
    """

    code = "configuration_error"
    title = "Invalid configuration"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class BadRequest(CommunityError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class ValidationFailed(CommunityError):
    """The request was understood but some fields are wrong.

    ``errors`` maps each field name to the list of messages about it.
    """

    status = 422
    code = "validation_failed"
    title = "Some fields are not valid"

    DEFAULT_DETAIL = "Check the fields listed in errors."

    def __init__(self, errors: Mapping[str, Sequence[str]], detail: str | None = None) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__(detail or self.DEFAULT_DETAIL)

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "errors": self.errors}


class NotAuthenticated(CommunityError):
    status = 401
    code = "not_authenticated"
    title = "Sign in first"


class InvalidCredentials(NotAuthenticated):
    """Wrong handle or password: one message for both, so handles cannot be probed."""

    code = "invalid_credentials"
    title = "Handle or password is wrong"


class HandleNeeded(NotAuthenticated):
    """Signed in on the host site, but no handle chosen here yet."""

    code = "handle_needed"
    title = "Choose a handle first"


class Forbidden(CommunityError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class Silenced(Forbidden):
    """The member may read but not write, until ``until`` if it is set."""

    code = "silenced"
    title = "You cannot post right now"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "Missing or wrong CSRF token"


class AccountInactive(Forbidden):
    """Suspended or banned: the member may not sign in (until ``until``, if set)."""

    code = "account_inactive"
    title = "This account cannot sign in"


class NotFound(CommunityError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(CommunityError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"

    def __init__(self, allowed: Sequence[str] = (), detail: str | None = None) -> None:
        self.allowed = sorted(allowed)
        super().__init__(detail)

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)} if self.allowed else {}


class Conflict(CommunityError):
    status = 409
    code = "conflict"
    title = "Conflict"


class IdentifyingDetails(Conflict):
    """The text seems to reveal who someone is; send again with ``confirm: true`` to publish."""

    code = "identifying_details"
    title = "This may reveal who someone is"

    def __init__(self, found: Sequence[str]) -> None:
        self.found = sorted(set(found))
        super().__init__(
            "It looks like this names "
            + ", ".join(_KIND_WORDS.get(k, k) for k in self.found)
            + ". Remove it, or send again with confirm: true to publish anyway."
        )

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "found": self.found}


_KIND_WORDS = {
    "phone": "a phone number",
    "email": "an e-mail address",
    "address": "a street address",
}


class PayloadTooLarge(CommunityError):
    status = 413
    code = "too_large"
    title = "Request too large"


class RateLimited(CommunityError):
    """Too many attempts; ``retry_after`` is whole seconds until a retry may succeed."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail or f"Try again in {self.retry_after} seconds.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(CommunityError):
    status = 503
    code = "unavailable"
    title = "Temporarily unavailable"
    #: Seconds a client should wait before trying again: a database restart
    #: or failover takes seconds; sooner would only add load while it comes back.
    retry_after = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SchemaNotReady(ServiceUnavailable):
    """The database schema is older than this version of the library."""

    code = "schema_not_ready"
    #: An operator has to act first: asking again every few seconds helps nobody.
    retry_after = 60
    title = "The community's database needs migrating"


class StorageFull(ServiceUnavailable):
    """The database has no room left (a full disk, SQLite's page limit, PostgreSQL's disk).

    Reading still works; writing does again once an operator makes room.
    """

    code = "storage_full"
    #: An operator has to act first: asking again every few seconds helps nobody.
    retry_after = 60
    title = "The community cannot store anything more right now"


class StorageReadOnly(ServiceUnavailable):
    """The database refuses writes (a read-only file or file system, a standby server).

    Reading still works; writing does again once the database is writable.
    """

    code = "read_only"
    #: An operator has to act first: asking again every few seconds helps nobody.
    retry_after = 60
    title = "The community is read-only right now"
