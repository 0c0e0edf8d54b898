"""Pages: Jinja2 templates, rendered by Litestar's template support in the
viewer's language.

One environment for the console, autoescaping everything, handed to
Litestar (``template_config``). Its gettext callables (``{% trans %}``,
``_()``) take the page's language from the template's own context
(``lang``), so one environment serves every language at once and nothing
is kept between requests. Templates get ``fmt`` (``promo.console.i18n.Formats``)
for money, numbers and dates, and ``csrf_token`` for their forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar import Request
from litestar.enums import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.utils.scope.state import ScopeState

from promo.console import i18n
from promo.console.navigation import menu, notice
from promo.people.service import Viewer


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.translations(context.get("lang", i18n.DEFAULT)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(context.get("lang", i18n.DEFAULT)).ngettext(singular, plural, n)


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
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


ENVIRONMENT = _environment()


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's template support: the console's environment."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(ENVIRONMENT))


def viewer_of(request: Request[Any, Any, Any]) -> Viewer | None:
    viewer: Viewer | None = request.scope.get("state", {}).get("viewer")
    return viewer


def language_of(request: Request[Any, Any, Any]) -> str:
    viewer = viewer_of(request)
    return i18n.negotiate(viewer.locale if viewer else None, request.headers.get("accept-language"))


def context_of(request: Request[Any, Any, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """What every page's template sees, then the page's own ``context``."""
    language = language_of(request)
    viewer = viewer_of(request)
    return {
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


def page(
    request: Request[Any, Any, Any],
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Template:
    """The HTML page of ``template`` for this request."""
    return Template(
        template_name=template,
        context=context_of(request, context),
        status_code=status_code,
        headers=dict(headers or {}),
        media_type=MediaType.HTML,
    )
