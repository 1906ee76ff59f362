"""Templates: the packaged ones, overridable file by file from ``Settings.templates_dir``."""

from __future__ import annotations

from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from ..errors import CommunityError
from ..identity import tokens
from ..identity.edge import current
from ..settings import Settings

__all__ = ["make_templates", "render", "render_error_page"]


def make_templates(settings: Settings) -> Jinja2Templates:
    loaders: list[jinja2.BaseLoader] = []
    if settings.templates_dir:
        loaders.append(jinja2.FileSystemLoader(settings.templates_dir))
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


def _viewer(request: Request) -> dict[str, Any]:
    """The signed-in member's handle and the CSRF token their forms carry (or None, "")."""
    state = current(request)
    settings: Settings | None = getattr(request.app.state, "settings", None)
    csrf = ""
    if state.session is not None and settings is not None and settings.secret_key:
        csrf = tokens.csrf_token(settings.secret_key, state.session.token_hash)
    return {
        "viewer_handle": state.member.handle if state.member is not None else None,
        "csrf_token": csrf,
    }


def render_error_page(scope: Scope, error: CommunityError, ref: str | None) -> Response:
    request = Request(scope)
    return render(
        request,
        "community/error.html",
        {"error": error, "ref": ref},
        status_code=error.status,
    )
