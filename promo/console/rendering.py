"""Pages: Jinja2 templates rendered in the viewer's language.

One environment for the console, autoescaping everything. Its gettext
callables (``{% trans %}``, ``_()``) read the page's catalogue from a context
variable set while the page renders, so one environment serves every
language at once. Templates get ``fmt`` (``promo.console.i18n.Formats``) for
money, numbers and dates, and ``csrf_token`` for their forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from babel.support import NullTranslations
from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState

from promo.console import i18n
from promo.console.navigation import menu, notice
from promo.people.service import Viewer

_catalogue: ContextVar[NullTranslations] = ContextVar("console_catalogue")


class _CurrentCatalogue:
    """The gettext functions Jinja2 is given, answering from the page's catalogue."""

    def gettext(self, message: str) -> str:
        return _catalogue.get(i18n.translations(i18n.DEFAULT)).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _catalogue.get(i18n.translations(i18n.DEFAULT)).ngettext(singular, plural, n)


def gettext(message: str) -> str:
    """Translate a message written in Python (a flash, a form error) for the page."""
    return _CurrentCatalogue().gettext(message)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("promo.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["zip"] = lambda left, right: zip(left, right, strict=True)
    env.install_gettext_translations(_CurrentCatalogue(), newstyle=True)  # type: ignore[attr-defined]
    return env


ENVIRONMENT = _environment()


def viewer_of(request: Request[Any, Any, Any]) -> Viewer | None:
    viewer: Viewer | None = request.scope.get("state", {}).get("viewer")
    return viewer


def language_of(request: Request[Any, Any, Any]) -> str:
    viewer = viewer_of(request)
    return i18n.negotiate(viewer.locale if viewer else None, request.headers.get("accept-language"))


def render(request: Request[Any, Any, Any], template: str, context: Mapping[str, Any]) -> str:
    language = language_of(request)
    viewer = viewer_of(request)
    token = _catalogue.set(i18n.translations(language))
    try:
        return ENVIRONMENT.get_template(template).render(
            {
                "viewer": viewer,
                "menu": menu(viewer.role if viewer else None),
                "path": request.url.path,
                "lang": language,
                "fmt": i18n.Formats(language),
                "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
                "errors": {},
                "form": {},
                "notice": notice(request.query_params.get("notice")),
                **context,
            }
        )
    finally:
        _catalogue.reset(token)


def page(
    request: Request[Any, Any, Any],
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """The HTML response of ``template`` for this request."""
    return Response(
        render(request, template, context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers=dict(headers or {}),
    )
