"""The OpenAPI document as committed in ``openapi/openapi.json``."""

from __future__ import annotations

import json

from promo.api_document import complete
from promo.app import create_app
from promo.settings import Settings


def render_openapi() -> str:
    """The document the app serves at /schema/openapi.json, in a stable text form."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return json.dumps(complete(app.openapi_schema.to_schema()), indent=2, sort_keys=True) + "\n"
