"""Templates: the packaged ones, overridable file by file from ``Settings.template_dirs``."""

from __future__ import annotations

from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import NoMatchFound
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from ..errors import CommunityError, ValidationFailed
from ..identity import tokens
from ..identity.edge import current
from ..identity.models import Member
from ..moderation.service import is_moderator
from ..settings import Settings

__all__ = ["make_templates", "render", "render_error_page"]


def make_templates(settings: Settings) -> Jinja2Templates:
    loaders: list[jinja2.BaseLoader] = []
    if settings.template_dirs:
        loaders.append(jinja2.FileSystemLoader(list(settings.template_dirs)))
    loaders.append(jinja2.PackageLoader("alumni_community.web", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        # Undefined variables are template bugs: fail loudly in tests.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["site_name"] = settings.site_name
    templates = Jinja2Templates(env=env)
    # Links are paths, not absolute URLs: behind a proxy the Host header and
    # scheme the app sees may not be the ones the browser used.
    env.globals["url_for"] = _url_path_for
    return templates


@jinja2.pass_context
def _url_path_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    request: Request = context["request"]
    return str(request.url_for(name, **params).path)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    # What the layout needs on every page; a page may say otherwise (a new session).
    context = {**_viewer(request), **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


#: The site navigation: (label, route name, who sees it). An entry whose
#: page this community does not serve is left out.
NAV: tuple[tuple[str, str, str], ...] = (
    ("Rooms", "page:rooms", "member"),
    ("Conversations", "page:conversations", "member"),
    ("Meetings", "page:meetings", "member"),
    ("Service", "page:board", "member"),
    ("Sponsorship", "page:sponsorship", "member"),
    ("Notifications", "page:notifications", "member"),
    ("Profile", "page:profile", "member"),
    ("Moderation", "page:moderation", "moderator"),
    ("Crisis help", "page:crisis", "anyone"),
)


def navigation(request: Request, member: Member | None) -> list[dict[str, Any]]:
    """The nav entries this viewer sees, with their paths and which one is current."""
    items = []
    here = request.url.path
    for label, name, audience in NAV:
        if audience == "member" and member is None:
            continue
        if audience == "moderator" and (member is None or not is_moderator(member)):
            continue
        try:
            path = str(request.url_for(name).path)
        except NoMatchFound:
            continue
        items.append(
            {
                "label": label,
                "name": name,
                "path": path,
                "current": here == path or here.startswith(path.rstrip("/") + "/"),
            }
        )
    return items


def _viewer(request: Request) -> dict[str, Any]:
    """The signed-in member's handle, the CSRF token their forms carry, and the nav."""
    state = current(request)
    settings: Settings | None = getattr(request.app.state, "settings", None)
    csrf = ""
    if state.session is not None and settings is not None and settings.secret_key:
        csrf = tokens.csrf_token(settings.secret_key, state.session.token_hash)
    return {
        "viewer_handle": state.member.handle if state.member is not None else None,
        "viewer_is_moderator": state.member is not None and is_moderator(state.member),
        "csrf_token": csrf,
        "nav": navigation(request, state.member),
    }


#: Page headings for refusals whose API titles speak to programs, not people.
PAGE_TITLES = {
    "csrf_failed": "This form has expired",
    "validation_failed": "That did not look right",
    "bad_request": "That could not be read",
    "too_large": "That was too long",
}


def error_words(error: CommunityError) -> dict[str, str]:
    """The heading and sentence an error page shows: people's words, never codes."""
    title = PAGE_TITLES.get(error.code, error.title)
    detail = error.detail
    if isinstance(error, ValidationFailed) and detail == ValidationFailed.DEFAULT_DETAIL:
        detail = " ".join(
            f"{name.replace('_', ' ').capitalize()}: {message}"
            for name, messages in error.errors.items()
            for message in messages
        )
    return {"title": title, "detail": detail}


def render_error_page(scope: Scope, error: CommunityError, ref: str | None) -> Response:
    request = Request(scope)
    return render(
        request,
        "community/error.html",
        {"error": error, "ref": ref, **error_words(error)},
        status_code=error.status,
    )
