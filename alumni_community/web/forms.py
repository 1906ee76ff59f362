"""What every page handler shares: the services, forms, CSRF, and refusals in human words.

A page handler reads its form with ``member_form`` (the signed-in member and
a form whose CSRF token matched, or the response refusing it), calls a
service, and on a ``CommunityError`` shows the form again with ``refused``
(field messages next to the fields, anything else as one sentence, crisis
notices kept) or, for a thing that is not there, ``error_page``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import (
    BadRequest,
    CommunityError,
    CsrfFailed,
    IdentifyingDetails,
    RateLimited,
    ValidationFailed,
)
from ..identity import tokens
from ..identity.edge import client_address, client_label, current, session_cookie_header
from ..identity.models import Member, Session
from ..identity.service import Accounts
from ..moderation.service import Notice
from ..requests import read_body
from ..rooms.service import Rooms
from ..settings import Settings
from .templating import error_words, render

if TYPE_CHECKING:
    from ..app import Community

__all__ = [
    "accounts_of",
    "client_info",
    "community_of",
    "csrf_ok",
    "error_notices",
    "error_page",
    "field_messages",
    "member_form",
    "no_nul",
    "problem_message",
    "read_form",
    "refused",
    "rooms_of",
    "same_origin",
    "settings_of",
    "signed_in",
    "text",
    "to_sign_in",
    "with_cookie",
]

#: Field names as people read them, for messages like "Handle is taken".
LABELS = {
    "handle": "Handle",
    "password": "Password",
    "title": "Title",
    "body": "Your message",
    "confirm": "Publish anyway",
    "cursor": "Page",
    "bio": "Bio",
    "sobriety_date": "Sobriety date",
    "new_password": "New password",
}
_VERB_STARTS = ("is ", "are ", "must ", "may ", "looks ", "contains ", "has ")


def community_of(request: Request) -> Community:
    community: Community = request.app.state.community
    return community


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.community.accounts
    return accounts


def rooms_of(request: Request) -> Rooms:
    service: Rooms = request.app.state.community.rooms
    return service


def field_messages(
    error: ValidationFailed | Mapping[str, list[str]],
    labels: Mapping[str, str] | None = None,
    *,
    beside_label: bool = False,
) -> dict[str, list[str]]:
    """Each field's messages as sentences: "Handle is taken", "Title: 1 to 200 characters".

    ``labels`` names a page's own fields (over the common ones). With
    ``beside_label``, a message that is not a sentence about the field is
    only capitalised ("Say why: ...") rather than prefixed with the label,
    for forms that show it right under the label. The API's "or null" for
    an optional value reads "or leave it empty" on a form.
    """
    errors = error.errors if isinstance(error, ValidationFailed) else error
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        label = (labels or {}).get(name) or LABELS.get(name, name.replace("_", " ").capitalize())
        out[name] = [
            (
                f"{label} {m}"
                if m.startswith(_VERB_STARTS)
                else (m[:1].upper() + m[1:] if beside_label else f"{label}: {m}")
            ).replace(", or null", ", or leave it empty")
            for m in messages
        ]
    return out


def problem_message(error: CommunityError) -> str:
    """A refusal in human words (never its code)."""
    if isinstance(error, RateLimited):
        seconds = error.retry_after
        wait = (
            f"{seconds} second{'s' if seconds != 1 else ''}"
            if seconds < 120
            else f"{(seconds + 59) // 60} minutes"
        )
        return f"That was a lot in a short time. Please wait {wait} and try again."
    if isinstance(error, IdentifyingDetails):
        return error.detail.replace(
            "send again with confirm: true to publish anyway",
            'tick "publish anyway" and send again',
        )
    return error.detail


def error_notices(error: CommunityError) -> list[Notice]:
    """Notices a refusal still carries (crisis resources above all); their html is the server's."""
    return [Notice(n["kind"], n["html"]) for n in error.notices]


def error_page(request: Request, error: CommunityError) -> Response:
    response = render(
        request,
        "community/error.html",
        {"error": error, "ref": None, **error_words(error)},
        status_code=error.status,
    )
    for name, value in error.headers().items():
        response.headers[name] = value
    return response


def to_sign_in(request: Request) -> Response:
    """Where a visitor without a member goes: sign-in, or, for someone the host
    site says is signed in but who has no handle here yet, the handle picker
    (a sign-in form would ask for a password they never had)."""
    name = "page:signin"
    state = current(request)
    if state.member is None and state.host_user_id is not None:
        name = "page:pick_handle"
    return RedirectResponse(str(request.url_for(name).path), status_code=303)


#: More fields than any of our forms has; a body with more is refused.
MAX_FORM_FIELDS = 200


async def read_form(request: Request) -> FormData:
    """The form a page posted: URL-encoded, at most ``max_body_bytes`` and ``MAX_FORM_FIELDS``.

    The body is counted as it streams in (a chunked body has no
    Content-Length to check first) and parsed here: no page takes files, so
    a multipart body, which could spill uploads to disk, is refused.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("Send the form as the page does (application/x-www-form-urlencoded).")
    body = await read_body(request, max_bytes=settings_of(request).max_body_bytes)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read; reload the page and try again.") from None
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def no_nul(**values: str) -> None:
    """PostgreSQL cannot store NUL in text, and no person types one (as the API refuses it)."""
    with_nul = [name for name, value in values.items() if "\x00" in value]
    if with_nul:
        raise ValidationFailed({name: ["must not contain NUL characters"] for name in with_nul})


def same_origin(request: Request) -> bool:
    """The form came from one of our own pages (or an origin the host allows)."""
    offered = request.headers.get("origin")
    if offered is None or offered == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        offered = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.url.netloc}"
    return offered == own or offered in settings_of(request).allowed_origins


def csrf_ok(request: Request, session: Session, form: FormData) -> bool:
    secret = settings_of(request).secret_key
    assert secret is not None
    return tokens.csrf_matches(secret, session.token_hash, text(form, "csrf_token") or None)


async def member_form(request: Request) -> tuple[Member, FormData] | Response:
    """The signed-in member and their form, or the response refusing it."""
    state = current(request)
    if state.member is None or state.session is None:
        if state.refusal is not None:
            return error_page(request, state.refusal)
        return to_sign_in(request)
    form = await read_form(request)
    if not csrf_ok(request, state.session, form):
        return error_page(
            request,
            CsrfFailed("This form has expired. Go back, reload the page and send it again."),
        )
    return state.member, form


def client_info(request: Request) -> dict[str, str]:
    return {
        "ip": client_address(request),
        "client": client_label(request.headers.get("user-agent", "")),
    }


def with_cookie(request: Request, response: Response, token: str | None) -> Response:
    response.headers.append(
        "set-cookie", session_cookie_header(settings_of(request), request.scope, token)
    )
    return response


def signed_in(request: Request) -> Member | Response:
    """The signed-in member, or the page to show instead (sign in; a suspension's refusal)."""
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else to_sign_in(request)
    return state.member


async def refused(
    request: Request, error: CommunityError, again: Any, values: dict[str, str]
) -> Response:
    """Show the form again with what was wrong, keeping what the member wrote."""
    errors = field_messages(error) if isinstance(error, ValidationFailed) else {}
    message = None if errors else problem_message(error)
    response: Response = await again(
        form=values,
        errors=errors,
        message=message,
        notices=error_notices(error),
        ask_confirm=isinstance(error, IdentifyingDetails),
        status_code=error.status,
    )
    for name, value in error.headers().items():
        response.headers[name] = value
    return response
